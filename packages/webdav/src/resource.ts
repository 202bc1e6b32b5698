import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { DeadProperty, Logger, Principal, PropertyPatch } from '@palabre/core';
import type { DavPath } from './href.js';
import type { XmlElement } from './xml-codec.js';

/** RFC 3744 privileges the engine checks. */
export type Privilege =
  | 'read'
  | 'write'
  | 'write-properties'
  | 'write-content'
  | 'bind'
  | 'unbind'
  | 'unlock'
  | 'read-acl'
  | 'write-acl'
  | 'read-current-user-privilege-set'
  | 'all';

export const READ_ONLY: ReadonlySet<Privilege> = new Set<Privilege>(['read', 'read-current-user-privilege-set']);
export const READ_WRITE: ReadonlySet<Privilege> = new Set<Privilege>([
  'read',
  'read-current-user-privilege-set',
  'write',
  'write-properties',
  'write-content',
  'bind',
  'unbind',
  'unlock',
]);
export const ALL_PRIVILEGES: ReadonlySet<Privilege> = new Set<Privilege>([...READ_WRITE, 'read-acl', 'write-acl', 'all']);
export const NO_PRIVILEGES: ReadonlySet<Privilege> = new Set<Privilege>();

/** A read-only collection that exists only in the namespace (the DAV root, `/files/`, `/principals/`…). */
export function virtualCollection(path: DavPath, backend: DavBackend, data?: unknown): DavResource {
  return {
    path,
    collection: true,
    etag: null,
    lastModified: null,
    createdAt: null,
    contentLength: null,
    contentType: null,
    displayName: null,
    privileges: READ_ONLY,
    backend,
    data,
  };
}

/** What the engine knows of a resource. Backends build them; the engine never mutates them. */
export interface DavResource {
  readonly path: DavPath;
  readonly collection: boolean;
  /** A quoted strong entity tag, e.g. `"1a2b-7"`. */
  readonly etag: string | null;
  readonly lastModified: Date | null;
  readonly createdAt: Date | null;
  readonly contentLength: number | null;
  readonly contentType: string | null;
  readonly displayName: string | null;
  /** What the current principal may do here. */
  readonly privileges: ReadonlySet<Privilege>;
  readonly backend: DavBackend;
  /** The backend's own record (the drive's node…). */
  readonly data?: unknown;
}

export interface DavLookup {
  /** null when the path is unmapped. */
  readonly resource: DavResource | null;
  /** The parent collection when it exists (null for a missing parent or when the parent is not a collection). */
  readonly parent: DavResource | null;
}

export interface WriteRequest {
  /** The request body, streamed. */
  readonly body: AsyncIterable<Uint8Array>;
  readonly contentType: string | null;
  /** Content-Length, or X-Expected-Entity-Length (macOS Finder's chunked uploads); null if unknown. */
  readonly expectedLength: number | null;
  /** The entity tag the client's If-Match named (checked again atomically with the write); '*' = must exist. */
  readonly ifMatch?: string;
  /** If-None-Match: * (create only). */
  readonly ifNoneMatchAny?: boolean;
  /** What the engine found at the target when the request started (null: unmapped). */
  readonly existing?: DavResource | null;
}

export interface TransferRequest {
  readonly overwrite: boolean;
  /** COPY only. */
  readonly depth: 0 | 'infinity';
}

/**
 * A tree of resources mounted under one top-level segment of the DAV namespace (the drive under `files`,
 * principals under `principals`, calendars later). Methods a backend leaves out answer 405/403.
 * Backends check privileges only to hide or refuse whole subtrees; the engine checks each method's privilege
 * against `resource.privileges`.
 */
export interface DavBackend {
  /**
   * The canonical form of a path under this mount, when several spellings name one resource (a home's
   * address in any case: see canonicalAddress). The engine calls it once per path it parses (request-URI,
   * Destination, If-header tags, ACL principals), so everything else sees one key.
   */
  canonical?(path: DavPath): DavPath;
  /** Resolve a path whose first segment is this backend's mount. */
  lookup(ctx: DavContext, path: DavPath): Promise<DavLookup>;
  /** Members of a collection (Depth 1): one query, never one per member. */
  members(ctx: DavContext, collection: DavResource): Promise<DavResource[]>;
  /** Everything below a collection (Depth infinity), parents first; 'too-many' past `limit`. */
  descendants?(ctx: DavContext, collection: DavResource, limit: number): Promise<DavResource[] | 'too-many'>;
  /** Dead properties of many resources at once. */
  deadProperties?(ctx: DavContext, resources: readonly DavResource[]): Promise<Map<DavResource, DeadProperty[]>>;
  /** Apply every set/remove in order, or none. */
  patchProperties?(ctx: DavContext, resource: DavResource, patch: readonly PropertyPatch[]): Promise<void>;
  /** The content: a stream, or for small resources a buffer (sent in one write, far cheaper than a stream). */
  read?(ctx: DavContext, resource: DavResource, range?: { start: number; end: number }): Promise<Readable | Buffer>;
  write?(ctx: DavContext, parent: DavResource, name: string, request: WriteRequest): Promise<{ resource: DavResource; created: boolean }>;
  makeCollection?(ctx: DavContext, parent: DavResource, name: string): Promise<DavResource>;
  remove?(ctx: DavContext, resource: DavResource): Promise<void>;
  copy?(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest): Promise<{ resource: DavResource; replaced: boolean }>;
  move?(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest): Promise<{ resource: DavResource; replaced: boolean }>;
  /** RFC 4331: bytes used and available (null = unlimited) where the resource is stored. */
  quota?(ctx: DavContext, resource: DavResource): Promise<{ used: number; available: number | null } | null>;
  /** RFC 3744: the principal that owns the resource, as a DAV path. */
  owner?(ctx: DavContext, resource: DavResource): Promise<DavPath | null>;
  /** RFC 3744: the access control list (grant-only, as supported here). */
  acl?(ctx: DavContext, resource: DavResource): Promise<Ace[]>;
  setAcl?(ctx: DavContext, resource: DavResource, aces: readonly Ace[]): Promise<void>;
}

/** A grant ACE. `principal` is a principal's DAV path, or 'all' / 'authenticated' / 'self'. */
export interface Ace {
  readonly principal: DavPath | 'all' | 'authenticated' | 'self';
  readonly privileges: readonly Privilege[];
  /** Set on ACEs that cannot be changed (the owner's). */
  readonly protected?: boolean;
  /** The path of the resource the ACE is inherited from. */
  readonly inherited?: DavPath;
}

/** One request, as the engine, backends and plugins see it. */
export interface DavContext {
  readonly principal: Principal;
  readonly requestId: string;
  readonly log: Logger;
  readonly now: Date;
  readonly method: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The request path inside the DAV namespace. */
  readonly path: DavPath;
  readonly trailingSlash: boolean;
  /** Memo for backends and plugins (group memberships, resolved spaces…), for this request only. */
  readonly memo: Map<unknown, unknown>;
}

/** A live property's value: text (escaped on output) or an XML fragment written with the engine's prefixes. */
export type PropertyValue = string | { readonly xml: string };

export interface PropertyDefinition<P = unknown> {
  /** Clark notation, e.g. `{DAV:}getetag`. */
  readonly name: string;
  /** Included in `allprop` (RFC 4918 lists which live properties are). */
  readonly allprop?: boolean;
  /** Batch work done once per PROPFIND for every resource asked about (one query, not one per resource). */
  prepare?(ctx: DavContext, resources: readonly DavResource[]): Promise<P>;
  /** undefined: the resource does not have this property (404 in the propstat). */
  get(ctx: DavContext, resource: DavResource, prepared: P): PropertyValue | undefined | Promise<PropertyValue | undefined>;
  /** Writable live property; without it PROPPATCH answers 403 cannot-modify-protected-property. */
  set?(ctx: DavContext, resource: DavResource, value: XmlElement | null): Promise<void>;
  /** The privilege needed to read it (default read). */
  readonly privilege?: Privilege;
}

export type MethodHandler = (ctx: DavContext) => Promise<void>;

/** A REPORT handler: receives the parsed body's root element. */
export type ReportHandler = (ctx: DavContext, resource: DavResource, body: XmlElement) => Promise<void>;
