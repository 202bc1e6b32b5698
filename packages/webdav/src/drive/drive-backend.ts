import {
  conflictReason,
  isPalabreError,
  type BlobStore,
  type DeadProperty,
  type DirectoryStore,
  type DriveGrant,
  type DriveNode,
  type DriveSpace,
  type DriveStore,
  type GrantAccess,
  type Logger,
  type MalwareScanner,
  type PropertyPatch,
  type WriteExpectation,
  type WriteOutcome,
} from '@palabre/core';
import type { Readable } from 'node:stream';
import { assertAnswerable, headerOf } from '../body.js';
import { DAV, DavError, PropertyPatchError } from '../errors.js';
import { canonicalAddress, davPath, type DavPath } from '../href.js';
import { findVisibleAccount, findVisibleGroup } from '../principals.js';
import {
  ALL_PRIVILEGES,
  NO_PRIVILEGES,
  READ_ONLY,
  READ_WRITE,
  type Ace,
  type DavBackend,
  type DavContext,
  type DavLookup,
  type DavResource,
  type NewCollectionOptions,
  type Privilege,
  type TransferRequest,
  type WriteRequest,
  virtualCollection,
} from '../resource.js';
import { contentTypeFor } from './content-type.js';
import { keptIn, ListingCache } from './listing-cache.js';

export const FILES = 'files';

type Access = 'none' | 'read' | 'write' | 'owner';
const RANK: Record<Access, number> = { none: 0, read: 1, write: 2, owner: 3 };
const PRIVILEGES: Record<Access, ReadonlySet<Privilege>> = { none: NO_PRIVILEGES, read: READ_ONLY, write: READ_WRITE, owner: ALL_PRIVILEGES };

export interface DriveData {
  readonly kind: 'drive';
  readonly space: DriveSpace | null;
  readonly node: DriveNode | null;
  readonly access: Access;
}

export interface DriveBackendOptions {
  store: DriveStore;
  blobs: BlobStore;
  directory: DirectoryStore;
  /** Largest single upload (bytes). Default 50 GiB. */
  maxUploadBytes?: number;
  /** Verify the SHA-256 of every whole download against its blob id (default true). */
  verifyDownloads?: boolean;
  /**
   * Scan every upload before it becomes a file (ClamAV): infected → 403, scanner unreachable → 503
   * with fail mode `closed`, through with `open`. The refused bytes stay unreferenced until the GC.
   */
  malware?: { readonly scanner: MalwareScanner; readonly failMode: 'open' | 'closed' };
}

const WRITABLE: ReadonlySet<string> = new Set([`{${DAV}}displayname`]);
const MEMO_GROUPS = Symbol('drive.groups');
const MEMO_SPACES = Symbol('drive.spaces');
const MEMO_USAGE = Symbol('drive.usage');

/** `"<12 hex of the id>-<version base 36>"`: changes with the content, and with anything below a folder. */
export function etagOf(node: DriveNode): string {
  return `"${node.id.replace(/-/g, '').slice(0, 12)}-${node.version.toString(36)}"`;
}

/** The version an If-Match entity tag stands for: the node's when it is the node's tag, else one no node has. */
function versionOfEtag(etag: string, node: DriveNode | null): number {
  return node && etagOf(node) === etag ? node.version : -1;
}

/**
 * The drive: `/files/<address>/` is an account's home (created on first use by its owner), `/files/<group>/`
 * a group folder. Metadata in the DriveStore, bytes in the BlobStore. Access: the home's owner has every
 * privilege; grants (RFC 3744 ACL, or a group folder's grant to its group) give read or read-write on a node
 * and everything below it; anyone else gets 403 on the whole space.
 */
export class DriveBackend implements DavBackend {
  /** Members are the same objects from one listing to the next while their folder's version holds (ListingCache). */
  readonly reusesResources = true;
  private readonly maxUpload: number;
  private readonly verifyDownloads: boolean;
  private readonly listings = new ListingCache();

  constructor(private readonly options: DriveBackendOptions) {
    this.maxUpload = options.maxUploadBytes ?? 50 * 1024 ** 3;
    this.verifyDownloads = options.verifyDownloads ?? true;
  }

  get store(): DriveStore {
    return this.options.store;
  }

  // ---------------------------------------------------------------- resolution and access

  private rootResource(): DavResource {
    return virtualCollection(davPath([FILES]), this, { kind: 'drive', space: null, node: null, access: 'read' } satisfies DriveData);
  }

  private async groupIds(ctx: DavContext): Promise<Set<string>> {
    let groups = ctx.memo.get(MEMO_GROUPS) as Promise<Set<string>> | undefined;
    if (!groups) {
      groups = this.options.directory.groupsOfAccount(ctx.principal.accountId).then((gs) => new Set(gs.map((g) => g.id)));
      ctx.memo.set(MEMO_GROUPS, groups);
    }
    return groups;
  }

  private async space(ctx: DavContext, name: string): Promise<DriveSpace | null> {
    let cache = ctx.memo.get(MEMO_SPACES) as Map<string, Promise<DriveSpace | null>> | undefined;
    if (!cache) ctx.memo.set(MEMO_SPACES, (cache = new Map()));
    let found = cache.get(name);
    if (!found) {
      found = (async () => {
        const space = await this.store.findSpace(name);
        if (space) return space;
        if (name === ctx.principal.address) {
          const home = await this.store.ensureHome({ id: ctx.principal.accountId, address: ctx.principal.address });
          ctx.log.info({ space: home.id }, 'drive.home.created');
          return home;
        }
        return null;
      })();
      cache.set(name, found);
    }
    return found;
  }

  /** Access to each node of a chain (root first): grants only ever add access going down. */
  private async accessAlong(ctx: DavContext, space: DriveSpace, chain: readonly DriveNode[]): Promise<Access[]> {
    if (space.kind === 'home' && space.accountId === ctx.principal.accountId) return chain.map(() => 'owner');
    const grants = await this.store.grantsOn(chain.map((n) => n.id));
    const groups = grants.some((g) => g.principal.kind === 'group') ? await this.groupIds(ctx) : new Set<string>();
    let access: Access = 'none';
    return chain.map((node) => {
      for (const g of grants) if (g.nodeId === node.id && this.applies(ctx, g, groups)) access = max(access, g.access);
      return access;
    });
  }

  private applies(ctx: DavContext, grant: DriveGrant, groups: ReadonlySet<string>): boolean {
    return grant.principal.kind === 'account' ? grant.principal.id === ctx.principal.accountId : groups.has(grant.principal.id);
  }

  resourceOf(space: DriveSpace, node: DriveNode, names: readonly string[], access: Access): DavResource {
    const dir = node.kind === 'dir';
    return {
      path: davPath([FILES, space.name, ...names]),
      collection: dir,
      etag: etagOf(node),
      lastModified: node.modifiedAt,
      createdAt: node.createdAt,
      contentLength: dir ? null : node.size,
      contentType: dir ? null : (node.contentType ?? 'application/octet-stream'),
      displayName: null,
      privileges: PRIVILEGES[access],
      backend: this,
      data: { kind: 'drive', space, node, access } satisfies DriveData,
    };
  }

  /** `/files/<address>/…` names one home whatever the address's spelling (see canonicalAddress). */
  canonical(path: DavPath): DavPath {
    const name = path.segments[1];
    if (name === undefined) return path;
    // File names in NFC (Finder sends them decomposed, Windows composed): one name, one file.
    const segments = [path.segments[0]!, canonicalAddress(name), ...path.segments.slice(2).map((s) => s.normalize('NFC'))];
    return segments.every((s, i) => s === path.segments[i]) ? path : davPath(segments);
  }

  async lookup(ctx: DavContext, path: DavPath): Promise<DavLookup> {
    const rest = path.segments.slice(1);
    if (rest.length === 0) return { resource: this.rootResource(), parent: null };
    // Someone else's home, or a folder one has no grant in, answers exactly as no drive at all would (404,
    // 409, 403 on /files/): no answer may tell an outsider which accounts, homes or group folders exist.
    const unmapped: DavLookup = { resource: null, parent: rest.length === 1 ? this.rootResource() : null };
    const names = rest.slice(1);
    let located = await this.store.locate(rest[0]!, names);
    if (!located) {
      const home = await this.space(ctx, rest[0]!);
      located = home ? { space: home, chain: await this.store.resolve(home.rootId, names) } : null;
    }
    if (!located) return unmapped;
    const { space, chain } = located;
    if (chain.length === 0) return unmapped;
    const access = await this.accessAlong(ctx, space, chain);
    if (access[access.length - 1] === 'none') return unmapped;
    const resources = chain.map((node, i) => this.resourceOf(space, node, names.slice(0, i), access[i]!));
    if (chain.length === names.length + 1) {
      const parent = resources.length >= 2 ? resources[resources.length - 2]! : this.rootResource();
      return { resource: resources[resources.length - 1]!, parent };
    }
    if (chain.length === names.length) {
      const last = resources[resources.length - 1]!;
      return { resource: null, parent: last.collection ? last : null };
    }
    return { resource: null, parent: null };
  }

  private data(resource: DavResource): DriveData {
    const data = resource.data as DriveData | undefined;
    if (data?.kind !== 'drive' || resource.backend !== this) throw new DavError(502, 'not a drive resource');
    return data;
  }

  private nodeOf(resource: DavResource): { space: DriveSpace; node: DriveNode; access: Access } {
    const { space, node, access } = this.data(resource);
    if (!space || !node) throw new DavError(403, 'the list of drives cannot be changed');
    return { space, node, access };
  }

  async members(ctx: DavContext, collection: DavResource): Promise<DavResource[]> {
    const data = this.data(collection);
    if (!data.node || !data.space) {
      // The list of drives: your home and the folders whose root is granted to you or to your groups.
      const home = await this.space(ctx, ctx.principal.address);
      const groups = [...(await this.groupIds(ctx))];
      const spaces = await this.store.listSpaces({
        groupIds: groups,
        grantedTo: [{ kind: 'account', id: ctx.principal.accountId }, ...groups.map((id) => ({ kind: 'group' as const, id }))],
      });
      const out: DavResource[] = [];
      for (const space of [...(home ? [home] : []), ...spaces.filter((s) => s.id !== home?.id)]) {
        const root = await this.store.getNode(space.rootId);
        if (!root) continue;
        const [access] = await this.accessAlong(ctx, space, [root]);
        if (access !== 'none') out.push(this.resourceOf(space, root, [], access!));
      }
      return out;
    }
    const space = data.space;
    let listing = this.listings.get(data.node);
    if (!listing) {
      const nodes = await this.store.children(data.node.id);
      listing = this.listings.set(data.node, nodes) ?? { nodes, pages: new Map(), members: new Map() };
    }
    const kids = listing.nodes;
    const names = collection.path.segments.slice(2);
    const make = (kid: DriveNode, access: Access) => this.resourceOf(space, kid, [...names, kid.name], access);
    // Access is decided here, per request: the folder's, raised by grants on members read now.
    let grants: DriveGrant[] = [];
    if (data.access !== 'owner' && kids.length) grants = await this.store.grantsOn(kids.map((k) => k.id));
    const groups = grants.some((g) => g.principal.kind === 'group') ? await this.groupIds(ctx) : new Set<string>();
    const accessOf = (kid: DriveNode) => {
      let access = data.access;
      for (const g of grants) if (g.nodeId === kid.id && this.applies(ctx, g, groups)) access = max(access, g.access);
      return access;
    };
    const at = `${space.id}\n${collection.path.key}`;
    const raised = grants.length ? kids.map(accessOf) : null;
    if (!raised || raised.every((a) => a === data.access)) {
      return keptIn(listing.pages, `${data.access}\n${at}`, 8, () => kids.map((kid) => make(kid, data.access))) as DavResource[];
    }
    return kids.map((kid, i) => keptIn(listing.members, `${raised[i]}\n${at}\n${kid.id}`, 8 * kids.length, () => make(kid, raised[i]!)));
  }

  async descendants(ctx: DavContext, collection: DavResource, limit: number): Promise<DavResource[] | 'too-many'> {
    const data = this.data(collection);
    if (!data.node || !data.space) {
      const out: DavResource[] = [];
      for (const space of await this.members(ctx, collection)) {
        out.push(space);
        const below = await this.descendants(ctx, space, limit - out.length);
        if (below === 'too-many') return below;
        out.push(...below);
        if (out.length > limit) return 'too-many';
      }
      return out;
    }
    const entries = await this.store.descendants(data.node.id, limit);
    if (entries === 'too-many') return entries;
    const names = collection.path.segments.slice(2);
    return entries.map((e) => this.resourceOf(data.space!, e.node, [...names, ...e.path], data.access));
  }

  async deadProperties(_ctx: DavContext, resources: readonly DavResource[]): Promise<Map<DavResource, DeadProperty[]>> {
    // A Depth 1 listing (a folder and its members, or a page of the members alone, as PROPFIND asks): the
    // members' properties in one indexed query by parent, not a list of a thousand ids to bind and look up.
    // A folder of more than one page reads its members' properties once a page: few nodes have any.
    const nodes = resources.map((r) => (r.data as DriveData | undefined)?.node);
    const head = nodes[0];
    const parentId = head?.kind === 'dir' && nodes.length > 2 && nodes[1]?.parentId === head.id ? head.id : (head?.parentId ?? null);
    const listing = parentId !== null && nodes.length > 2 && nodes.every((n, i) => n?.parentId === parentId || (i === 0 && n?.id === parentId));
    const ids = () => nodes.flatMap((n) => (n ? [n.id] : []));
    const props = listing ? await this.store.childProperties(parentId) : await this.store.properties(ids());
    if (listing && head?.id === parentId) for (const [id, list] of await this.store.properties([parentId])) props.set(id, list);
    const out = new Map<DavResource, DeadProperty[]>();
    // Most listings have none: the resources are looked up by id only when some have.
    if (props.size === 0) return out;
    const byId = new Map<string, DavResource>();
    resources.forEach((r, i) => {
      if (nodes[i]) byId.set(nodes[i]!.id, r);
    });
    for (const [id, list] of props) {
      const r = byId.get(id);
      if (r) out.set(r, list);
    }
    return out;
  }

  async patchProperties(ctx: DavContext, resource: DavResource, patch: readonly PropertyPatch[]): Promise<void> {
    const { node } = this.nodeOf(resource);
    await this.store.patchProperties(node.id, patch);
    ctx.log.info({ kind: 'proppatch', path: resource.path.key }, 'drive.changed');
  }

  async read(_ctx: DavContext, resource: DavResource, range?: { start: number; end: number }): Promise<Readable | Buffer> {
    const { node } = this.nodeOf(resource);
    if (!node.blobId) throw new DavError(405, 'a folder has no content');
    // Small files (most documents) go out as one buffer: the blob store reads them in one call and
    // verifies them like a whole-stream read.
    if (node.size <= SMALL_FILE_BYTES && this.verifyDownloads) {
      const data = await this.options.blobs.read(node.blobId, SMALL_FILE_BYTES);
      return range ? data.subarray(range.start, range.end + 1) : data;
    }
    // A whole read is hash-verified by the blob store unless verifyDownloads is off; asking for the whole
    // content as a range skips that (the bytes were hashed when they were written).
    const whole = !range && !this.verifyDownloads && node.size > 0 ? { start: 0, end: node.size - 1 } : range;
    return this.options.blobs.get(node.blobId, whole);
  }

  async write(ctx: DavContext, parent: DavResource, name: string, request: WriteRequest): Promise<{ resource: DavResource; created: boolean }> {
    const { space, node: folder, access } = this.nodeOf(parent);
    const mtime = parseMtime(headerOf(ctx.req, 'x-oc-mtime'));
    const known = request.existing === undefined ? undefined : ((request.existing?.data as DriveData | undefined)?.node ?? null);
    const existing = known !== undefined ? known : ((await this.store.resolve(folder.id, [name]))[1] ?? null);
    const expect =
      request.ifNoneMatchAny ? { presence: 'absent' as const } : request.ifMatch === '*' ? { presence: 'present' as const } : request.ifMatch ? { version: versionOfEtag(request.ifMatch, existing) } : {};
    let out: WriteOutcome;
    try {
      out = await writeDriveFile(
        { ...this.options, maxUploadBytes: this.maxUpload },
        space,
        folder,
        name,
        { body: request.body, freshPieces: request.freshPieces === true, expectedLength: request.expectedLength, contentType: request.contentType, modifiedAt: mtime, existing, expect },
        // The bytes are durable; the metadata commit makes them the file. Not if the client can no longer hear so.
        { log: ctx.log, beforeCommit: () => assertAnswerable(ctx.req, ctx.res) },
      );
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (!(error instanceof DavError) && (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || ctx.req.destroyed)) {
        throw new DavError(499, 'the upload was interrupted', { cause: error });
      }
      throw error;
    }
    if (mtime) ctx.res.setHeader('x-oc-mtime', 'accepted');
    ctx.res.setHeader('oc-fileid', out.node.id);
    ctx.log.info({ kind: 'put', path: `${parent.path.key}/${name}`, size: out.node.size }, 'drive.changed');
    const names = parent.path.segments.slice(2);
    return { resource: this.resourceOf(space, out.node, [...names, name], access), created: out.created };
  }

  /** A client-set {DAV:}displayname is kept with the dead properties (Finder and GNOME Files rename by it). */
  writableProperties(): ReadonlySet<string> {
    return WRITABLE;
  }

  /**
   * MKCOL; extended (RFC 5689) with properties, which are set with it or the folder is taken back. A
   * drive folder has no other resource type than a collection (DAV:valid-resourcetype otherwise).
   */
  async makeCollection(ctx: DavContext, parent: DavResource, name: string, options?: NewCollectionOptions): Promise<DavResource> {
    if (options?.resourceTypes.length) {
      throw new PropertyPatchError(new Map([[`{${DAV}}resourcetype`, { status: 403, condition: `{${DAV}}valid-resourcetype` }]]));
    }
    const { space, node, access } = this.nodeOf(parent);
    let made;
    try {
      made = await this.store.createFolder(node.id, name);
    } catch (error) {
      if (conflictReason(error) === 'exists') throw new DavError(405, 'something already exists here');
      throw mapConflict(error);
    }
    if (options?.properties.length) {
      try {
        await this.store.patchProperties(made.id, options.properties);
      } catch (error) {
        await this.store.remove(made.id).catch(() => undefined);
        throw error;
      }
    }
    ctx.log.info({ kind: 'mkcol', path: `${parent.path.key}/${name}` }, 'drive.changed');
    return this.resourceOf(space, made, [...parent.path.segments.slice(2), name], access);
  }

  async remove(ctx: DavContext, resource: DavResource, options: { ifMatch?: string } = {}): Promise<void> {
    const { node } = this.nodeOf(resource);
    if (node.parentId === null) throw new DavError(403, 'the root of a drive cannot be deleted');
    if (options.ifMatch !== undefined && options.ifMatch !== '*' && options.ifMatch !== resource.etag) throw new DavError(412, 'the resource changed');
    try {
      // The version the client's If-Match was checked against, checked again in the removal's transaction.
      await this.store.remove(node.id, options.ifMatch !== undefined ? { version: node.version } : undefined);
    } catch (error) {
      throw mapConflict(error);
    }
    ctx.log.info({ kind: 'delete', path: resource.path.key }, 'drive.changed');
  }

  async copy(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest): Promise<{ resource: DavResource; replaced: boolean }> {
    return this.transfer(ctx, source, parent, name, request, false);
  }

  async move(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest): Promise<{ resource: DavResource; replaced: boolean }> {
    return this.transfer(ctx, source, parent, name, request, true);
  }

  private async transfer(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest, move: boolean) {
    const { node } = this.nodeOf(source);
    const { space, node: folder, access } = this.nodeOf(parent);
    if (node.parentId === null) throw new DavError(403, 'the root of a drive cannot be copied or moved');
    try {
      const out = move
        ? await this.store.move(node.id, folder.id, name, { overwrite: request.overwrite })
        : await this.store.copy(node.id, folder.id, name, { overwrite: request.overwrite, depth: request.depth });
      ctx.log.info({ kind: move ? 'move' : 'copy', path: source.path.key, to: `${parent.path.key}/${name}` }, 'drive.changed');
      return { resource: this.resourceOf(space, out.node, [...parent.path.segments.slice(2), name], access), replaced: out.replaced };
    } catch (error) {
      throw mapConflict(error);
    }
  }

  async quota(ctx: DavContext, resource: DavResource): Promise<{ used: number; available: number | null } | null> {
    const { space } = this.data(resource);
    if (!space) return null;
    let cache = ctx.memo.get(MEMO_USAGE) as Map<string, Promise<{ used: number; quota: number | null }>> | undefined;
    if (!cache) ctx.memo.set(MEMO_USAGE, (cache = new Map()));
    let usage = cache.get(space.id);
    if (!usage) cache.set(space.id, (usage = this.store.usage(space.id)));
    const { used, quota } = await usage;
    return { used, available: quota === null ? null : quota - used };
  }

  async owner(_ctx: DavContext, resource: DavResource): Promise<DavPath | null> {
    const { space } = this.data(resource);
    if (!space) return null;
    return space.kind === 'home' ? davPath(['principals', 'users', space.name]) : davPath(['principals', 'groups', space.name]);
  }

  async acl(_ctx: DavContext, resource: DavResource): Promise<Ace[]> {
    const { space } = this.data(resource);
    const node = (resource.data as DriveData).node;
    if (!space || !node) return [];
    const aces: Ace[] = [];
    if (space.kind === 'home') aces.push({ principal: davPath(['principals', 'users', space.name]), privileges: ['all'], protected: true });
    const chain = await this.store.resolve(space.rootId, resource.path.segments.slice(2));
    const grants = await this.store.grantsOn(chain.map((n) => n.id));
    for (const g of grants) {
      const index = chain.findIndex((n) => n.id === g.nodeId);
      const principal =
        g.principal.kind === 'account'
          ? davPath(['principals', 'users', (await this.options.directory.getAccount(g.principal.id).catch(() => null))?.address ?? g.principal.id])
          : davPath(['principals', 'groups', (await this.options.directory.getGroup(g.principal.id).catch(() => null))?.name ?? g.principal.id]);
      aces.push({
        principal,
        privileges: g.access === 'write' ? ['read', 'write'] : ['read'],
        ...(g.nodeId !== node.id ? { inherited: davPath([FILES, space.name, ...resource.path.segments.slice(2, 2 + index)]) } : {}),
      });
    }
    return aces;
  }

  async setAcl(ctx: DavContext, resource: DavResource, aces: readonly Ace[]): Promise<void> {
    const { node } = this.nodeOf(resource);
    const grants: { principal: { kind: 'account' | 'group'; id: string }; access: GrantAccess }[] = [];
    for (const ace of aces) {
      if (typeof ace.principal === 'string') throw new DavError(403, 'grants name a user or a group', { condition: `{${DAV}}allowed-principal` });
      const [top, kind, name] = ace.principal.segments;
      if (top !== 'principals' || !name || ace.principal.segments.length !== 3) {
        throw new DavError(403, 'not a principal of this server', { condition: `{${DAV}}recognized-principal` });
      }
      let id: string | undefined;
      // Only principals the granter may see: granting to an outsider answers as granting to nobody.
      if (kind === 'users') id = (await findVisibleAccount(this.options.directory, ctx, name))?.id;
      else if (kind === 'groups') id = (await findVisibleGroup(this.options.directory, ctx, name))?.id;
      if (!id) throw new DavError(403, 'no such principal', { condition: `{${DAV}}recognized-principal` });
      const writes = ace.privileges.some((p) => p !== 'read' && p !== 'read-current-user-privilege-set' && p !== 'read-acl');
      grants.push({ principal: { kind: kind === 'users' ? 'account' : 'group', id }, access: writes ? 'write' : 'read' });
    }
    await this.store.setGrants(node.id, grants);
    ctx.log.info({ kind: 'acl', path: resource.path.key, grants: grants.length }, 'drive.changed');
  }
}

/** Files up to this size are read into memory and sent in one write. */
const SMALL_FILE_BYTES = 1024 * 1024;

function max(a: Access, b: GrantAccess | Access): Access {
  return RANK[b] > RANK[a] ? b : a;
}

/** X-OC-Mtime: seconds since the epoch (rclone and the Nextcloud clients; may carry a fraction). */
export function parseMtime(value: string | undefined): Date | null {
  if (!value || !/^\d{1,12}(\.\d{1,9})?$/.test(value.trim())) return null;
  const ms = Math.round(Number(value.trim()) * 1000);
  return Number.isSafeInteger(ms) ? new Date(ms) : null;
}

function mapConflict(error: unknown): unknown {
  switch (conflictReason(error)) {
    case 'exists':
    case 'precondition':
      return new DavError(412, (error as Error).message, { cause: error });
    case 'is-folder':
      return new DavError(405, 'a collection has that name', { cause: error });
    case 'cycle':
    case 'no-parent':
    case 'not-a-folder':
      return new DavError(409, (error as Error).message, { cause: error });
    default:
      if (isPalabreError(error, 'too-large')) return new DavError(507, (error as Error).message, { cause: error });
      return error;
  }
}

/** What a drive write needs: the stores, the upload limit, the malware scanner. */
export type DriveWriteOptions = Pick<DriveBackendOptions, 'store' | 'blobs' | 'malware' | 'maxUploadBytes'>;

export interface DriveUpload {
  /** The bytes, streamed: never held whole. */
  readonly body: AsyncIterable<Uint8Array>;
  /** The body yields new buffers that nothing reuses (a request body): the blob store may keep them uncopied. */
  readonly freshPieces?: boolean;
  /** Announced size (Content-Length), checked against the quota first and against the bytes received after. */
  readonly expectedLength: number | null;
  readonly contentType: string | null;
  readonly modifiedAt?: Date | null;
  /** The node at the name now (null: none), for the quota's room (a replaced file frees its size). */
  readonly existing: DriveNode | null;
  readonly expect?: WriteExpectation;
}

/**
 * The drive's one write path (PUT, and the drive migration): quota checked before and bounded during
 * the upload, bytes streamed into the blob store, the malware scan, then the metadata commit that
 * makes them the file. Throws DavError with the status a PUT answers (507, 413, 400, 403, 503).
 */
export async function writeDriveFile(
  options: DriveWriteOptions,
  space: DriveSpace,
  folder: DriveNode,
  name: string,
  upload: DriveUpload,
  hooks: { readonly log: Logger; readonly beforeCommit?: () => void },
): Promise<WriteOutcome> {
  const maxUpload = options.maxUploadBytes ?? 50 * 1024 ** 3;
  let limit = maxUpload;
  const usage = await options.store.usage(space.id);
  if (usage.quota !== null) {
    const room = usage.quota - usage.used + (upload.existing?.size ?? 0);
    if (upload.expectedLength !== null && upload.expectedLength > room) {
      throw new DavError(507, 'not enough space left in this drive', { condition: `{${DAV}}quota-not-exceeded` });
    }
    limit = Math.min(limit, Math.max(0, room));
  }
  if (upload.expectedLength !== null && upload.expectedLength > maxUpload) throw new DavError(413, `uploads are at most ${maxUpload} bytes`);
  let blob;
  try {
    blob = await options.blobs.put(upload.body, { maxBytes: limit, expectedBytes: upload.expectedLength, freshPieces: upload.freshPieces === true });
  } catch (error) {
    if (isPalabreError(error, 'too-large')) {
      throw limit < maxUpload
        ? new DavError(507, 'not enough space left in this drive', { condition: `{${DAV}}quota-not-exceeded` })
        : new DavError(413, `uploads are at most ${maxUpload} bytes`);
    }
    throw error;
  }
  if (upload.expectedLength !== null && blob.size !== upload.expectedLength) {
    throw new DavError(400, `received ${blob.size} bytes, ${upload.expectedLength} announced`);
  }
  await scanUpload(options, hooks.log, blob.id);
  hooks.beforeCommit?.();
  try {
    return await options.store.writeFile(
      folder.id,
      name,
      { blobId: blob.id, size: blob.size, contentType: contentTypeFor(name, upload.contentType), ...(upload.modifiedAt ? { modifiedAt: upload.modifiedAt } : {}) },
      upload.expect ?? {},
    );
  } catch (error) {
    throw mapConflict(error);
  }
}

/** Infected → 403; scanner unreachable → 503 with fail mode `closed`, through with `open`. */
async function scanUpload(options: DriveWriteOptions, log: Logger, blobId: string): Promise<void> {
  const malware = options.malware;
  if (!malware) return;
  let result;
  try {
    result = await malware.scanner.scan(await options.blobs.get(blobId));
  } catch (error) {
    log.warn({ mode: malware.failMode, err: (error as Error).message }, 'drive.scan-unavailable');
    if (malware.failMode === 'open') return;
    throw new DavError(503, 'the file cannot be scanned for malware now, try again later', { cause: error });
  }
  if (result.kind === 'infected') {
    log.warn({ signature: result.signature, blob: blobId }, 'drive.malware-refused');
    throw new DavError(403, `the file was refused: malware found (${result.signature})`);
  }
}
