import {
  isPalabreError,
  type Account,
  type CalendarCollection,
  type CalendarObjectEntry,
  type CalendarStore,
  type CollectionKind,
  type DirectoryStore,
  type PropertyPatch,
  type ShareAccess,
  type UsageStore,
} from '@palabre/core';
import {
  ALL_PRIVILEGES,
  DAV,
  DavError,
  PropertyPatchError,
  READ_ONLY,
  READ_WRITE,
  davPath,
  findVisibleAccount,
  parseXml,
  textOf,
  virtualCollection,
  VersionedCache,
  type Ace,
  type DavBackend,
  type DavContext,
  type DavLookup,
  type DavPath,
  type DavResource,
  type NewCollectionOptions,
  type Privilege,
  type WriteRequest,
} from '@palabre/webdav';
import { CalendarObjects, isCalendarTimezone } from '../calendar-objects.js';
import { CalendarDataError, CALENDAR_KINDS } from '../icalendar/calendar-object.js';
import { CardDataError } from '../vcard/vcard.js';
import type { HomeFiles } from './home-files.js';
import { calendarTimezoneFor } from '../icalendar/timezone-reference.js';
import { PRODUCT_ID } from '../icalendar/calendar-export.js';
import { ADDRESSBOOKS, CALDAV, CALENDARS, CARDDAV, DIRECTORY_BOOK, READ_FREE_BUSY, SHARE, SHARED_PREFIX, cal, card, cs, isReservedCollectionName } from './names.js';

/** How the caller may use a home, a collection or an object. */
export type Access = 'owner' | 'read-write' | 'read' | 'free-busy';

export type GroupwareData =
  | { readonly kind: 'root' }
  | { readonly kind: 'home'; readonly owner: Account; readonly access: Access }
  | {
      readonly kind: 'collection';
      readonly collection: CalendarCollection;
      readonly owner: Account | null;
      readonly access: Access;
      /** Seen by a sharee in their own home (its segment is `shared.<id>`). */
      readonly sharedIn: boolean;
    }
  | { readonly kind: 'object'; readonly collection: CalendarCollection; readonly object: ListedObject; readonly access: Access };

/** An object as a resource holds it: a listing's entry, or a lookup's object, with its text when it was read along. */
export type ListedObject = CalendarObjectEntry & { readonly data?: string };

const FREE_BUSY_ONLY: ReadonlySet<Privilege> = new Set<Privilege>([READ_FREE_BUSY]);
const PRIVILEGES: Record<Access, ReadonlySet<Privilege>> = {
  owner: new Set<Privilege>([...ALL_PRIVILEGES, READ_FREE_BUSY, SHARE]),
  'read-write': new Set<Privilege>([...READ_WRITE, READ_FREE_BUSY]),
  read: new Set<Privilege>([...READ_ONLY, READ_FREE_BUSY]),
  'free-busy': FREE_BUSY_ONLY,
};
const READ_ONLY_BOOK: ReadonlySet<Privilege> = new Set<Privilege>([...READ_ONLY]);

const MEMO_DELEGATIONS = Symbol('groupware.delegations');
const MEMO_GROUPS = Symbol('groupware.groups');
const MEMO_SHARED = Symbol('groupware.shared');
/** Set by a multiget asking for calendar-data or address-data: lookupMany reads the small objects' data in its one query. */
export const MEMO_WANTS_DATA = Symbol('groupware.wants-data');
/** Objects whose data lookupMany reads along (at most a report batch of them: 500 x 16 KiB = 8 MiB). */
const DATA_ALONG_BYTES = 16 * 1024;
const DATA_ALONG_COUNT = 500;
/** Objects per page of a collection's listing. */
const PAGE = 1000;
/** Objects have no writable live properties (asked once per object of a listing: one set for all). */
const NOTHING_WRITABLE: ReadonlySet<string> = new Set();
/** getcontenttype of each component: one string per kind, not one per object of a listing. */
const CONTENT_TYPES: Partial<Record<string, string>> = Object.fromEntries(
  ['VEVENT', 'VTODO', 'VJOURNAL', 'VFREEBUSY', 'VAVAILABILITY'].map((c) => [c, `text/calendar; charset=utf-8; component=${c.toLowerCase()}`]).concat([['VCARD', 'text/vcard; charset=utf-8']]),
);

/** Live properties a client may set on a collection, stored with it. */
const WRITABLE_CALENDAR = new Set([`{${DAV}}displayname`, cal('calendar-description'), cal('calendar-timezone'), cal('calendar-timezone-id')]);
const WRITABLE_BOOK = new Set([`{${DAV}}displayname`, card('addressbook-description')]);

export interface GroupwareBackendOptions {
  readonly kind: CollectionKind;
  readonly store: CalendarStore;
  readonly objects: CalendarObjects;
  readonly directory: DirectoryStore;
  /** Name and display name of a domain's address list in every address-book home. */
  readonly directoryBook?: { readonly name: string; readonly displayName: string };
  /** Bytes used per account (RFC 4331 quota properties); without it no quota is shown. */
  readonly usage?: UsageStore;
}

const unquote = (etag: string | undefined) => (etag === undefined || etag === '*' ? etag : etag.replace(/^W\//, '').replace(/^"|"$/g, ''));

/**
 * Calendar homes (`/calendars/<address>/`) or address-book homes (`/addressbooks/<address>/`): an
 * account's collections, the ones shared with it (`shared.<id>`) and, for address books, its domain's
 * address list. The owner may do everything; a delegate of the home (calendar-proxy) what its
 * delegation says; a sharee what the share says, through its own home; another agent of the domain
 * only CALDAV:read-free-busy on calendars. Anyone else finds nothing (404), as for no account at all.
 */
export class GroupwareBackend implements DavBackend {
  readonly mount: string;
  readonly compliance: readonly string[];
  /** Plain collections and files of the homes (set by the plugin when a drive is there to keep them). */
  files: HomeFiles | null = null;
  /**
   * Entries of the collections listed lately (PROPFIND Depth 1, initial syncs), by collection and change
   * counter, read afresh with the collection on every request: a client listing a 25,000-object calendar
   * again, or another client after it, reads no rows. At most 100,000 entries (about 200 bytes each).
   */
  private readonly listings = new VersionedCache<readonly CalendarObjectEntry[]>(100_000);

  constructor(readonly options: GroupwareBackendOptions) {
    this.mount = options.kind === 'calendar' ? CALENDARS : ADDRESSBOOKS;
    this.compliance = options.kind === 'calendar' ? ['calendar-access'] : ['addressbook'];
  }

  private get store(): CalendarStore {
    return this.options.store;
  }

  private get bookName(): string {
    return this.options.directoryBook?.name ?? DIRECTORY_BOOK;
  }

  // ---------------------------------------------------------------- who may see what

  private async groupIds(ctx: DavContext): Promise<string[]> {
    let groups = ctx.memo.get(MEMO_GROUPS) as Promise<string[]> | undefined;
    if (!groups) {
      groups = this.options.directory.groupsOfAccount(ctx.principal.accountId).then((gs) => gs.map((g) => g.id));
      ctx.memo.set(MEMO_GROUPS, groups);
    }
    return groups;
  }

  /** The caller's access to someone's home: owner, a delegation, or (same domain) free-busy only. */
  private async homeAccess(ctx: DavContext, owner: Account): Promise<Access | null> {
    if (owner.id === ctx.principal.accountId) return 'owner';
    let delegations = ctx.memo.get(MEMO_DELEGATIONS) as Promise<Map<string, ShareAccess>> | undefined;
    if (!delegations) {
      delegations = this.groupIds(ctx).then(async (groups) => new Map((await this.store.delegationsTo(ctx.principal.accountId, groups)).map((d) => [d.ownerId, d.access])));
      ctx.memo.set(MEMO_DELEGATIONS, delegations);
    }
    const delegated = (await delegations).get(owner.id);
    if (delegated) return delegated;
    return this.options.kind === 'calendar' ? 'free-busy' : null;
  }

  private async sharedWithMe(ctx: DavContext): Promise<Map<string, { collection: CalendarCollection; access: ShareAccess }>> {
    let shared = ctx.memo.get(MEMO_SHARED) as Promise<Map<string, { collection: CalendarCollection; access: ShareAccess }>> | undefined;
    if (!shared) {
      shared = this.groupIds(ctx).then(async (groups) => {
        const list = await this.store.sharedWith(ctx.principal.accountId, groups);
        return new Map(list.filter((s) => s.collection.kind === this.options.kind).map((s) => [s.collection.id, s]));
      });
      ctx.memo.set(MEMO_SHARED, shared);
    }
    return shared;
  }

  // ---------------------------------------------------------------- resources

  private root(): DavResource {
    return virtualCollection(davPath([this.mount]), this, { kind: 'root' } satisfies GroupwareData);
  }

  private home(owner: Account, access: Access): DavResource {
    return {
      ...virtualCollection(davPath([this.mount, owner.address]), this, { kind: 'home', owner, access } satisfies GroupwareData),
      privileges: access === 'free-busy' ? FREE_BUSY_ONLY : PRIVILEGES[access],
      displayName: owner.displayName,
    };
  }

  collectionResource(home: Account, segment: string, collection: CalendarCollection, owner: Account | null, access: Access, sharedIn: boolean): DavResource {
    const types = collection.kind === 'calendar' ? [cal('calendar')] : [card('addressbook')];
    if (sharedIn) types.push(cs('shared'));
    else if (collection.shared && access === 'owner') types.push(cs('shared-owner'));
    const readOnly = collection.readOnly;
    return {
      path: davPath([this.mount, home.address, segment]),
      collection: true,
      etag: `"${collection.seq}"`,
      lastModified: collection.modifiedAt,
      createdAt: collection.createdAt,
      contentLength: null,
      contentType: null,
      displayName: collection.displayName,
      privileges: readOnly ? READ_ONLY_BOOK : PRIVILEGES[access],
      backend: this,
      resourceTypes: types,
      data: { kind: 'collection', collection, owner, access, sharedIn } satisfies GroupwareData,
    };
  }

  objectResource(parent: DavResource, object: ListedObject): DavResource {
    const data = parent.data as Extract<GroupwareData, { kind: 'collection' }>;
    return {
      path: davPath([...parent.path.segments, object.name]),
      collection: false,
      etag: `"${object.etag}"`,
      lastModified: object.modifiedAt,
      createdAt: object.createdAt,
      contentLength: object.size,
      contentType: CONTENT_TYPES[object.component] ?? `text/calendar; charset=utf-8; component=${object.component.toLowerCase()}`,
      displayName: null,
      privileges: parent.privileges,
      backend: this,
      data: { kind: 'object', collection: data.collection, object, access: data.access } satisfies GroupwareData,
    };
  }

  data(resource: DavResource): GroupwareData {
    return resource.data as GroupwareData;
  }

  /** `/calendars/<address>/…` names one home whatever the address's spelling (as the drive's homes). */
  canonical(path: DavPath): DavPath {
    return canonicalHomePath(path);
  }

  async lookup(ctx: DavContext, path: DavPath): Promise<DavLookup> {
    const [, address, segment, objectName, ...more] = path.segments;
    if (address === undefined) return { resource: this.root(), parent: null };
    const owner = await findVisibleAccount(this.options.directory, ctx, address);
    if (!owner) return { resource: null, parent: null };
    const access = await this.homeAccess(ctx, owner);
    if (!access) return { resource: null, parent: null };
    const home = this.home(owner, access);
    if (segment === undefined) return access === 'free-busy' ? { resource: null, parent: null } : { resource: home, parent: this.root() };
    const collection = await this.collectionAt(ctx, owner, access, segment);
    if (!collection && access === 'owner' && this.files) {
      // Not a calendar or an address book: one of the home's plain collections or files, or a new name.
      const found = await this.files.lookup(ctx, path);
      if (found.resource || found.parent || objectName !== undefined) return found;
    }
    if (objectName === undefined) return { resource: collection, parent: access === 'free-busy' ? null : home };
    // Free-busy only: the objects are not there at all (a 403 for a name that exists would tell which do).
    if (!collection || more.length || access === 'free-busy') return { resource: null, parent: null };
    const data = this.data(collection) as Extract<GroupwareData, { kind: 'collection' }>;
    const object = await this.store.getObject(data.collection.id, objectName);
    return { resource: object ? this.objectResource(collection, object) : null, parent: collection };
  }

  private async collectionAt(ctx: DavContext, owner: Account, access: Access, segment: string): Promise<DavResource | null> {
    if (access === 'owner' && segment.startsWith(SHARED_PREFIX)) {
      const shared = (await this.sharedWithMe(ctx)).get(segment.slice(SHARED_PREFIX.length));
      if (!shared) return null;
      const sharer = shared.collection.accountId ? await this.options.directory.getAccount(shared.collection.accountId).catch(() => null) : null;
      return this.collectionResource(owner, segment, shared.collection, sharer, shared.access, true);
    }
    if (access === 'owner' && this.options.kind === 'addressbook' && segment === this.bookName) {
      const book = await this.directoryBook(owner);
      return book ? this.collectionResource(owner, segment, book, null, 'read', false) : null;
    }
    const collection = await this.store.findCollection(owner.id, segment);
    if (!collection || collection.kind !== this.options.kind) return null;
    return this.collectionResource(owner, segment, collection, owner, access, false);
  }

  private async directoryBook(account: Account): Promise<CalendarCollection | null> {
    return this.store.findDomainAddressBook(account.domainId);
  }

  members(ctx: DavContext, collection: DavResource): Promise<DavResource[]> | AsyncIterable<readonly DavResource[]> {
    const data = this.data(collection);
    if (data.kind === 'root') {
      return this.options.directory
        .getAccount(ctx.principal.accountId)
        .then((me) => [this.home(me, 'owner')])
        .catch(() => []);
    }
    if (data.kind === 'home') return this.homeMembers(ctx, data.owner, data.access);
    if (data.kind === 'collection') return this.objectPages(collection, data.collection);
    return Promise.resolve([]);
  }

  private async homeMembers(ctx: DavContext, owner: Account, access: Access): Promise<DavResource[]> {
    const own = (await this.store.listCollections(owner.id, this.options.kind)).map((c) => this.collectionResource(owner, c.name, c, owner, access, false));
    if (access !== 'owner') return own;
    const shared = [...(await this.sharedWithMe(ctx)).values()];
    const sharers = new Map<string, Account | null>();
    for (const s of shared) {
      const id = s.collection.accountId;
      if (id && !sharers.has(id)) sharers.set(id, await this.options.directory.getAccount(id).catch(() => null));
    }
    const out = [...own, ...shared.map((s) => this.collectionResource(owner, `${SHARED_PREFIX}${s.collection.id}`, s.collection, sharers.get(s.collection.accountId ?? '') ?? null, s.access, true))];
    if (this.options.kind === 'addressbook') {
      const book = await this.directoryBook(owner);
      if (book) out.push(this.collectionResource(owner, this.bookName, book, null, 'read', false));
    }
    if (this.files) out.push(...(await this.files.homeMembers(ctx, davPath([this.mount, owner.address]))));
    return out;
  }

  /** A calendar or an address book asked for where the home's files would take a plain collection. */
  async makeTypedInHome(ctx: DavContext, homePath: DavPath, name: string, options: NewCollectionOptions): Promise<DavResource> {
    const { resource: home } = await this.lookup(ctx, homePath);
    if (!home || this.data(home).kind !== 'home') throw new DavError(409, 'no such home');
    return this.makeCollection(ctx, home, name, options);
  }

  private async *objectPages(collection: DavResource, listed: CalendarCollection): AsyncIterable<readonly DavResource[]> {
    const cached = this.listings.get(listed.id, listed.seq);
    if (cached) {
      for (let i = 0; i < cached.length; i += PAGE) {
        const page = new Array<DavResource>(Math.min(PAGE, cached.length - i));
        for (let k = 0; k < page.length; k++) page[k] = this.objectResource(collection, cached[i + k]!);
        yield page;
      }
      return;
    }
    // Kept only once the listing got to its end (a consumer that stops early leaves nothing half-made).
    const all: CalendarObjectEntry[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await this.store.listEntries(listed.id, { after, limit: PAGE });
      for (const entry of page) all.push(entry);
      if (page.length) yield page.map((o) => this.objectResource(collection, o));
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.name;
    }
    this.listings.set(listed.id, listed.seq, all, all.length);
  }

  /** calendar-multiget/addressbook-multiget: the objects of one collection in one query, with their data. */
  async lookupMany(ctx: DavContext, paths: readonly DavPath[]): Promise<Map<string, DavResource>> {
    const out = new Map<string, DavResource>();
    const byCollection = new Map<string, DavPath[]>();
    for (const p of paths) {
      if (p.segments.length !== 4) continue;
      const key = `${p.segments[1]}/${p.segments[2]}`;
      const list = byCollection.get(key);
      if (list) list.push(p);
      else byCollection.set(key, [p]);
    }
    for (const list of byCollection.values()) {
      const { resource: collection } = await this.lookup(ctx, davPath(list[0]!.segments.slice(0, 3)));
      if (!collection || this.data(collection).kind !== 'collection') continue;
      const data = this.data(collection) as Extract<GroupwareData, { kind: 'collection' }>;
      // Free-busy only: the objects are not there at all, as for lookup() (a 403 for a name that exists
      // and a 404 for one that does not would tell a colleague which names exist).
      if (data.access === 'free-busy') continue;
      // Without the stored text: a sync-collection or multiget asking for getetag alone need not read 10,000
      // objects' data; calendar-data and address-data read it for their batch (caldav-plugin's dataFor). A
      // multiget of at most a batch that wants the data has the small objects' text read in this same query.
      const along = ctx.memo.get(MEMO_WANTS_DATA) === true && list.length <= DATA_ALONG_COUNT;
      const options = along ? { dataUpTo: DATA_ALONG_BYTES } : { withData: false };
      for (const object of await this.store.getObjects(data.collection.id, list.map((p) => p.segments[3]!), options)) {
        out.set(davPath([...collection.path.segments, object.name]).key, this.objectResource(collection, object));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- content

  /** The object as stored (the plugin's GET answers calendar objects whose time zones it adds or takes out: objectOnGet). */
  async read(_ctx: DavContext, resource: DavResource, range?: { start: number; end: number }): Promise<Buffer> {
    const text = await this.storedText(resource);
    const bytes = Buffer.from(text);
    return range ? bytes.subarray(range.start, range.end + 1) : bytes;
  }

  async storedText(resource: DavResource): Promise<string> {
    const data = this.data(resource);
    if (data.kind !== 'object') throw new DavError(405, 'a collection has no content here');
    const text = data.object.data ?? (await this.store.getObject(data.collection.id, data.object.name, { withData: true }))?.data;
    if (text === undefined) throw new DavError(404, 'no such resource');
    return text;
  }

  async write(ctx: DavContext, parent: DavResource, name: string, request: WriteRequest): Promise<{ resource: DavResource; created: boolean }> {
    const data = this.data(parent);
    if (data.kind !== 'collection') throw new DavError(403, this.options.kind === 'calendar' ? 'calendar objects go into a calendar' : 'vCards go into an address book', { condition: this.options.kind === 'calendar' ? cal('calendar-collection-location-ok') : card('addressbook-collection-location-ok') });
    if (data.collection.readOnly) throw new DavError(403, 'this address book is read-only', { condition: `{${DAV}}need-privileges` });
    const limit = this.options.kind === 'calendar' ? this.options.objects.calendarLimits.maxBytes : this.options.objects.cardLimits.maxBytes;
    const content = await readWhole(request, limit, this.options.kind);
    const path = davPath([...parent.path.segments, name]);
    await ctx.dav.hooks.beforeWrite(ctx, { path, parent, existing: request.existing ?? null, contentType: request.contentType, content });
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(content);
    } catch {
      throw dataError(this.options.kind, 'the data is not UTF-8');
    }
    try {
      const outcome = await this.options.objects.put(data.collection, name, text, { ifMatch: unquote(request.ifMatch), ifNoneMatch: request.ifNoneMatchAny });
      const resource = this.objectResource(parent, outcome.object);
      await ctx.dav.hooks.afterWrite(ctx, { path, parent, existing: request.existing ?? null, contentType: request.contentType, content, resource, created: outcome.created });
      ctx.log.info({ kind: 'put', collection: data.collection.id, size: outcome.object.size }, 'caldav.changed');
      return { resource, created: outcome.created };
    } catch (error) {
      throw toGroupwareError(error, this.options.kind, (n) => ctx.dav.href(davPath([...parent.path.segments, n]), false));
    }
  }

  async remove(ctx: DavContext, resource: DavResource, options: { ifMatch?: string } = {}): Promise<void> {
    const data = this.data(resource);
    if (data.kind === 'object') {
      try {
        await this.store.deleteObject(data.collection.id, data.object.name, { ifMatch: unquote(options.ifMatch) });
      } catch (error) {
        throw toGroupwareError(error, this.options.kind, () => '');
      }
      return;
    }
    if (data.kind === 'collection') {
      if (data.sharedIn) {
        // A sharee removing a shared calendar from their home declines the share (their own; a group's
        // share is the group's, and stays): the owner's CS:invite then says invite-declined.
        await this.store.replyToShare(data.collection.id, ctx.principal.accountId, 'declined').catch((error: unknown) => {
          if (!isPalabreError(error, 'not-found')) throw error;
        });
        return;
      }
      if (data.collection.readOnly || data.access !== 'owner') throw new DavError(403, 'only its owner may delete this collection');
      await this.store.deleteCollection(data.collection.id);
      ctx.log.info({ kind: 'delete', collection: data.collection.id }, 'caldav.changed');
      return;
    }
    throw new DavError(403, 'a home cannot be deleted');
  }

  /**
   * A calendar (MKCALENDAR, or extended MKCOL with CALDAV:calendar) or an address book (extended MKCOL
   * with CARDDAV:addressbook), with its properties, in the home.
   */
  async makeCollection(ctx: DavContext, parent: DavResource, name: string, options?: NewCollectionOptions): Promise<DavResource> {
    const data = this.data(parent);
    if (data.kind !== 'home') throw new DavError(403, 'collections are made in a home', { condition: this.options.kind === 'calendar' ? cal('calendar-collection-location-ok') : card('addressbook-collection-location-ok') });
    if (data.access !== 'owner' && data.access !== 'read-write') throw new DavError(403, 'no privilege to make collections here');
    const wanted = this.options.kind === 'calendar' ? cal('calendar') : card('addressbook');
    const types = options?.resourceTypes ?? [];
    if (!types.includes(wanted) || types.some((t) => t !== wanted)) {
      throw new PropertyPatchError(new Map([[`{${DAV}}resourcetype`, { status: 403, condition: `{${DAV}}valid-resourcetype` }]]));
    }
    if (isReservedCollectionName(name, this.bookName)) throw new DavError(403, 'this name is reserved');
    const fields = collectionFields(this.options.kind, options?.properties ?? []);
    // Nothing made when a property of the body is refused (RFC 4791 §5.3.1.1: MKCALENDAR is atomic).
    if (fields.refused.size) throw new PropertyPatchError(fields.refused);
    let made: CalendarCollection;
    try {
      made = await this.store.createCollection(data.owner.id, {
        kind: this.options.kind,
        name,
        displayName: fields.displayName,
        description: fields.description,
        timezone: fields.timezone,
        components: fields.components,
      });
    } catch (error) {
      if (isPalabreError(error, 'conflict')) throw new DavError(405, 'something already exists here');
      if (isPalabreError(error, 'invalid')) throw new PropertyPatchError(new Map([[fields.componentsName ?? `{${DAV}}resourcetype`, { status: 403, condition: cal('supported-calendar-component') }]]));
      throw error;
    }
    if (fields.dead.length) {
      try {
        await this.store.patchCollectionProperties(made.id, fields.dead);
      } catch (error) {
        await this.store.deleteCollection(made.id).catch(() => undefined);
        throw error;
      }
    }
    ctx.log.info({ kind: 'mkcol', collection: made.id }, 'caldav.changed');
    return this.collectionResource(data.owner, name, made, data.owner, data.access, false);
  }

  // ---------------------------------------------------------------- properties

  writableProperties(resource: DavResource): ReadonlySet<string> {
    return this.data(resource).kind === 'collection' ? (this.options.kind === 'calendar' ? WRITABLE_CALENDAR : WRITABLE_BOOK) : NOTHING_WRITABLE;
  }

  async deadProperties(ctx: DavContext, resources: readonly DavResource[]): Promise<Map<DavResource, { name: string; value: string }[]>> {
    const out = new Map<DavResource, { name: string; value: string }[]>();
    const collections = resources.filter((r) => this.data(r).kind === 'collection');
    if (!collections.length) return out;
    const ids = collections.map((r) => (this.data(r) as Extract<GroupwareData, { kind: 'collection' }>).collection.id);
    const own = await this.store.collectionProperties(ids);
    const mine = await this.store.shareeProperties(ctx.principal.accountId, ids);
    for (const r of collections) {
      const d = this.data(r) as Extract<GroupwareData, { kind: 'collection' }>;
      const props = [...(own.get(d.collection.id) ?? [])];
      // A sharee's own settings (name, colour) cover the owner's.
      for (const p of d.sharedIn ? (mine.get(d.collection.id) ?? []) : []) {
        const i = props.findIndex((q) => q.name === p.name);
        if (i >= 0) props[i] = p;
        else props.push(p);
      }
      out.set(r, props);
    }
    return out;
  }

  async patchProperties(ctx: DavContext, resource: DavResource, patch: readonly PropertyPatch[]): Promise<void> {
    const data = this.data(resource);
    if (data.kind !== 'collection') throw new DavError(403, 'only collections keep properties here');
    if (data.sharedIn) {
      // A sharee's changes are their own: the owner and the other sharees keep theirs.
      await this.store.patchCollectionProperties(data.collection.id, patch, ctx.principal.accountId);
      return;
    }
    if (data.access !== 'owner' && data.access !== 'read-write') throw new DavError(403, 'no privilege to change this collection');
    const fields = collectionFields(this.options.kind, patch, true);
    if (fields.refused.size) throw new PropertyPatchError(fields.refused);
    const update: { displayName?: string | null; description?: string | null; timezone?: string | null } = {};
    if (fields.touched.has('displayName')) update.displayName = fields.displayName;
    if (fields.touched.has('description')) update.description = fields.description;
    if (fields.touched.has('timezone')) update.timezone = fields.timezone;
    if (Object.keys(update).length) await this.store.updateCollection(data.collection.id, update);
    if (fields.dead.length) await this.store.patchCollectionProperties(data.collection.id, fields.dead);
  }

  async quota(_ctx: DavContext, resource: DavResource): Promise<{ used: number; available: number | null } | null> {
    const data = this.data(resource);
    const owner = data.kind === 'home' ? data.owner : data.kind === 'collection' ? data.owner : null;
    if (!owner || !this.options.usage) return null;
    const used = (await this.options.usage.get(owner.id)).total;
    return { used, available: owner.quotaBytes === null ? null : owner.quotaBytes - used };
  }

  async owner(ctx: DavContext, resource: DavResource): Promise<DavPath | null> {
    const data = this.data(resource);
    const owner = data.kind === 'home' ? data.owner : data.kind === 'collection' ? data.owner : null;
    return owner ? ctx.dav.principals.user(owner.address) : null;
  }

  async acl(ctx: DavContext, resource: DavResource): Promise<Ace[]> {
    const data = this.data(resource);
    const owner = data.kind === 'home' ? data.owner : data.kind === 'collection' ? data.owner : null;
    const aces: Ace[] = [];
    if (owner) aces.push({ principal: ctx.dav.principals.user(owner.address), privileges: ['all'], protected: true });
    if (data.kind === 'collection' && !data.sharedIn && data.access === 'owner') {
      for (const share of await this.store.sharesOf(data.collection.id)) {
        const who =
          share.grantee.kind === 'account'
            ? await this.options.directory.getAccount(share.grantee.id).then((a) => ctx.dav.principals.user(a.address)).catch(() => null)
            : await this.options.directory.getGroup(share.grantee.id).then((g) => ctx.dav.principals.group(g.name)).catch(() => null);
        if (who) aces.push({ principal: who, privileges: share.access === 'read-write' ? ['read', 'write'] : ['read'], protected: true });
      }
    }
    return aces;
  }
}

/** `/<mount>/<address>/…` with the address as one spelling (case, NFC, a trailing dot), for every per-user mount here. */
export function canonicalHomePath(path: DavPath): DavPath {
  const name = path.segments[1];
  if (name === undefined) return path;
  const lower = name.normalize('NFC').toLowerCase().replace(/\.$/, '');
  return lower === name ? path : davPath([path.segments[0]!, lower, ...path.segments.slice(2)]);
}

/** What a PROPPATCH or a MKCALENDAR/extended MKCOL body says of a collection's own fields; the rest is dead. */
function collectionFields(kind: CollectionKind, patch: readonly PropertyPatch[], patching = false) {
  const out = {
    displayName: null as string | null,
    description: null as string | null,
    timezone: null as string | null,
    components: undefined as (typeof CALENDAR_KINDS)[number][] | undefined,
    componentsName: undefined as string | undefined,
    dead: [] as PropertyPatch[],
    refused: new Map<string, { status: number; condition?: string }>(),
    touched: new Set<string>(),
  };
  for (const p of patch) {
    const value = p.op === 'set' ? textOfSerialized(p.value) : null;
    if (p.name === `{${DAV}}displayname`) {
      out.displayName = value;
      out.touched.add('displayName');
    } else if (p.name === (kind === 'calendar' ? cal('calendar-description') : card('addressbook-description'))) {
      out.description = value;
      out.touched.add('description');
    } else if (kind === 'calendar' && p.name === cal('calendar-timezone')) {
      out.timezone = value;
      out.touched.add('timezone');
      if (value && !isCalendarTimezone(value)) out.refused.set(p.name, { status: 403, condition: cal('valid-calendar-data') });
    } else if (kind === 'calendar' && p.name === cal('calendar-timezone-id')) {
      // RFC 7809 §5.2: the zone by name; calendar-timezone then holds its definition. A name nobody knows is 403 valid-timezone.
      out.timezone = value === null || !value.trim() ? null : calendarTimezoneFor(value, PRODUCT_ID);
      out.touched.add('timezone');
      if (value !== null && value.trim() && out.timezone === null) out.refused.set(p.name, { status: 403, condition: cal('valid-timezone') });
    } else if (kind === 'calendar' && p.name === cal('supported-calendar-component-set')) {
      if (patching) out.refused.set(p.name, { status: 403, condition: `{${DAV}}cannot-modify-protected-property` });
      else if (p.op === 'set') {
        out.components = [...p.value.matchAll(/<(?:[A-Za-z0-9]+:)?comp\b[^>]*\bname\s*=\s*"([^"]+)"/g)].map((m) => m[1]!.toUpperCase()) as (typeof CALENDAR_KINDS)[number][];
        out.componentsName = p.name;
      }
    } else out.dead.push(p);
  }
  return out;
}

/** The text inside a serialized property element (`<displayname xmlns="DAV:">Agenda</displayname>`), read by the engine's XML codec. */
function textOfSerialized(xml: string): string {
  return textOf(parseXml(xml));
}

async function readWhole(request: WriteRequest, limit: number, kind: CollectionKind): Promise<Buffer> {
  if (request.expectedLength !== null && request.expectedLength > limit) throw sizeError(kind, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > limit) throw sizeError(kind, limit);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function sizeError(kind: CollectionKind, limit: number): DavError {
  return new DavError(403, `an object is at most ${limit} bytes here`, { condition: kind === 'calendar' ? cal('max-resource-size') : card('max-resource-size') });
}

function dataError(kind: CollectionKind, message: string): DavError {
  return new DavError(403, message, { condition: kind === 'calendar' ? cal('valid-calendar-data') : card('valid-address-data') });
}

/** Store and data errors in their CalDAV/CardDAV wire form (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1). */
export function toGroupwareError(error: unknown, kind: CollectionKind, hrefOf: (name: string) => string): unknown {
  const ns = kind === 'calendar' ? CALDAV : CARDDAV;
  if (error instanceof CalendarDataError) {
    const status = error.condition === 'max-resource-size' ? 403 : 403;
    return new DavError(status, error.message, { condition: `{${CALDAV}}${error.condition}` });
  }
  if (error instanceof CardDataError) return new DavError(403, error.message, { condition: `{${CARDDAV}}${error.condition}` });
  if (isPalabreError(error)) {
    const reason = (error.detail as { reason?: string; name?: string } | undefined)?.reason;
    if (reason === 'uid-conflict') {
      const name = (error.detail as { name?: string }).name ?? '';
      return new DavError(409, 'another object of this collection has the same UID', { condition: `{${ns}}no-uid-conflict`, hrefs: [hrefOf(name)] });
    }
    if (reason === 'precondition') return new DavError(412, 'the object changed (If-Match / If-None-Match)');
    if (error.kind === 'quota') return new DavError(507, 'the owner is over quota', { condition: `{DAV:}quota-not-exceeded` });
    if (error.kind === 'too-large') return new DavError(403, error.message, { condition: `{${ns}}max-resource-size` });
    if (error.kind === 'invalid' && (error.detail as { reason?: string } | undefined)?.reason === 'component') {
      return new DavError(403, error.message, { condition: `{${CALDAV}}supported-calendar-component` });
    }
    if (error.kind === 'forbidden') return new DavError(403, error.message);
    if (error.kind === 'invalid') return new DavError(403, error.message, { condition: kind === 'calendar' ? `{${CALDAV}}valid-calendar-object-resource` : `{${CARDDAV}}valid-address-data` });
  }
  return error;
}
