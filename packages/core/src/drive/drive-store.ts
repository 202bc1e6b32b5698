/**
 * The file drive's metadata (a tree of nodes per space, dead properties, sharing grants) and the DAV lock
 * table. Bytes live in a BlobStore; these ports hold only metadata, so every operation here is one
 * database transaction and a crash never leaves half a rename or half a copy visible.
 */

export type DriveSpaceKind = 'home' | 'group';

/** A drive root: an account's home, or a folder shared by a group (one per ministry or department). */
export interface DriveSpace {
  readonly id: string;
  /** The URL segment: the account's address for a home, the group's name for a group folder. */
  readonly name: string;
  readonly kind: DriveSpaceKind;
  readonly accountId: string | null;
  readonly groupId: string | null;
  readonly rootId: string;
  /** Group folders only (homes use the account's quota); null = unlimited. */
  readonly quotaBytes: number | null;
  readonly createdAt: Date;
}

export type DriveNodeKind = 'dir' | 'file';

export interface DriveNode {
  /** Stable across renames and moves (the sync clients' file id). */
  readonly id: string;
  readonly spaceId: string;
  /** null for a space's root. */
  readonly parentId: string | null;
  /** '' for a space's root. */
  readonly name: string;
  readonly kind: DriveNodeKind;
  /** SHA-256 of the content (files only). */
  readonly blobId: string | null;
  /** Bytes of a file; for a folder, the total of everything below it. */
  readonly size: number;
  readonly contentType: string | null;
  /**
   * Grows whenever the node or anything below it changes (content, name, mtime, members): folder ETags follow
   * it, and a folder's members are exactly determined by (id, spaceId, version), so listings can be cached.
   * Dead properties and grants do not change it.
   */
  readonly version: number;
  readonly createdAt: Date;
  /** The file's mtime (client-settable, e.g. X-OC-Mtime); for a folder, when a member was last bound or unbound. */
  readonly modifiedAt: Date;
}

/** A dead property: `name` in Clark notation, `value` the whole property element serialized as XML. */
export interface DeadProperty {
  readonly name: string;
  readonly value: string;
}

export type PropertyPatch = { readonly op: 'set'; readonly name: string; readonly value: string } | { readonly op: 'remove'; readonly name: string };

export type GrantAccess = 'read' | 'write';

export interface SpaceFilter {
  readonly accountIds?: readonly string[];
  readonly groupIds?: readonly string[];
  readonly grantedTo?: readonly GrantPrincipal[];
}

export interface GrantPrincipal {
  readonly kind: 'account' | 'group';
  readonly id: string;
}

/** Read or read-write access to a node and everything below it. */
export interface DriveGrant {
  readonly nodeId: string;
  readonly principal: GrantPrincipal;
  readonly access: GrantAccess;
}

export interface NewGroupSpace {
  /** URL segment: lower-case letters, digits, '.', '_' and '-' (the group's name). */
  name: string;
  groupId: string;
  quotaBytes?: number | null;
}

export interface FileContent {
  blobId: string;
  size: number;
  contentType?: string | null;
  /** The client's mtime (X-OC-Mtime); default now. */
  modifiedAt?: Date;
}

/** Checked inside the write's transaction (no lost update between a client's If-Match and the write). */
export interface WriteExpectation {
  /** Fail with ConflictError(detail.reason='precondition') unless the node at the target has this version. */
  version?: number;
  /** 'absent': fail unless the name is free; 'present': fail unless it exists. */
  presence?: 'absent' | 'present';
}

export interface WriteOutcome {
  readonly node: DriveNode;
  readonly created: boolean;
}

export interface TransferOptions {
  overwrite: boolean;
  /** COPY only: 0 copies a folder without its members. */
  depth?: 0 | 'infinity';
}

export interface TransferOutcome {
  readonly node: DriveNode;
  /** True when an existing node at the destination was replaced. */
  readonly replaced: boolean;
}

export interface DescendantEntry {
  readonly node: DriveNode;
  /** Names from the starting node (excluded) down to this one. */
  readonly path: readonly string[];
}

/** Longest node name, in UTF-16 code units (what Windows allows). */
export const DRIVE_MAX_NAME_LENGTH = 255;

/**
 * Drive metadata. Names are validated here (non-empty, at most 255 characters, no '/', NUL or control
 * characters, not '.' or '..'), so every implementation refuses the same. Errors: NotFoundError for a
 * missing node or space, ConflictError for a taken name, a missing parent or a failed expectation
 * (detail.reason: 'exists' | 'no-parent' | 'precondition' | 'not-a-folder' | 'cycle' | 'is-folder'),
 * QuotaExceededError when the owner's quota would be passed, TooLargeError when a copy exceeds its limit.
 */
export interface DriveStore {
  /** The account's home, created on first use. Idempotent and safe under concurrency. */
  ensureHome(account: { readonly id: string; readonly address: string }): Promise<DriveSpace>;
  createGroupSpace(input: NewGroupSpace): Promise<DriveSpace>;
  findSpace(name: string): Promise<DriveSpace | null>;
  getSpace(id: string): Promise<DriveSpace>;
  /**
   * Homes of these accounts, group folders of these groups, and spaces whose root has a grant to one of
   * `grantedTo` (what a user's list of drives shows: group folders granted to them or to their groups).
   */
  listSpaces(filter: SpaceFilter): Promise<DriveSpace[]>;
  removeSpace(id: string): Promise<void>;

  /** The nodes from `fromId` (usually a space's root) along `names`, first node first, stopping at the first name not found. */
  resolve(fromId: string, names: readonly string[]): Promise<DriveNode[]>;
  /** A space by name and the nodes from its root along `names` (as resolve), in one round trip; null without such a space. */
  locate(spaceName: string, names: readonly string[]): Promise<{ space: DriveSpace; chain: DriveNode[] } | null>;
  getNode(id: string): Promise<DriveNode | null>;
  /** Members of a folder ordered by name: one indexed query. */
  children(folderId: string): Promise<DriveNode[]>;
  /** Everything below a folder, parents before members; 'too-many' past `limit` nodes. */
  descendants(folderId: string, limit: number): Promise<DescendantEntry[] | 'too-many'>;
  /** Dead properties of many nodes at once (one query). */
  properties(nodeIds: readonly string[]): Promise<Map<string, DeadProperty[]>>;
  /** Dead properties of every member of a folder (one indexed query: PROPFIND Depth 1). */
  childProperties(folderId: string): Promise<Map<string, DeadProperty[]>>;

  createFolder(parentId: string, name: string, options?: { at?: Date }): Promise<DriveNode>;
  /** Create or replace a file's content; the dead properties of a replaced file are kept. */
  writeFile(parentId: string, name: string, content: FileContent, expect?: WriteExpectation): Promise<WriteOutcome>;
  /** Set a file's mtime (a client's PROPPATCH of getlastmodified or Win32LastModifiedTime); bumps versions like any change. */
  setModified(nodeId: string, at: Date): Promise<DriveNode>;
  /** All set/remove operations in document order, or none (atomic). */
  patchProperties(nodeId: string, patch: readonly PropertyPatch[]): Promise<void>;
  /** Remove a node and everything below it. A space's root cannot be removed. */
  remove(nodeId: string, expect?: { version?: number }): Promise<void>;
  move(nodeId: string, targetParentId: string, name: string, options: TransferOptions): Promise<TransferOutcome>;
  /** Copies share blobs (content-addressed); dead properties are copied, grants are not. */
  copy(nodeId: string, targetParentId: string, name: string, options: TransferOptions & { limit?: number }): Promise<TransferOutcome>;

  /** Grants on these nodes (one query); access to a node is the union over it and its ancestors. */
  grantsOn(nodeIds: readonly string[]): Promise<DriveGrant[]>;
  /** Replace every grant on a node. */
  setGrants(nodeId: string, grants: readonly { principal: GrantPrincipal; access: GrantAccess }[]): Promise<void>;

  /** Bytes used by a space and its limit (a home: the account's total across drive and mail and its quota). */
  usage(spaceId: string): Promise<{ used: number; quota: number | null }>;
  /** Which of these blob ids some node still uses (for garbage collection). */
  referencedBlobs(blobIds: readonly string[]): Promise<Set<string>>;
}

export type LockScope = 'exclusive' | 'shared';

/** A WebDAV write lock (RFC 4918 §6), on a path of the DAV namespace, shared by every node of a cluster. */
export interface DavLock {
  /** e.g. `opaquelocktoken:<uuid>`. */
  readonly token: string;
  /** Canonical DAV path of the lock root: `/`-separated decoded segments, no trailing slash. */
  readonly root: string;
  readonly depth: 0 | 'infinity';
  readonly scope: LockScope;
  /** The client's DAV:owner element serialized as XML, kept verbatim. */
  readonly owner: string | null;
  /** The account that took the lock: only it may use or remove the token. */
  readonly principalId: string;
  readonly timeoutSeconds: number;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export type NewLock = Omit<DavLock, 'createdAt' | 'expiresAt'>;

/**
 * Locks live in the database so that they survive restarts and bind every node. Expired locks are never
 * returned. Paths compare exactly (case-sensitive); `covering` follows depth-infinity locks of ancestors.
 */
export interface LockStore {
  /**
   * Take a lock unless a live lock conflicts (an exclusive one anywhere it applies, or any lock when this one
   * is exclusive): on the root itself, on an ancestor with depth infinity, or, for a depth-infinity lock, below
   * the root. Conflict → ConflictError with detail.locks = the conflicting roots. Atomic across nodes.
   */
  acquire(lock: NewLock, now: Date): Promise<DavLock>;
  /** Extend a live lock; null when unknown or expired. */
  refresh(token: string, timeoutSeconds: number, now: Date): Promise<DavLock | null>;
  /** false when there was no such lock. */
  release(token: string): Promise<boolean>;
  get(token: string, now: Date): Promise<DavLock | null>;
  /**
   * Live locks that apply to `path`: rooted there, or depth-infinity locks rooted at an ancestor. Given
   * several paths, the locks that apply to any of them, in one read (a PUT checks the new member and its
   * folder).
   */
  covering(path: string | readonly string[], now: Date): Promise<DavLock[]>;
  /** Live locks rooted strictly below `path`. */
  below(path: string, now: Date): Promise<DavLock[]>;
  /** Drop locks rooted at `path` and below it (after a DELETE or MOVE); returns how many. */
  removeTree(path: string): Promise<number>;
  purgeExpired(now: Date): Promise<number>;
}
