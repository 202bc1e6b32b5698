/**
 * Calendars and address books (CalDAV, CardDAV): collections of small text objects, each with a UID,
 * stored byte for byte, plus the columns queries need so that a query never parses every object. Both
 * kinds share one store: they have the same shape (a collection, objects, a sync log, sharing), and
 * what differs (iCalendar vs vCard) is read by the protocol package, which hands the store the indexed
 * columns it computed.
 */

export type CollectionKind = 'calendar' | 'addressbook';

/** iCalendar components a calendar may hold (RFC 4791 supported-calendar-component-set), and vCards. */
export type ComponentKind = 'VEVENT' | 'VTODO' | 'VJOURNAL' | 'VFREEBUSY' | 'VAVAILABILITY' | 'VCARD';

export const CALENDAR_COMPONENTS: readonly ComponentKind[] = ['VEVENT', 'VTODO', 'VJOURNAL', 'VFREEBUSY', 'VAVAILABILITY'];

export interface CalendarCollection {
  readonly id: string;
  readonly kind: CollectionKind;
  /** The owner; null for a domain's global address list (read-only, generated from the directory). */
  readonly accountId: string | null;
  /** Set for a domain's global address list. */
  readonly domainId: string | null;
  /** The URL segment, exactly as the client chose it when it made the collection. */
  readonly name: string;
  readonly displayName: string | null;
  readonly description: string | null;
  /** CALDAV:calendar-timezone: a VCALENDAR holding one VTIMEZONE, or null (UTC). */
  readonly timezone: string | null;
  /** What a calendar accepts (supported-calendar-component-set); empty for an address book. */
  readonly components: readonly ComponentKind[];
  /** Nobody may write objects into it through the store's callers (the global address list). */
  readonly readOnly: boolean;
  /** The change counter: CTag and sync-token. Grows with every object written or removed. */
  readonly seq: number;
  readonly createdAt: Date;
  readonly modifiedAt: Date;
  /** Shared with at least one account or group (the owner's copy is CS:shared-owner). */
  readonly shared?: boolean;
}

export interface NewCollection {
  readonly kind: CollectionKind;
  readonly name: string;
  readonly displayName?: string | null;
  readonly description?: string | null;
  readonly timezone?: string | null;
  /** Calendars: default VEVENT and VTODO. */
  readonly components?: readonly ComponentKind[];
}

export interface CollectionPatch {
  readonly displayName?: string | null;
  readonly description?: string | null;
  readonly timezone?: string | null;
}

export interface CalendarObject {
  readonly id: string;
  readonly collectionId: string;
  /** The URL segment, exactly as the client sent it (sync clients key items by href). */
  readonly name: string;
  readonly uid: string;
  readonly component: ComponentKind;
  /** A strong entity tag, unquoted: changes whenever the bytes change. */
  readonly etag: string;
  /** Bytes of `data` in UTF-8. */
  readonly size: number;
  readonly createdAt: Date;
  readonly modifiedAt: Date;
  /** The object as stored; present when asked for (multiget, query with data). */
  readonly data?: string;
}

/** One occurrence, [start, end) in milliseconds since the epoch (floating times read as if UTC). */
export interface Instance {
  readonly start: number;
  readonly end: number;
}

/**
 * What queries filter on, computed by the protocol package when it validated the object. Time-range
 * queries (RFC 4791 §9.9) are answered from `instances`: an instance with end > start overlaps
 * [from, to) when start < to and end > from; one with end = start (an instant) when from <= start < to.
 */
export interface ObjectIndex {
  readonly uid: string;
  readonly component: ComponentKind;
  /** Start of the first occurrence and end of the last; null when the object has no time (a VTODO without dates…) or, for `lastEnd`, no end. */
  readonly firstStart: number | null;
  readonly lastEnd: number | null;
  /** Times without a zone (floating) or dates: their instances are local times, which the query's time zone places. */
  readonly floating: boolean;
  readonly recurring: boolean;
  /** At most MAX_INSTANCES occurrences, in order. */
  readonly instances: readonly Instance[];
  /**
   * The instances are complete before this instant; after it the object may have more occurrences (an
   * open-ended or very long series), and a query reaching past it must ask the rule. null: complete.
   */
  readonly instancesUntil: number | null;
  /**
   * The instances are complete from this instant on (a long series keeps the occurrences around now,
   * not its first thousand); a query reaching before it asks the rule. null: from the first occurrence.
   */
  readonly instancesFrom: number | null;
  /**
   * Whether the instances' start/end decide a time-range query exactly. A VTODO's semantics (RFC 4791
   * §9.9, DUE/COMPLETED/CREATED) are wider: its rows are a superset, checked again by the caller.
   */
  readonly exact: boolean;
  /** Folded text the protocol package prefilters text-match with (e.g. `FN:awa kodjo\nEMAIL:awa@…`); null: none. */
  readonly searchText: string | null;
}

export interface PutObjectOptions {
  /** Fail with ConflictError(detail.reason = 'precondition') unless the object exists with this ETag ('*': exists at all). */
  readonly ifMatch?: string;
  /** Fail with ConflictError(detail.reason = 'precondition') if an object already has this name (If-None-Match: *). */
  readonly ifNoneMatch?: boolean;
  /** The server itself writing a read-only collection (the generator of a domain's address list). */
  readonly system?: boolean;
}

export interface PutObjectOutcome {
  readonly object: CalendarObject;
  readonly created: boolean;
}

/** A time-range filter (RFC 4791 §9.9): [start, end) in ms; either side may be open. */
export interface TimeRange {
  readonly start: number | null;
  readonly end: number | null;
}

export interface ObjectQuery {
  readonly component?: ComponentKind;
  readonly timeRange?: TimeRange;
  /**
   * Offset of the query's time zone from UTC, in ms, for floating instances: a bound of the largest
   * offset either way (default 14 h) — floating candidates inside it are returned with `check: true`.
   */
  readonly floatingSlackMs?: number;
  /** Substrings every one of which the object's searchText must contain (already folded). */
  readonly textContains?: readonly string[];
  readonly withData?: boolean;
  /** Keyset paging by name. */
  readonly after?: string | null;
  readonly limit?: number;
}

export interface QueriedObject {
  readonly object: CalendarObject;
  /**
   * True when the index alone cannot decide: a floating object (its zone is the query's), a series whose
   * instances stop before the range ends (ask the rule), or an inexact component (VTODO). The caller
   * parses those and decides; the rest match as they are.
   */
  readonly check: boolean;
}

export interface GetObjectsOptions {
  readonly withData?: boolean;
  /** With `withData` left out: the data of the objects of at most this many bytes only. */
  readonly dataUpTo?: number;
}

/**
 * What a collection's listing gives of each object (PROPFIND Depth 1, an initial sync-collection): what
 * getetag, getcontenttype, getcontentlength, getlastmodified and creationdate need, and nothing else (no
 * id, UID or text), so that one index answers a page without the table.
 */
export type CalendarObjectEntry = Pick<CalendarObject, 'name' | 'component' | 'etag' | 'size' | 'createdAt' | 'modifiedAt'>;

export interface ListObjectsOptions {
  /** Start after this name (keyset paging); null: from the first. */
  readonly after?: string | null;
  /** Default and maximum 1000. */
  readonly limit?: number;
  readonly withData?: boolean;
}

export type ShareAccess = 'read' | 'read-write';

export interface ShareGrantee {
  readonly kind: 'account' | 'group';
  readonly id: string;
}

/**
 * Where a sharee stands on a share (CalendarServer's invite-noresponse / -accepted / -declined). A share
 * with an account starts 'pending' and is in force at once; 'declined' takes it out of the sharee's
 * home. A share with a group is 'accepted' from the start: nobody answers for a group.
 */
export type InviteStatus = 'pending' | 'accepted' | 'declined';

export interface CollectionShare {
  readonly collectionId: string;
  readonly grantee: ShareGrantee;
  readonly access: ShareAccess;
  readonly createdAt: Date;
  readonly status: InviteStatus;
  /** An invite notification for it stands in the sharee's notification collection (until they delete it). */
  readonly notice: boolean;
  /** The sharee's answer stands as an invite-reply notification in the owner's collection (until the owner deletes it). */
  readonly replyNotice: boolean;
  /** Changes with every new invitation or change of access or status (the notification's ETag). */
  readonly modifiedAt: Date;
}

/** A share addressed to an account, with the collection it names (the sharee's notifications). */
export interface ShareInvite {
  readonly collection: CalendarCollection;
  readonly share: CollectionShare;
}

/** A collection someone shared with an account (directly or through a group), as the sharee sees it. */
export interface SharedCollection {
  readonly collection: CalendarCollection;
  /** The widest access of the shares that reach the account. */
  readonly access: ShareAccess;
}

/** A delegate of an account's whole calendar home (calendar-proxy-read / -write, secretariats). */
export interface Delegation {
  readonly ownerId: string;
  readonly delegate: ShareGrantee;
  readonly access: ShareAccess;
}

/** A dead property: Clark-notation name, the whole property element serialized as XML. */
export interface CollectionProperty {
  readonly name: string;
  readonly value: string;
}

export type CollectionPropertyPatch = { readonly op: 'set'; readonly name: string; readonly value: string } | { readonly op: 'remove'; readonly name: string };

export interface CalendarChange {
  readonly name: string;
  readonly kind: 'put' | 'delete';
}

export interface CalendarChanges {
  /** The counter the changes bring the client to (may be below the collection's when truncated). */
  readonly seq: number;
  /** Latest change per object name, oldest first. */
  readonly changes: readonly CalendarChange[];
  /** True when more changes follow: ask again from `seq`. */
  readonly truncated: boolean;
}

export interface CalendarStore {
  /** A collection of an account's; ConflictError(detail.reason = 'exists') when the name is taken. */
  createCollection(accountId: string, collection: NewCollection): Promise<CalendarCollection>;
  /** The read-only address book of a domain, made on first call. */
  ensureDomainAddressBook(domainId: string, name: string, displayName: string): Promise<CalendarCollection>;
  getCollection(id: string): Promise<CalendarCollection | null>;
  findCollection(accountId: string, name: string): Promise<CalendarCollection | null>;
  findDomainAddressBook(domainId: string): Promise<CalendarCollection | null>;
  /** An account's own collections, by name; `kind` to keep one kind. */
  listCollections(accountId: string, kind?: CollectionKind): Promise<CalendarCollection[]>;
  updateCollection(id: string, patch: CollectionPatch): Promise<CalendarCollection>;
  /** The collection, its objects, shares, properties and change log; usage given back. */
  deleteCollection(id: string): Promise<void>;

  collectionProperties(ids: readonly string[]): Promise<Map<string, CollectionProperty[]>>;
  /** Every set/remove in order, or none. `viewerId`: a sharee's own properties (their displayname, colour). */
  patchCollectionProperties(id: string, patch: readonly CollectionPropertyPatch[], viewerId?: string | null): Promise<void>;
  /** A sharee's own properties of a collection shared with them. */
  shareeProperties(viewerId: string, ids: readonly string[]): Promise<Map<string, CollectionProperty[]>>;

  getObject(collectionId: string, name: string, options?: { withData?: boolean }): Promise<CalendarObject | null>;
  /**
   * Many at once (calendar-multiget), with data unless `withData: false`; names not found are left out.
   * `dataUpTo`: the data only of objects of at most that many bytes, the others without (the caller reads
   * them in bounded batches), so a multiget is one query without risking 5,000 objects of 2 MiB in memory.
   */
  getObjects(collectionId: string, names: readonly string[], options?: GetObjectsOptions): Promise<CalendarObject[]>;
  findObjectByUid(collectionId: string, uid: string): Promise<CalendarObject | null>;
  /** Keyset-paged, in name order. */
  listObjects(collectionId: string, options?: ListObjectsOptions): Promise<CalendarObject[]>;
  /** listObjects() for a listing: the same pages in the same order, with the entries' fields only. */
  listEntries(collectionId: string, options?: Omit<ListObjectsOptions, 'withData'>): Promise<CalendarObjectEntry[]>;
  /**
   * Create or replace, in one transaction with its index, the change log and the owner's usage. A
   * different object with the same UID is a ConflictError(detail.reason = 'uid-conflict', detail.name);
   * over quota a QuotaExceededError; a read-only collection a ForbiddenError.
   */
  putObject(collectionId: string, name: string, data: string, index: ObjectIndex, options?: PutObjectOptions): Promise<PutObjectOutcome>;
  /** ConflictError(detail.reason = 'precondition') when `ifMatch` names another ETag; NotFoundError when absent. */
  deleteObject(collectionId: string, name: string, options?: { ifMatch?: string; system?: boolean }): Promise<void>;
  /** Candidates of a calendar-query / addressbook-query, by name, keyset-paged. */
  queryObjects(collectionId: string, query: ObjectQuery): Promise<QueriedObject[]>;

  /** What changed after `seq` (sync-collection); 'expired' for a pruned, foreign or future counter. */
  changesSince(collectionId: string, seq: number, limit?: number): Promise<CalendarChanges | 'expired'>;

  /**
   * Share, or change the access of a share. With an account: a new share (or one the sharee had
   * declined) is 'pending' again and posts a notice; a change of access posts a notice and keeps the status.
   */
  share(collectionId: string, grantee: ShareGrantee, access: ShareAccess): Promise<void>;
  unshare(collectionId: string, grantee: ShareGrantee): Promise<void>;
  sharesOf(collectionId: string): Promise<CollectionShare[]>;
  /** Collections shared with the account or one of its groups (not its own), but not those it declined. */
  sharedWith(accountId: string, groupIds: readonly string[]): Promise<SharedCollection[]>;
  /** Every share addressed to the account itself (not through a group), whatever its status. */
  invitesFor(accountId: string): Promise<ShareInvite[]>;
  /** The sharee's answer to a share addressed to it; NotFoundError when there is none. */
  replyToShare(collectionId: string, accountId: string, status: 'accepted' | 'declined'): Promise<void>;
  /** The sharee deleted the invite notification; NotFoundError when there is none standing. */
  dismissShareNotice(collectionId: string, accountId: string): Promise<void>;
  /** Answers to the owner's invitations that stand as notices for the owner (CalendarServer's invite-reply). */
  repliesTo(ownerId: string): Promise<ShareInvite[]>;
  /** The owner deleted the invite-reply notification of `shareeId`; NotFoundError when there is none standing. */
  dismissReplyNotice(collectionId: string, shareeId: string): Promise<void>;

  setDelegate(ownerId: string, delegate: ShareGrantee, access: ShareAccess | null): Promise<void>;
  delegatesOf(ownerId: string): Promise<Delegation[]>;
  /** Accounts whose calendar home this account (or one of its groups) is a delegate of. */
  delegationsTo(accountId: string, groupIds: readonly string[]): Promise<Delegation[]>;
}
