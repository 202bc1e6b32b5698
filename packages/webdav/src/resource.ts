import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Account, DeadProperty, Logger, Principal, PropertyPatch } from '@palabre/core';
import type { DavPath } from './href.js';
import type { XmlElement } from './xml-codec.js';

/**
 * A privilege (RFC 3744 §3): the DAV: ones by their local name (`read`, `write-content`…), those of
 * other namespaces in Clark notation (`{urn:ietf:params:xml:ns:caldav}read-free-busy`), registered by
 * the plugin that checks them (DavPluginHost.addPrivilege) so that supported-privilege-set shows them.
 */
export type DavPrivilege =
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
export type Privilege = DavPrivilege | `{${string}}${string}`;

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
  /** Resource types besides DAV:collection, in Clark notation (`{DAV:}principal`, `{urn:ietf:params:xml:ns:caldav}calendar`). */
  readonly resourceTypes?: readonly string[];
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
  /** The body yields new buffers that nothing reuses (node:http's): a backend may keep them uncopied. */
  readonly freshPieces?: boolean;
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

export interface NewCollectionOptions {
  /** Resource types besides DAV:collection, in Clark notation. */
  readonly resourceTypes: readonly string[];
  readonly properties: readonly PropertyPatch[];
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
  /**
   * Members of a collection (Depth 1): one query, never one per member; a large collection gives them
   * as pages (keyset-paged queries), which the engine streams out as they come.
   */
  members(ctx: DavContext, collection: DavResource): Promise<DavResource[]> | AsyncIterable<readonly DavResource[]>;
  /** Many resources of this mount at once (calendar-multiget): keyed by path key; missing ones left out. */
  lookupMany?(ctx: DavContext, paths: readonly DavPath[]): Promise<Map<string, DavResource>>;
  /** Everything below a collection (Depth infinity), parents first; 'too-many' past `limit`. */
  descendants?(ctx: DavContext, collection: DavResource, limit: number): Promise<DavResource[] | 'too-many'>;
  /** Dead properties of many resources at once. */
  deadProperties?(ctx: DavContext, resources: readonly DavResource[]): Promise<Map<DavResource, DeadProperty[]>>;
  /**
   * Apply every set/remove in order, or none: dead properties, and the live ones this backend keeps
   * (`live`: the names it was asked to treat as its own, e.g. {DAV:}displayname). A refusal of some is a
   * PropertyPatchError naming each one's status, so the multistatus says which failed and why.
   */
  patchProperties?(ctx: DavContext, resource: DavResource, patch: readonly PropertyPatch[]): Promise<void>;
  /**
   * Live properties this backend stores and lets PROPPATCH set, in the same transaction as the dead
   * ones ({DAV:}displayname, CALDAV:calendar-timezone…); every other live property is protected (403).
   */
  writableProperties?(resource: DavResource): ReadonlySet<string>;
  /** The content: a stream, or for small resources a buffer (sent in one write, far cheaper than a stream). */
  read?(ctx: DavContext, resource: DavResource, range?: { start: number; end: number }): Promise<Readable | Buffer>;
  write?(ctx: DavContext, parent: DavResource, name: string, request: WriteRequest): Promise<{ resource: DavResource; created: boolean }>;
  /**
   * A new collection; with extended MKCOL (RFC 5689) or MKCALENDAR, of these resource types and with
   * these properties, all applied or none (a refusal is a PropertyPatchError naming each property).
   */
  makeCollection?(ctx: DavContext, parent: DavResource, name: string, options?: NewCollectionOptions): Promise<DavResource>;
  /** `ifMatch`: the entity tag the client's If-Match named, checked again atomically with the removal. */
  remove?(ctx: DavContext, resource: DavResource, options?: { ifMatch?: string }): Promise<void>;
  copy?(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest): Promise<{ resource: DavResource; replaced: boolean }>;
  move?(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest): Promise<{ resource: DavResource; replaced: boolean }>;
  /** RFC 4331: bytes used and available (null = unlimited) where the resource is stored. */
  quota?(ctx: DavContext, resource: DavResource): Promise<{ used: number; available: number | null } | null>;
  /** RFC 3744: the principal that owns the resource, as a DAV path. */
  owner?(ctx: DavContext, resource: DavResource): Promise<DavPath | null>;
  /** RFC 3744: the access control list (grant-only, as supported here). */
  acl?(ctx: DavContext, resource: DavResource): Promise<Ace[]>;
  setAcl?(ctx: DavContext, resource: DavResource, aces: readonly Ace[]): Promise<void>;
  /** Compliance classes this mount adds to the DAV header (`calendar-access`, `addressbook`…). */
  readonly compliance?: readonly string[];
  /**
   * The backend hands out the same DavResource object again, from one request to the next, for as long
   * as nothing it describes has changed (the drive's listings, cached by folder version and access).
   * The engine then keeps what it derives from such an object alone (its property definitions, the
   * `stable` properties rendered) beside it, and renders those once.
   */
  readonly reusesResources?: boolean;
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
  /** The engine's services for this request: lookups, hrefs, locks, properties, reports. */
  readonly dav: DavServices;
  /**
   * The href of a path for this request's answer: below the request-URI, spelled as the client spelled
   * the request-URI (`%40` or `@`, any case of a home's address), so a client matches the responses to
   * what it asked; elsewhere the canonical href.
   */
  href(path: DavPath, collection: boolean): string;
}

/** A live property's value: text (escaped on output) or an XML fragment written with the engine's prefixes. */
export type PropertyValue = string | { readonly xml: string };

export interface PropertyDefinition<P = unknown> {
  /** Clark notation, e.g. `{DAV:}getetag`. */
  readonly name: string;
  /** Included in `allprop` (RFC 4918 lists which live properties are). */
  readonly allprop?: boolean;
  /** Resources that have this property (default: every one); a plugin's properties stay on its own mount this way. */
  appliesTo?(resource: DavResource): boolean;
  /** Batch work done once per response for every resource asked about (one query, not one per resource). */
  prepare?(ctx: DavContext, resources: readonly DavResource[], requested: XmlElement | null): Promise<P>;
  /**
   * undefined: the resource does not have this property (404 in the propstat). `requested` is the
   * element the client asked with (CALDAV:calendar-data with comp/expand, CARDDAV:address-data with prop).
   */
  get(ctx: DavContext, resource: DavResource, prepared: P, requested: XmlElement | null): PropertyValue | undefined | Promise<PropertyValue | undefined>;
  /** The privilege needed to read it (default read). */
  readonly privilege?: Privilege;
  /**
   * The value depends on the resource object alone (its fields and privileges), never on the request,
   * the principal, the time or anything read elsewhere (dead properties, locks, usage): what it rendered
   * for an object of a `reusesResources` backend is reused for that object.
   */
  readonly stable?: boolean;
}

/**
 * A method handler. `next` runs the handler registered before it for the same method (a plugin's wrap
 * of the built-in method delegates by calling it); the last one answers 405 or 501.
 */
export type MethodHandler = (ctx: DavContext, next: () => Promise<void>) => Promise<void>;

/** A REPORT handler: receives the parsed body's root element. */
export type ReportHandler = (ctx: DavContext, resource: DavResource, body: XmlElement) => Promise<void>;

export interface ReportDefinition {
  /** The report's root element, in Clark notation. */
  readonly name: string;
  readonly handler: ReportHandler;
  /** Privilege needed on the target (default read; free-busy-query needs only CALDAV:read-free-busy). */
  readonly privilege?: Privilege;
  /** The resources this report applies to: only those list it in supported-report-set (default: all). */
  appliesTo?(resource: DavResource): boolean;
}

/** A POST handler, chosen by the body's root element (XML bodies) or by the content type. */
export interface PostHandler {
  /** Clark name of the XML body's root (CS:share-resource…). */
  readonly root?: string;
  /** Media type without parameters (`text/calendar` for a schedule outbox). */
  readonly contentType?: string;
  /** Only for resources of this mount (its first path segment). */
  readonly mount?: string;
  handle(ctx: DavContext, resource: DavResource, body: XmlElement | null): Promise<void>;
}

/**
 * What a plugin adds to the principals (RFC 3744 §2) without the engine knowing its domain: child
 * principals of a user (CalendarServer's calendar-proxy-read/-write group principals), the groups of those
 * an account is a member of (shown in its DAV:group-membership), and properties a
 * principal-property-search may name (CALDAV:calendar-user-address-set), each mapped to what the
 * directory searches.
 */
export interface PrincipalExtension {
  /** Segments below `/principals/users/<address>/` this extension answers. */
  readonly children?: readonly string[];
  /** The child principal `name` of an account, or null. */
  child?(ctx: DavContext, account: Account, name: string): Promise<DavResource | null>;
  /** Child principals (of other accounts) this account is a member of. */
  membershipsOf?(ctx: DavContext, account: Account): Promise<DavPath[]>;
  readonly searchProperties?: readonly PrincipalSearchProperty[];
}

/** A property principal-property-search matches, and the directory field that answers it. */
export interface PrincipalSearchProperty {
  /** Clark notation. */
  readonly name: string;
  readonly field: 'name' | 'address';
  readonly description: string;
}

/** Where principals live: one service, so that every property and check builds the same URLs. */
export interface PrincipalUrls {
  user(address: string): DavPath;
  group(name: string): DavPath;
  /** The collection of every principal (DAV:principal-collection-set). */
  collection(): DavPath;
}

export interface DavHooks {
  /** Before any method, after authentication. Throw a DavError to refuse. */
  beforeMethod(ctx: DavContext): Promise<void> | void;
  /** Before a new member is bound (PUT, MKCOL, COPY/MOVE destination, LOCK of an unmapped URL). */
  beforeBind(ctx: DavContext, parent: DavResource, path: DavPath, collection: boolean): Promise<void> | void;
  /**
   * Before a backend that holds content in memory (calendar objects, cards) writes it: the content is
   * there to read (implicit scheduling, antivirus). Throw to refuse.
   */
  beforeWrite(ctx: DavContext, write: ContentWrite): Promise<void> | void;
  /** After such a write committed. */
  afterWrite(ctx: DavContext, write: ContentWrite & { readonly resource: DavResource; readonly created: boolean }): Promise<void> | void;
  /** Members listed by PROPFIND (and GET on a collection): a plugin may hide some. */
  filterMembers(ctx: DavContext, collection: DavResource, members: DavResource[]): DavResource[];
  /** After anything changed: kind and the paths touched. The engine also publishes it on core's Notifier (push, other nodes). */
  afterChange(ctx: DavContext, change: DavChange): Promise<void> | void;
}

export interface ContentWrite {
  readonly path: DavPath;
  readonly parent: DavResource;
  readonly existing: DavResource | null;
  readonly contentType: string | null;
  readonly content: Buffer;
}

export interface DavChange {
  readonly kind: 'put' | 'mkcol' | 'delete' | 'move' | 'copy' | 'proppatch' | 'acl';
  readonly path: DavPath;
  readonly destination?: DavPath;
}

export interface DavLimits {
  /** Largest XML request body (bytes). Default 1 MiB. */
  maxXmlBody?: number;
  /** Most resources one Depth: infinity PROPFIND or COPY may cover. Default 10,000. */
  maxInfinity?: number;
}

/** What the engine offers the methods, backends and plugins of a request (as `ctx.dav`). */
export interface DavServices {
  /** Public path the handler answers under ('' or '/dav'…). */
  readonly base: string;
  readonly baseSegments: readonly string[];
  readonly namespaces: import('./multistatus.js').Namespaces;
  readonly locks: import('./lock.js').LockManager;
  readonly hooks: DavHooks;
  readonly limits: Required<DavLimits>;
  readonly xmlLimits: import('./xml-codec.js').XmlLimits;
  readonly principals: PrincipalUrls;
  lookup(ctx: DavContext, path: DavPath): Promise<DavLookup>;
  /** Many paths at once, one call per mount: keyed by path key, unmapped ones left out. */
  lookupMany(ctx: DavContext, paths: readonly DavPath[]): Promise<Map<string, DavResource>>;
  /** Members the caller may read, page by page, with plugins' filters applied. */
  memberPages(ctx: DavContext, collection: DavResource): AsyncIterable<DavResource[]>;
  /** Everything below (members the caller may read), parents first; 'too-many' past the limit. */
  descendants(ctx: DavContext, collection: DavResource, limit: number): Promise<DavResource[] | 'too-many'>;
  href(path: DavPath, collection: boolean): string;
  hrefOf(resource: DavResource): string;
  /** A URI (request target, Destination, If tag, principal href) as a canonical path of this engine, or null. */
  pathOf(uri: string): DavPath | null;
  canonical(path: DavPath): DavPath;
  /** Live properties a resource has, by name. */
  propertiesOf(resource: DavResource): ReadonlyMap<string, PropertyDefinition>;
  /** The live properties among `names` a resource has: propertiesOf(resource) kept to those names, without trying every other definition. */
  propertiesNamed(resource: DavResource, names: readonly string[]): ReadonlyMap<string, PropertyDefinition>;
  /** The reports a resource supports. */
  reportsOf(resource: DavResource): ReportDefinition[];
  report(name: string): ReportDefinition | undefined;
  /** POST handlers, for the POST method. */
  readonly postHandlers: readonly PostHandler[];
  /** What plugins added to the principals (child principals, searchable properties). */
  readonly principalExtensions: readonly PrincipalExtension[];
  /** Methods allowed on the request's mount (Allow header). */
  allowedMethods(path: DavPath): string;
  /** Compliance classes (DAV header) of the request's mount. */
  compliance(path: DavPath): string[];
  /** Privileges that can appear in ACLs and supported-privilege-set (DAV: ones and plugins'). */
  readonly privilegeTree: string;
  isGrantable(privilege: string): boolean;
  sendError(ctx: { res: ServerResponse }, error: import('./errors.js').DavError): void;
}
