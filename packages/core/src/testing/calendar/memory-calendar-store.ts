import { randomUUID } from 'node:crypto';
import {
  calendarTopic,
  checkAccess,
  checkCalendarName,
  checkGrantee,
  checkIndex,
  checkNewCollection,
  checkObjectData,
  checkOptionalText,
  checkPropertyPatch,
  checkQueryLimit,
  checkTimezone,
  beyondInstances,
  instanceMatches,
  MAX_COLLECTION_PROPERTIES,
  objectEtag,
  preconditionFailed,
  queryWindow,
  uidConflict,
  widen,
  widerAccess,
  checkReply,
  sharedAgain,
  byCollectionThenSharee,
} from '../../calendar/calendar-rules.js';
import type {
  CalendarChanges,
  CalendarCollection,
  CalendarObject,
  CalendarObjectEntry,
  CalendarStore,
  CollectionKind,
  CollectionPatch,
  CollectionProperty,
  CollectionPropertyPatch,
  CollectionShare,
  Delegation,
  GetObjectsOptions,
  ListObjectsOptions,
  NewCollection,
  ObjectIndex,
  ObjectQuery,
  PutObjectOptions,
  PutObjectOutcome,
  QueriedObject,
  ShareAccess,
  ShareGrantee,
  ShareInvite,
  SharedCollection,
} from '../../calendar/calendar-store.js';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError, QuotaExceededError } from '../../errors.js';
import { systemClock, type Clock } from '../../ports/clock.js';
import type { DirectoryStore } from '../../directory/directory-store.js';
import type { Notifier } from '../../ports/notifier.js';
import type { UsageStore } from '../../usage/usage-store.js';
import { MemoryChangeLog } from '../system/memory-system-stores.js';

type Stored = { object: CalendarObject; data: string; index: ObjectIndex };
type Collection = { -readonly [K in keyof CalendarCollection]: CalendarCollection[K] };

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const key = (g: ShareGrantee) => `${g.kind}:${g.id}`;

/**
 * CalendarStore in memory, for the protocol packages' tests: the same rules and errors as
 * SqlCalendarStore (the calendar-store contract runs on both). Each method's changes happen after its
 * awaits, so each is atomic with respect to the others.
 */
export class MemoryCalendarStore implements CalendarStore {
  private readonly collections = new Map<string, Collection>();
  private readonly objects = new Map<string, Map<string, Stored>>();
  private readonly props = new Map<string, Map<string, CollectionProperty>>(); // `${collection}\u0000${viewer}`
  private readonly shares = new Map<string, Map<string, CollectionShare>>();
  private readonly delegates = new Map<string, Map<string, Delegation>>();
  private readonly changes = new MemoryChangeLog();
  private readonly clock: Clock;

  constructor(private readonly options: { directory: DirectoryStore; usage: UsageStore; clock?: Clock; notifier?: Notifier }) {
    this.clock = options.clock ?? systemClock;
  }

  private collection(id: string): Collection {
    const c = this.collections.get(id);
    if (!c) throw new NotFoundError('no such collection');
    return c;
  }

  private async requireAccount(id: string): Promise<{ quotaBytes: number | null }> {
    return this.options.directory.getAccount(id).catch(() => {
      throw new NotFoundError('no such account');
    });
  }

  private async requireGrantee(g: ShareGrantee): Promise<void> {
    const found = g.kind === 'account' ? await this.options.directory.getAccount(g.id).catch(() => null) : await this.options.directory.getGroup(g.id).catch(() => null);
    if (!found) throw new NotFoundError(`no such ${g.kind}`);
  }

  private touched(id: string, seq: number): void {
    this.options.notifier?.publish(calendarTopic(id), { seq }).catch(() => undefined);
  }

  private view(c: Collection, seq: number): CalendarCollection {
    return { ...c, components: [...c.components], seq, shared: (this.shares.get(c.id)?.size ?? 0) > 0 };
  }

  private async snapshot(c: Collection): Promise<CalendarCollection> {
    return this.view(c, await this.changes.current(`cal:${c.id}`));
  }

  async createCollection(accountId: string, input: NewCollection): Promise<CalendarCollection> {
    const c = checkNewCollection(input);
    await this.requireAccount(accountId);
    if ([...this.collections.values()].some((x) => x.accountId === accountId && x.name === c.name)) {
      throw new ConflictError('a collection with this name exists', { detail: { reason: 'exists' } });
    }
    const now = this.clock.now();
    const made: Collection = { id: randomUUID(), ...c, accountId, domainId: null, readOnly: false, seq: 0, createdAt: now, modifiedAt: now };
    this.collections.set(made.id, made);
    this.objects.set(made.id, new Map());
    return this.snapshot(made);
  }

  async ensureDomainAddressBook(domainId: string, name: string, displayName: string): Promise<CalendarCollection> {
    const found = [...this.collections.values()].find((c) => c.domainId === domainId);
    if (found) return this.snapshot(found);
    await this.options.directory.getDomainById(domainId).catch(() => {
      throw new NotFoundError('no such domain');
    });
    const again = [...this.collections.values()].find((c) => c.domainId === domainId);
    if (again) return this.snapshot(again);
    const now = this.clock.now();
    const made: Collection = {
      id: randomUUID(),
      kind: 'addressbook',
      accountId: null,
      domainId,
      name: checkCalendarName(name),
      displayName: checkOptionalText(displayName, 'a display name'),
      description: null,
      timezone: null,
      components: [],
      readOnly: true,
      seq: 0,
      createdAt: now,
      modifiedAt: now,
    };
    this.collections.set(made.id, made);
    this.objects.set(made.id, new Map());
    return this.snapshot(made);
  }

  async getCollection(id: string): Promise<CalendarCollection | null> {
    const c = this.collections.get(id);
    return c ? this.snapshot(c) : null;
  }

  async findCollection(accountId: string, name: string): Promise<CalendarCollection | null> {
    const c = [...this.collections.values()].find((x) => x.accountId === accountId && x.name === name);
    return c ? this.snapshot(c) : null;
  }

  async findDomainAddressBook(domainId: string): Promise<CalendarCollection | null> {
    const c = [...this.collections.values()].find((x) => x.domainId === domainId);
    return c ? this.snapshot(c) : null;
  }

  async listCollections(accountId: string, kind?: CollectionKind): Promise<CalendarCollection[]> {
    const mine = [...this.collections.values()].filter((c) => c.accountId === accountId && (!kind || c.kind === kind)).sort(byName);
    return Promise.all(mine.map((c) => this.snapshot(c)));
  }

  async updateCollection(id: string, patch: CollectionPatch): Promise<CalendarCollection> {
    const next: Partial<Collection> = {};
    if (patch.displayName !== undefined) next.displayName = checkOptionalText(patch.displayName, 'a display name');
    if (patch.description !== undefined) next.description = checkOptionalText(patch.description, 'a description');
    if (patch.timezone !== undefined) next.timezone = checkTimezone(patch.timezone);
    const c = this.collection(id);
    if (c.readOnly) throw new ForbiddenError('this collection is read-only');
    Object.assign(c, next, { modifiedAt: this.clock.now() });
    return this.snapshot(c);
  }

  async deleteCollection(id: string): Promise<void> {
    const c = this.collection(id);
    const used = [...this.objects.get(id)!.values()].reduce((n, s) => n + s.object.size, 0);
    if (c.accountId && used) await this.options.usage.add(c.accountId, c.kind === 'addressbook' ? 'contacts' : 'calendar', -used);
    this.collections.delete(id);
    this.objects.delete(id);
    this.shares.delete(id);
    for (const k of [...this.props.keys()]) if (k.startsWith(`${id}\u0000`)) this.props.delete(k);
    await this.changes.drop(`cal:${id}`);
    this.touched(id, -1);
  }

  async collectionProperties(ids: readonly string[]): Promise<Map<string, CollectionProperty[]>> {
    return this.propertiesOf('', ids);
  }

  async shareeProperties(viewerId: string, ids: readonly string[]): Promise<Map<string, CollectionProperty[]>> {
    if (!viewerId) return new Map();
    return this.propertiesOf(viewerId, ids);
  }

  private propertiesOf(viewer: string, ids: readonly string[]): Map<string, CollectionProperty[]> {
    const out = new Map<string, CollectionProperty[]>();
    for (const id of ids) out.set(id, [...(this.props.get(`${id}\u0000${viewer}`)?.values() ?? [])].sort(byName));
    return out;
  }

  async patchCollectionProperties(id: string, patch: readonly CollectionPropertyPatch[], viewerId: string | null = null): Promise<void> {
    checkPropertyPatch(patch);
    const viewer = viewerId ?? '';
    const c = this.collection(id);
    if (c.readOnly && viewer === '') throw new ForbiddenError('this collection is read-only');
    const current = new Map(this.props.get(`${id}\u0000${viewer}`) ?? []);
    for (const p of patch) {
      if (p.op === 'set') current.set(p.name, { name: p.name, value: p.value });
      else current.delete(p.name);
    }
    if (current.size > MAX_COLLECTION_PROPERTIES) throw new QuotaExceededError(`at most ${MAX_COLLECTION_PROPERTIES} properties per collection`);
    this.props.set(`${id}\u0000${viewer}`, current);
  }

  private stored(collectionId: string): Map<string, Stored> {
    return this.objects.get(collectionId) ?? new Map();
  }

  async getObject(collectionId: string, name: string, options: { withData?: boolean } = {}): Promise<CalendarObject | null> {
    const s = this.stored(collectionId).get(name);
    return s ? (options.withData ? { ...s.object, data: s.data } : s.object) : null;
  }

  async getObjects(collectionId: string, names: readonly string[], options: GetObjectsOptions = {}): Promise<CalendarObject[]> {
    const all = this.stored(collectionId);
    return [...new Set(names)].flatMap((n) => {
      const s = all.get(n);
      if (!s) return [];
      const upTo = options.dataUpTo ?? Infinity;
      return options.withData === false || s.object.size > upTo ? [s.object] : [{ ...s.object, data: s.data }];
    });
  }

  async findObjectByUid(collectionId: string, uid: string): Promise<CalendarObject | null> {
    return [...this.stored(collectionId).values()].find((s) => s.object.uid === uid)?.object ?? null;
  }

  async listObjects(collectionId: string, options: ListObjectsOptions = {}): Promise<CalendarObject[]> {
    const limit = checkQueryLimit(options.limit);
    const after = options.after ?? null;
    return [...this.stored(collectionId).values()]
      .map((s) => (options.withData ? { ...s.object, data: s.data } : s.object))
      .filter((o) => after === null || o.name > after)
      .sort(byName)
      .slice(0, limit);
  }

  async listEntries(collectionId: string, options: Omit<ListObjectsOptions, 'withData'> = {}): Promise<CalendarObjectEntry[]> {
    return (await this.listObjects(collectionId, { ...options, withData: false })).map(({ name, component, etag, size, createdAt, modifiedAt }) => ({ name, component, etag, size, createdAt, modifiedAt }));
  }

  async putObject(collectionId: string, name: string, data: string, rawIndex: ObjectIndex, options: PutObjectOptions = {}): Promise<PutObjectOutcome> {
    checkCalendarName(name);
    checkObjectData(data);
    const c = this.collection(collectionId);
    if (c.readOnly && !options.system) throw new ForbiddenError('this collection is read-only');
    const index = checkIndex(rawIndex, c.kind);
    if (c.kind === 'calendar' && !c.components.includes(index.component)) {
      throw new InvalidInputError(`this calendar does not accept ${index.component}`, { detail: { reason: 'component' } });
    }
    const size = Buffer.byteLength(data);
    const kind = c.kind === 'addressbook' ? 'contacts' : 'calendar';
    // What needs an await comes first: from the checks to the write nothing else can run.
    const quota = c.accountId ? (await this.requireAccount(c.accountId)).quotaBytes : null;
    const used = c.accountId && quota !== null ? (await this.options.usage.get(c.accountId)).total : 0;
    if (this.collections.get(collectionId) !== c) throw new NotFoundError('no such collection');
    const all = this.stored(collectionId);
    const old = all.get(name);
    if (options.ifNoneMatch && old) throw preconditionFailed();
    if (options.ifMatch !== undefined && (!old || (options.ifMatch !== '*' && options.ifMatch !== old.object.etag))) throw preconditionFailed();
    const sameUid = [...all.values()].find((s) => s.object.uid === index.uid);
    if (sameUid && sameUid.object.name !== name) throw uidConflict(sameUid.object.name);
    const delta = size - (old?.object.size ?? 0);
    if (quota !== null && delta > 0 && used + delta > quota) throw new QuotaExceededError('the owner is over quota', { detail: { accountId: c.accountId } });
    const now = this.clock.now();
    const object: CalendarObject = {
      id: old?.object.id ?? randomUUID(),
      collectionId,
      name,
      uid: index.uid,
      component: index.component,
      etag: objectEtag(data),
      size,
      createdAt: old?.object.createdAt ?? now,
      modifiedAt: now,
    };
    all.set(name, { object, data, index });
    c.modifiedAt = now;
    if (c.accountId && delta !== 0) await this.options.usage.add(c.accountId, kind, delta);
    this.touched(collectionId, await this.changes.record(`cal:${collectionId}`, [{ item: name, kind: 'put' }]));
    return { object, created: !old };
  }

  async deleteObject(collectionId: string, name: string, options: { ifMatch?: string; system?: boolean } = {}): Promise<void> {
    const c = this.collection(collectionId);
    if (c.readOnly && !options.system) throw new ForbiddenError('this collection is read-only');
    const all = this.stored(collectionId);
    const old = all.get(name);
    if (!old) throw new NotFoundError('no such object');
    if (options.ifMatch !== undefined && options.ifMatch !== '*' && options.ifMatch !== old.object.etag) throw preconditionFailed();
    all.delete(name);
    if (c.accountId) await this.options.usage.add(c.accountId, c.kind === 'addressbook' ? 'contacts' : 'calendar', -old.object.size);
    this.touched(collectionId, await this.changes.record(`cal:${collectionId}`, [{ item: name, kind: 'delete' }]));
  }

  async queryObjects(collectionId: string, query: ObjectQuery): Promise<QueriedObject[]> {
    const limit = checkQueryLimit(query.limit);
    const window = queryWindow(query);
    const after = query.after ?? null;
    const out: QueriedObject[] = [];
    for (const s of [...this.stored(collectionId).values()].sort((a, b) => byName(a.object, b.object))) {
      if (query.component && s.object.component !== query.component) continue;
      if (after !== null && s.object.name <= after) continue;
      if ((query.textContains ?? []).some((t) => !(s.index.searchText ?? '').includes(t))) continue;
      let check = false;
      if (window) {
        const wide = widen(window);
        const { index } = s;
        let hit = false;
        for (const i of index.instances) {
          const overlaps = instanceMatches(i, index.floating, index.exact, window);
          if (overlaps) {
            hit = true;
            check = index.floating || !index.exact;
            break;
          }
        }
        if (beyondInstances(index, index.floating ? wide : window)) {
          hit = true;
          check = true;
        }
        if (!hit) continue;
      }
      out.push({ object: query.withData ? { ...s.object, data: s.data } : s.object, check });
      if (out.length >= limit) break;
    }
    return out;
  }

  async changesSince(collectionId: string, seq: number, limit = 1000): Promise<CalendarChanges | 'expired'> {
    const set = await this.changes.since(`cal:${collectionId}`, seq, limit);
    if (set === 'expired') return 'expired';
    const current = await this.changes.current(`cal:${collectionId}`);
    return { seq: set.seq, changes: set.changes.map((c) => ({ name: c.item, kind: c.kind })), truncated: set.seq < current };
  }

  async share(collectionId: string, rawGrantee: ShareGrantee, rawAccess: ShareAccess): Promise<void> {
    const grantee = checkGrantee(rawGrantee);
    const access = checkAccess(rawAccess);
    const c = this.collection(collectionId);
    if (grantee.kind === 'account' && grantee.id === c.accountId) throw new InvalidInputError('a collection is not shared with its owner');
    await this.requireGrantee(grantee);
    let shares = this.shares.get(collectionId);
    if (!shares) this.shares.set(collectionId, (shares = new Map()));
    const had = shares.get(key(grantee)) ?? null;
    const next = sharedAgain(grantee.kind, had, access);
    if (!next.changed && had) return;
    const now = this.clock.now();
    shares.set(key(grantee), { collectionId, grantee, access, createdAt: had?.createdAt ?? now, status: next.status, notice: next.notice, replyNotice: next.replyNotice, modifiedAt: now });
  }

  async unshare(collectionId: string, rawGrantee: ShareGrantee): Promise<void> {
    const grantee = checkGrantee(rawGrantee);
    this.shares.get(collectionId)?.delete(key(grantee));
    if (grantee.kind === 'account') this.props.delete(`${collectionId}\u0000${grantee.id}`);
  }

  async sharesOf(collectionId: string): Promise<CollectionShare[]> {
    return [...(this.shares.get(collectionId)?.values() ?? [])].sort((a, b) => (key(a.grantee) < key(b.grantee) ? -1 : 1));
  }

  async sharedWith(accountId: string, groupIds: readonly string[]): Promise<SharedCollection[]> {
    const mine = new Set([`account:${accountId}`, ...groupIds.map((g) => `group:${g}`)]);
    const out: SharedCollection[] = [];
    for (const [collectionId, shares] of this.shares) {
      const c = this.collections.get(collectionId);
      if (!c || c.accountId === accountId) continue;
      let access: ShareAccess | null = null;
      for (const s of shares.values()) if (mine.has(key(s.grantee)) && s.status !== 'declined') access = access ? widerAccess(access, s.access) : s.access;
      if (access) out.push({ collection: await this.snapshot(c), access });
    }
    return out.sort((a, b) => (a.collection.id < b.collection.id ? -1 : 1));
  }

  async invitesFor(accountId: string): Promise<ShareInvite[]> {
    const out: ShareInvite[] = [];
    for (const [collectionId, shares] of this.shares) {
      const share = shares.get(`account:${accountId}`);
      const c = this.collections.get(collectionId);
      if (share && c) out.push({ collection: await this.snapshot(c), share });
    }
    return out.sort((a, b) => (a.collection.id < b.collection.id ? -1 : 1));
  }

  async replyToShare(collectionId: string, accountId: string, rawStatus: 'accepted' | 'declined'): Promise<void> {
    const status = checkReply(rawStatus);
    const shares = this.shares.get(collectionId);
    const had = shares?.get(`account:${accountId}`);
    if (!shares || !had) throw new NotFoundError('no share of this collection is addressed to this account');
    if (had.status !== status) shares.set(`account:${accountId}`, { ...had, status, replyNotice: true, modifiedAt: this.clock.now() });
  }

  async dismissShareNotice(collectionId: string, accountId: string): Promise<void> {
    const shares = this.shares.get(collectionId);
    const had = shares?.get(`account:${accountId}`);
    if (!shares || !had?.notice) throw new NotFoundError('no such notification');
    shares.set(`account:${accountId}`, { ...had, notice: false });
  }

  async repliesTo(ownerId: string): Promise<ShareInvite[]> {
    const out: ShareInvite[] = [];
    for (const [collectionId, shares] of this.shares) {
      const c = this.collections.get(collectionId);
      if (!c || c.accountId !== ownerId) continue;
      for (const share of shares.values()) if (share.grantee.kind === 'account' && share.replyNotice) out.push({ collection: await this.snapshot(c), share });
    }
    return out.sort(byCollectionThenSharee);
  }

  async dismissReplyNotice(collectionId: string, shareeId: string): Promise<void> {
    const shares = this.shares.get(collectionId);
    const had = shares?.get(`account:${shareeId}`);
    if (!shares || !had?.replyNotice) throw new NotFoundError('no such notification');
    shares.set(`account:${shareeId}`, { ...had, replyNotice: false });
  }

  async setDelegate(ownerId: string, rawDelegate: ShareGrantee, access: ShareAccess | null): Promise<void> {
    const delegate = checkGrantee(rawDelegate);
    if (access !== null) checkAccess(access);
    await this.requireAccount(ownerId);
    if (access === null) {
      this.delegates.get(ownerId)?.delete(key(delegate));
      return;
    }
    if (delegate.kind === 'account' && delegate.id === ownerId) throw new InvalidInputError('an account is not its own delegate');
    await this.requireGrantee(delegate);
    let list = this.delegates.get(ownerId);
    if (!list) this.delegates.set(ownerId, (list = new Map()));
    list.set(key(delegate), { ownerId, delegate, access });
  }

  async delegatesOf(ownerId: string): Promise<Delegation[]> {
    return [...(this.delegates.get(ownerId)?.values() ?? [])].sort((a, b) => (key(a.delegate) < key(b.delegate) ? -1 : 1));
  }

  async delegationsTo(accountId: string, groupIds: readonly string[]): Promise<Delegation[]> {
    const mine = new Set([`account:${accountId}`, ...groupIds.map((g) => `group:${g}`)]);
    const byOwner = new Map<string, Delegation>();
    for (const [ownerId, list] of this.delegates) {
      if (ownerId === accountId) continue;
      for (const d of list.values()) {
        if (!mine.has(key(d.delegate))) continue;
        const had = byOwner.get(ownerId);
        byOwner.set(ownerId, had ? { ...d, access: widerAccess(had.access, d.access) } : d);
      }
    }
    return [...byOwner.values()].sort((a, b) => (a.ownerId < b.ownerId ? -1 : 1));
  }
}
