import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
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
  byCollectionThenSharee,
  checkReply,
  sharedAgain,
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
  ComponentKind,
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
  SharedCollection,
  ShareInvite,
  InviteStatus,
} from '../../calendar/calendar-store.js';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError, QuotaExceededError, isPalabreError } from '../../errors.js';
import { systemClock, type Clock } from '../../ports/clock.js';
import { silentLogger, type Logger } from '../../ports/logger.js';
import type { Notifier } from '../../ports/notifier.js';
import type { UsageKind } from '../../usage/usage-store.js';
import type { Database } from '../database.js';
import { SqlChangeLog } from '../system/sql-change-log.js';
import { chunks, marks } from '../sql-lists.js';
import { SqlUsageStore } from '../usage/sql-usage-store.js';

export interface SqlCalendarStoreOptions {
  readonly clock?: Clock;
  readonly notifier?: Notifier;
  readonly logger?: Logger;
}

interface CollectionDbRow {
  id: string;
  kind: string;
  account_id: string | null;
  domain_id: string | null;
  name: string;
  display_name: string | null;
  description: string | null;
  timezone: string | null;
  components: string;
  read_only: boolean | number;
  max_span_ms: number | string;
  created_at: number | string;
  modified_at: number | string;
  seq: number | string | null;
  shared?: boolean | number | string | null;
}

type EntryDbRow = Pick<ObjectDbRow, 'name' | 'component' | 'etag' | 'size' | 'created_at' | 'modified_at'>;

interface ObjectDbRow {
  id: string;
  collection_id: string;
  name: string;
  uid: string;
  component: string;
  etag: string;
  size: number | string;
  created_at: number | string;
  modified_at: number | string;
  data?: string | null;
  floating?: boolean | number;
  exact?: boolean | number;
  instances_until?: number | string | null;
  last_end?: number | string | null;
}

const COLLECTION_COLS =
  'c.id, c.kind, c.account_id, c.domain_id, c.name, c.display_name, c.description, c.timezone, c.components, c.read_only, c.max_span_ms, c.created_at, c.modified_at, cc.seq, EXISTS (SELECT 1 FROM calendar_shares s WHERE s.collection_id = c.id) AS shared';
const OBJECT_COLS = 'o.id, o.collection_id, o.name, o.uid, o.component, o.etag, o.size, o.created_at, o.modified_at';
/** OBJECT_COLS of one collection's objects, whose id the caller gave: a listing of 25,000 reads each column's value anew. */
const LISTED_COLS = 'o.id, o.name, o.uid, o.component, o.etag, o.size, o.created_at, o.modified_at';
/** listEntries' columns, all in idx_calendar_objects_listing (migration 1796000750000): a page never reads the table. */
const ENTRY_COLS = 'o.name, o.component, o.etag, o.size, o.created_at, o.modified_at';
const N = (v: number | string | null | undefined): number => Number(v ?? 0);
const IN_CHUNK = 500;
const CHANGE_PREFIX = 'cal:';

interface ShareDbRow {
  collection_id: string;
  grantee_kind: string;
  grantee_id: string;
  access: string;
  created_at: number | string;
  status: string | null;
  notice: boolean | number | string | null;
  modified_at: number | string | null;
  reply_notice: boolean | number | string | null;
}

const SHARE_COLS = 'collection_id, grantee_kind, grantee_id, access, created_at, status, notice, modified_at, reply_notice';
const SHARE_COLS_OF_S = SHARE_COLS.split(', ').map((c) => `s.${c}`).join(', ');
const truthy = (v: unknown): boolean => v === true || Number(v) === 1;
const inviteStatus = (v: unknown): InviteStatus => (v === 'pending' || v === 'declined' ? v : 'accepted');

function toShare(r: ShareDbRow): CollectionShare {
  return {
    collectionId: r.collection_id,
    grantee: { kind: r.grantee_kind === 'group' ? 'group' : 'account', id: r.grantee_id },
    access: r.access === 'read-write' ? 'read-write' : 'read',
    createdAt: new Date(N(r.created_at)),
    status: inviteStatus(r.status),
    notice: truthy(r.notice),
    replyNotice: truthy(r.reply_notice),
    modifiedAt: new Date(N(r.modified_at) || N(r.created_at)),
  };
}

/** The change-log collection of a calendar or address book (its sync-token counter). */
export const changeLogKey = (collectionId: string): string => `${CHANGE_PREFIX}${collectionId}`;

function toCollection(r: CollectionDbRow): CalendarCollection {
  return {
    id: r.id,
    kind: r.kind === 'addressbook' ? 'addressbook' : 'calendar',
    accountId: r.account_id,
    domainId: r.domain_id,
    name: r.name,
    displayName: r.display_name,
    description: r.description,
    timezone: r.timezone,
    components: r.components ? (r.components.split(',') as ComponentKind[]) : [],
    readOnly: Boolean(Number(r.read_only)),
    seq: N(r.seq),
    createdAt: new Date(N(r.created_at)),
    modifiedAt: new Date(N(r.modified_at)),
    shared: r.shared === true || Number(r.shared) === 1,
  };
}

function toObject(r: ObjectDbRow, collectionId?: string): CalendarObject {
  const o: CalendarObject = {
    id: r.id,
    collectionId: collectionId ?? r.collection_id,
    name: r.name,
    uid: r.uid,
    component: r.component as ComponentKind,
    etag: r.etag,
    size: N(r.size),
    createdAt: new Date(N(r.created_at)),
    modifiedAt: new Date(N(r.modified_at)),
  };
  // null: left out by getObjects' dataUpTo (the column itself is never null).
  return r.data === undefined || r.data === null ? o : { ...o, data: r.data };
}

const usageKind = (kind: CollectionKind): UsageKind => (kind === 'addressbook' ? 'contacts' : 'calendar');
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * CalendarStore on SQL. Writes to one collection take its row lock first (PostgreSQL FOR UPDATE;
 * SQLite's single writer), so the UID check, the change-log counter and the usage add up even with
 * several nodes writing; every write is one transaction and notifies after commit.
 */
export class SqlCalendarStore implements CalendarStore {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly changes: SqlChangeLog;
  private readonly usage: SqlUsageStore;
  private readonly forUpdate: string;

  constructor(
    private readonly db: Database,
    private readonly options: SqlCalendarStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'calendar-store' });
    this.changes = new SqlChangeLog(db);
    this.usage = new SqlUsageStore(db);
    this.forUpdate = db.dialect === 'postgres' ? ' FOR UPDATE' : '';
  }

  private q(m: EntityManager, sql: string, params: unknown[] = []): Promise<any[]> {
    return m.query(this.db.sql(sql), params);
  }

  private read<T>(what: string, fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.run(fn, what);
  }

  /** A write transaction; the collections it touched are notified after commit. */
  private async write<T>(what: string, fn: (m: EntityManager, touched: Map<string, number>) => Promise<T>): Promise<T> {
    const touched = new Map<string, number>();
    const result = await this.db.transaction(
      (m) => {
        touched.clear();
        return fn(m, touched);
      },
      { what },
    );
    const notifier = this.options.notifier;
    if (notifier) {
      for (const [id, seq] of touched) {
        notifier.publish(calendarTopic(id), { seq }).catch((error: unknown) => this.log.warn({ collectionId: id, err: (error as Error)?.message }, 'calendar.notify-failed'));
      }
    }
    return result;
  }

  private selectCollections(where: string): string {
    return `SELECT ${COLLECTION_COLS} FROM calendar_collections c LEFT JOIN change_collections cc ON cc.collection = '${CHANGE_PREFIX}' || c.id WHERE ${where}`;
  }

  private async lockCollection(m: EntityManager, id: string): Promise<{ collection: CalendarCollection; maxSpan: number; quota: number | null }> {
    const rows = await this.q(m, `SELECT id, account_id, kind, read_only, max_span_ms FROM calendar_collections WHERE id = ?${this.forUpdate}`, [id]);
    if (!rows[0]) throw new NotFoundError('no such collection');
    const full = await this.q(m, this.selectCollections('c.id = ?'), [id]);
    const collection = toCollection(full[0]);
    let quota: number | null = null;
    if (collection.accountId) {
      const a = await this.q(m, 'SELECT quota_bytes FROM accounts WHERE id = ?', [collection.accountId]);
      quota = a[0]?.quota_bytes === null || a[0]?.quota_bytes === undefined ? null : N(a[0].quota_bytes);
    }
    return { collection, maxSpan: N(rows[0].max_span_ms), quota };
  }

  // ------------------------------------------------------------ collections

  async createCollection(accountId: string, input: NewCollection): Promise<CalendarCollection> {
    const c = checkNewCollection(input);
    const id = randomUUID();
    const now = this.clock.now().getTime();
    try {
      await this.write('creating a collection', async (m) => {
        const owner = await this.q(m, 'SELECT id FROM accounts WHERE id = ?', [accountId]);
        if (!owner.length) throw new NotFoundError('no such account');
        await this.q(
          m,
          `INSERT INTO calendar_collections (id, kind, account_id, domain_id, name, display_name, description, timezone, components, read_only, max_span_ms, created_at, modified_at)
           VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
          [id, c.kind, accountId, c.name, c.displayName, c.description, c.timezone, c.components.join(','), false, now, now],
        );
      });
    } catch (error) {
      if (isPalabreError(error, 'conflict')) throw new ConflictError('a collection with this name exists', { detail: { reason: 'exists' }, cause: error });
      throw error;
    }
    return (await this.getCollection(id))!;
  }

  async ensureDomainAddressBook(domainId: string, name: string, displayName: string): Promise<CalendarCollection> {
    const found = await this.findDomainAddressBook(domainId);
    if (found) return found;
    const now = this.clock.now().getTime();
    try {
      await this.write('creating a domain address book', async (m) => {
        await this.q(
          m,
          `INSERT INTO calendar_collections (id, kind, account_id, domain_id, name, display_name, description, timezone, components, read_only, max_span_ms, created_at, modified_at)
           VALUES (?, 'addressbook', NULL, ?, ?, ?, NULL, NULL, '', ?, 0, ?, ?)`,
          [randomUUID(), domainId, checkCalendarName(name), checkOptionalText(displayName, 'a display name'), true, now, now],
        );
      });
    } catch (error) {
      // Made at the same moment by another node: theirs is as good.
      if (!isPalabreError(error, 'conflict')) throw error;
    }
    const made = await this.findDomainAddressBook(domainId);
    if (!made) throw new NotFoundError('no such domain');
    return made;
  }

  async getCollection(id: string): Promise<CalendarCollection | null> {
    const rows = await this.db.select<CollectionDbRow>(this.selectCollections('c.id = ?'), [id], 'reading a collection');
    return rows[0] ? toCollection(rows[0]) : null;
  }

  async findCollection(accountId: string, name: string): Promise<CalendarCollection | null> {
    const rows = await this.db.select<CollectionDbRow>(this.selectCollections('c.account_id = ? AND c.name = ?'), [accountId, name], 'reading a collection');
    return rows[0] ? toCollection(rows[0]) : null;
  }

  async findDomainAddressBook(domainId: string): Promise<CalendarCollection | null> {
    const rows = await this.db.select<CollectionDbRow>(this.selectCollections('c.domain_id = ?'), [domainId], 'reading a collection');
    return rows[0] ? toCollection(rows[0]) : null;
  }

  async listCollections(accountId: string, kind?: CollectionKind): Promise<CalendarCollection[]> {
    const rows = kind
      ? await this.db.select<CollectionDbRow>(`${this.selectCollections('c.account_id = ? AND c.kind = ?')} ORDER BY c.name`, [accountId, kind], 'listing collections')
      : await this.db.select<CollectionDbRow>(`${this.selectCollections('c.account_id = ?')} ORDER BY c.name`, [accountId], 'listing collections');
    return rows.map(toCollection);
  }

  async updateCollection(id: string, patch: CollectionPatch): Promise<CalendarCollection> {
    const sets: string[] = [];
    const params: unknown[] = [];
    if (patch.displayName !== undefined) {
      sets.push('display_name = ?');
      params.push(checkOptionalText(patch.displayName, 'a display name'));
    }
    if (patch.description !== undefined) {
      sets.push('description = ?');
      params.push(checkOptionalText(patch.description, 'a description'));
    }
    if (patch.timezone !== undefined) {
      sets.push('timezone = ?');
      params.push(checkTimezone(patch.timezone));
    }
    await this.write('updating a collection', async (m) => {
      const { collection } = await this.lockCollection(m, id);
      if (collection.readOnly) throw new ForbiddenError('this collection is read-only');
      sets.push('modified_at = ?');
      params.push(this.clock.now().getTime());
      await this.q(m, `UPDATE calendar_collections SET ${sets.join(', ')} WHERE id = ?`, [...params, id]);
    });
    return (await this.getCollection(id))!;
  }

  async deleteCollection(id: string): Promise<void> {
    await this.write('deleting a collection', async (m, touched) => {
      const { collection } = await this.lockCollection(m, id);
      if (collection.accountId) {
        const used = await this.q(m, 'SELECT COALESCE(SUM(size), 0) AS bytes FROM calendar_objects WHERE collection_id = ?', [id]);
        await this.usage.addIn(m, collection.accountId, usageKind(collection.kind), -N(used[0]?.bytes));
      }
      await this.q(m, 'DELETE FROM calendar_collections WHERE id = ?', [id]);
      await this.q(m, 'DELETE FROM change_entries WHERE collection = ?', [changeLogKey(id)]);
      await this.q(m, 'DELETE FROM change_collections WHERE collection = ?', [changeLogKey(id)]);
      touched.set(id, -1);
    });
  }

  // ------------------------------------------------------------ properties

  async collectionProperties(ids: readonly string[]): Promise<Map<string, CollectionProperty[]>> {
    return this.propertiesOf('', ids);
  }

  async shareeProperties(viewerId: string, ids: readonly string[]): Promise<Map<string, CollectionProperty[]>> {
    if (!viewerId) return new Map();
    return this.propertiesOf(viewerId, ids);
  }

  private async propertiesOf(viewerId: string, ids: readonly string[]): Promise<Map<string, CollectionProperty[]>> {
    const out = new Map<string, CollectionProperty[]>();
    for (const id of ids) out.set(id, []);
    await this.read('reading properties', async (m) => {
      for (const part of chunks([...new Set(ids)], IN_CHUNK)) {
        const rows: { collection_id: string; name: string; value: string }[] = await this.q(
          m,
          `SELECT collection_id, name, value FROM calendar_props WHERE viewer_id = ? AND collection_id IN (${marks(part.length)}) ORDER BY name`,
          [viewerId, ...part],
        );
        for (const r of rows) out.get(r.collection_id)?.push({ name: r.name, value: r.value });
      }
    });
    return out;
  }

  async patchCollectionProperties(id: string, patch: readonly CollectionPropertyPatch[], viewerId: string | null = null): Promise<void> {
    checkPropertyPatch(patch);
    const viewer = viewerId ?? '';
    await this.write('changing properties', async (m) => {
      const { collection } = await this.lockCollection(m, id);
      if (collection.readOnly && viewer === '') throw new ForbiddenError('this collection is read-only');
      for (const p of patch) {
        if (p.op === 'set') {
          await this.q(
            m,
            'INSERT INTO calendar_props (collection_id, viewer_id, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (collection_id, viewer_id, name) DO UPDATE SET value = excluded.value',
            [id, viewer, p.name, p.value],
          );
        } else {
          await this.q(m, 'DELETE FROM calendar_props WHERE collection_id = ? AND viewer_id = ? AND name = ?', [id, viewer, p.name]);
        }
      }
      const count = await this.q(m, 'SELECT COUNT(*) AS n FROM calendar_props WHERE collection_id = ? AND viewer_id = ?', [id, viewer]);
      if (N(count[0]?.n) > MAX_COLLECTION_PROPERTIES) throw new QuotaExceededError(`at most ${MAX_COLLECTION_PROPERTIES} properties per collection`);
    });
  }

  // ------------------------------------------------------------ objects

  async getObject(collectionId: string, name: string, options: { withData?: boolean } = {}): Promise<CalendarObject | null> {
    const cols = options.withData ? `${OBJECT_COLS}, o.data` : OBJECT_COLS;
    const rows = await this.db.select<ObjectDbRow>(`SELECT ${cols} FROM calendar_objects o WHERE o.collection_id = ? AND o.name = ?`, [collectionId, name], 'reading an object');
    return rows[0] ? toObject(rows[0]) : null;
  }

  async getObjects(collectionId: string, names: readonly string[], options: GetObjectsOptions = {}): Promise<CalendarObject[]> {
    const out: CalendarObject[] = [];
    const upTo = options.withData === false ? null : options.dataUpTo;
    const cols = options.withData === false ? OBJECT_COLS : upTo !== undefined && upTo !== null ? `${OBJECT_COLS}, CASE WHEN o.size <= ? THEN o.data END AS data` : `${OBJECT_COLS}, o.data`;
    const first = upTo !== undefined && upTo !== null ? [Math.max(0, Math.floor(upTo))] : [];
    for (const part of chunks([...new Set(names)], IN_CHUNK)) {
      const rows = await this.db.select<ObjectDbRow>(
        `SELECT ${cols} FROM calendar_objects o WHERE o.collection_id = ? AND o.name IN (${marks(part.length)})`,
        [...first, collectionId, ...part],
        'reading objects',
      );
      for (const r of rows) out.push(toObject(r));
    }
    return out;
  }

  async findObjectByUid(collectionId: string, uid: string): Promise<CalendarObject | null> {
    const rows = await this.db.select<ObjectDbRow>(`SELECT ${OBJECT_COLS} FROM calendar_objects o WHERE o.collection_id = ? AND o.uid = ?`, [collectionId, uid], 'reading an object');
    return rows[0] ? toObject(rows[0]) : null;
  }

  async listObjects(collectionId: string, options: ListObjectsOptions = {}): Promise<CalendarObject[]> {
    const limit = checkQueryLimit(options.limit);
    const cols = options.withData ? `${LISTED_COLS}, o.data` : LISTED_COLS;
    const rows =
      options.after === undefined || options.after === null
        ? await this.db.select<ObjectDbRow>(`SELECT ${cols} FROM calendar_objects o WHERE o.collection_id = ? ORDER BY o.name LIMIT ?`, [collectionId, limit], 'listing objects')
        : await this.db.select<ObjectDbRow>(`SELECT ${cols} FROM calendar_objects o WHERE o.collection_id = ? AND o.name > ? ORDER BY o.name LIMIT ?`, [collectionId, options.after, limit], 'listing objects');
    const out = new Array<CalendarObject>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = toObject(rows[i]!, collectionId);
    return out;
  }

  async listEntries(collectionId: string, options: Omit<ListObjectsOptions, 'withData'> = {}): Promise<CalendarObjectEntry[]> {
    const limit = checkQueryLimit(options.limit);
    const rows =
      options.after === undefined || options.after === null
        ? await this.db.select<EntryDbRow>(`SELECT ${ENTRY_COLS} FROM calendar_objects o WHERE o.collection_id = ? ORDER BY o.name LIMIT ?`, [collectionId, limit], 'listing objects')
        : await this.db.select<EntryDbRow>(`SELECT ${ENTRY_COLS} FROM calendar_objects o WHERE o.collection_id = ? AND o.name > ? ORDER BY o.name LIMIT ?`, [collectionId, options.after, limit], 'listing objects');
    const out = new Array<CalendarObjectEntry>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out[i] = { name: r.name, component: r.component as ComponentKind, etag: r.etag, size: N(r.size), createdAt: new Date(N(r.created_at)), modifiedAt: new Date(N(r.modified_at)) };
    }
    return out;
  }

  async putObject(collectionId: string, name: string, data: string, rawIndex: ObjectIndex, options: PutObjectOptions = {}): Promise<PutObjectOutcome> {
    checkCalendarName(name);
    checkObjectData(data);
    const etag = objectEtag(data);
    const size = Buffer.byteLength(data);
    const id = await this.write('writing an object', async (m, touched) => {
      const { collection, maxSpan, quota } = await this.lockCollection(m, collectionId);
      if (collection.readOnly && !options.system) throw new ForbiddenError('this collection is read-only');
      const index = checkIndex(rawIndex, collection.kind);
      if (collection.kind === 'calendar' && !collection.components.includes(index.component)) {
        throw new InvalidInputError(`this calendar does not accept ${index.component}`, { detail: { reason: 'component' } });
      }
      const existing: { id: string; etag: string; size: number | string; created_at: number | string }[] = await this.q(
        m,
        'SELECT id, etag, size, created_at FROM calendar_objects WHERE collection_id = ? AND name = ?',
        [collectionId, name],
      );
      const old = existing[0];
      if (options.ifNoneMatch && old) throw preconditionFailed();
      if (options.ifMatch !== undefined && (!old || (options.ifMatch !== '*' && options.ifMatch !== old.etag))) throw preconditionFailed();
      const sameUid: { name: string }[] = await this.q(m, 'SELECT name FROM calendar_objects WHERE collection_id = ? AND uid = ?', [collectionId, index.uid]);
      if (sameUid[0] && sameUid[0].name !== name) throw uidConflict(sameUid[0].name);
      const delta = size - (old ? N(old.size) : 0);
      if (collection.accountId && delta > 0 && quota !== null) {
        const used = await this.usage.getIn(m, collection.accountId);
        if (used.total + delta > quota) throw new QuotaExceededError('the owner is over quota', { detail: { accountId: collection.accountId } });
      }
      const now = this.clock.now().getTime();
      const objectId = old?.id ?? randomUUID();
      if (old) {
        await this.q(
          m,
          `UPDATE calendar_objects SET uid = ?, component = ?, etag = ?, size = ?, data = ?, first_start = ?, last_end = ?, instances_until = ?, instances_from = ?,
             floating = ?, recurring = ?, exact = ?, search_text = ?, modified_at = ? WHERE id = ?`,
          [index.uid, index.component, etag, size, data, index.firstStart, index.lastEnd, index.instancesUntil, index.instancesFrom, index.floating, index.recurring, index.exact, index.searchText, now, objectId],
        );
        await this.q(m, 'DELETE FROM calendar_instances WHERE object_id = ?', [objectId]);
      } else {
        await this.q(
          m,
          `INSERT INTO calendar_objects (id, collection_id, name, uid, component, etag, size, data, first_start, last_end, instances_until, instances_from, floating, recurring, exact, search_text, created_at, modified_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [objectId, collectionId, name, index.uid, index.component, etag, size, data, index.firstStart, index.lastEnd, index.instancesUntil, index.instancesFrom, index.floating, index.recurring, index.exact, index.searchText, now, now],
        );
      }
      let span = 0;
      const rows = index.instances.map((i, ord) => {
        span = Math.max(span, i.end - i.start);
        return [objectId, ord, collectionId, i.start, i.end, index.floating, index.exact];
      });
      for (const part of chunks(rows, 100)) {
        await this.q(
          m,
          `INSERT INTO calendar_instances (object_id, ord, collection_id, start_ms, end_ms, floating, exact) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          part.flat(),
        );
      }
      await this.q(m, `UPDATE calendar_collections SET modified_at = ?${span > maxSpan ? ', max_span_ms = ?' : ''} WHERE id = ?`, span > maxSpan ? [now, span, collectionId] : [now, collectionId]);
      if (collection.accountId && delta !== 0) await this.usage.addIn(m, collection.accountId, usageKind(collection.kind), delta);
      touched.set(collectionId, await this.changes.recordIn(m, changeLogKey(collectionId), [{ item: name, kind: 'put' }]));
      return { objectId, created: !old };
    });
    const object = await this.getObject(collectionId, name);
    if (!object || object.id !== id.objectId) throw new ConflictError('the object changed while it was written', { retryable: true });
    return { object, created: id.created };
  }

  async deleteObject(collectionId: string, name: string, options: { ifMatch?: string; system?: boolean } = {}): Promise<void> {
    await this.write('deleting an object', async (m, touched) => {
      const { collection } = await this.lockCollection(m, collectionId);
      if (collection.readOnly && !options.system) throw new ForbiddenError('this collection is read-only');
      const rows: { id: string; etag: string; size: number | string }[] = await this.q(m, 'SELECT id, etag, size FROM calendar_objects WHERE collection_id = ? AND name = ?', [collectionId, name]);
      const old = rows[0];
      if (!old) throw new NotFoundError('no such object');
      if (options.ifMatch !== undefined && options.ifMatch !== '*' && options.ifMatch !== old.etag) throw preconditionFailed();
      await this.q(m, 'DELETE FROM calendar_objects WHERE id = ?', [old.id]);
      if (collection.accountId) await this.usage.addIn(m, collection.accountId, usageKind(collection.kind), -N(old.size));
      touched.set(collectionId, await this.changes.recordIn(m, changeLogKey(collectionId), [{ item: name, kind: 'delete' }]));
    });
  }

  async queryObjects(collectionId: string, query: ObjectQuery): Promise<QueriedObject[]> {
    const limit = checkQueryLimit(query.limit);
    const window = queryWindow(query);
    const cols = query.withData ? `${OBJECT_COLS}, o.data` : OBJECT_COLS;
    const filters: string[] = ['o.collection_id = ?'];
    const params: unknown[] = [collectionId];
    if (query.component) {
      filters.push('o.component = ?');
      params.push(query.component);
    }
    if (query.after !== undefined && query.after !== null) {
      filters.push('o.name > ?');
      params.push(query.after);
    }
    for (const text of query.textContains ?? []) {
      filters.push("o.search_text LIKE ? ESCAPE '\\'");
      params.push(`%${escapeLike(text)}%`);
    }
    if (!window) {
      const rows = await this.db.select<ObjectDbRow>(`SELECT ${cols} FROM calendar_objects o WHERE ${filters.join(' AND ')} ORDER BY o.name LIMIT ?`, [...params, limit], 'querying objects');
      return rows.map((r) => ({ object: toObject(r), check: false }));
    }
    const check = await this.timeCandidates(collectionId, window);
    // The candidates are fetched by primary key. With `collection_id = ?` (or ORDER BY name) in this
    // statement SQLite walks the collection's name index instead and tests every row of the calendar
    // against the IN list: 40 ms per 500 candidates on a 10,000-object calendar. The ids come from the
    // collection's own instances; the collection is checked on the rows all the same.
    // Only the names of every candidate are read, then the rows of this page: a query answered in pages
    // would otherwise read every candidate's row (and text) again for each page, 2,800 rows six times for
    // a month of a 25,000-event calendar.
    const byId = filters.slice(1).join(' AND ');
    const fits = check.size <= limit;
    // Candidates that fit in one page: their rows in one pass (reading the names first would cost about as
    // much, and then the page's rows a second time).
    const named: { id: string; name: string; row?: ObjectDbRow }[] = [];
    for (const part of chunks([...check.keys()], IN_CHUNK)) {
      const rows = await this.db.select<ObjectDbRow>(
        `SELECT ${fits ? cols : 'o.id, o.name, o.collection_id'} FROM calendar_objects o WHERE o.id IN (${marks(part.length)})${byId ? ` AND ${byId}` : ''}`,
        [...part, ...params.slice(1)],
        'querying objects',
      );
      for (const r of rows) if (r.collection_id === collectionId) named.push({ id: r.id, name: r.name, row: fits ? r : undefined });
    }
    named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const page = named.slice(0, limit);
    const rowsById = new Map<string, ObjectDbRow>();
    const unread = page.filter((c) => !c.row).map((c) => c.id);
    for (const part of chunks(unread, IN_CHUNK)) {
      const rows = await this.db.select<ObjectDbRow>(`SELECT ${cols} FROM calendar_objects o WHERE o.id IN (${marks(part.length)})`, part, 'querying objects');
      for (const r of rows) rowsById.set(r.id, r);
    }
    const out: QueriedObject[] = [];
    for (const { id, row } of page) {
      // Gone between the two reads (a concurrent DELETE): not a match any more.
      const r = row ?? rowsById.get(id);
      if (r && r.collection_id === collectionId) out.push({ object: toObject(r), check: check.get(id)! });
    }
    return out;
  }

  /**
   * Objects with an occurrence in the window, with whether the index alone decided it. One range scan
   * of the instance index: an instance overlapping the window starts at most the collection's longest
   * span (plus the floating slack) before it. Series whose instances stop before the window ends come
   * from the objects' horizon column.
   */
  private async timeCandidates(collectionId: string, window: ReturnType<typeof queryWindow> & object): Promise<Map<string, boolean>> {
    const wide = widen(window);
    const out = new Map<string, boolean>();
    const head = await this.db.select<{ max_span_ms: number | string }>('SELECT max_span_ms FROM calendar_collections WHERE id = ?', [collectionId], 'querying objects');
    if (!head[0]) return out;
    const from = Math.max(Number.MIN_SAFE_INTEGER, wide.start - N(head[0].max_span_ms));
    const rows = await this.db.select<{ object_id: string; start_ms: number | string; end_ms: number | string; floating: boolean | number; exact: boolean | number }>(
      'SELECT object_id, start_ms, end_ms, floating, exact FROM calendar_instances WHERE collection_id = ? AND start_ms >= ? AND start_ms < ?',
      [collectionId, from, wide.end === Number.MAX_SAFE_INTEGER ? wide.end : wide.end + 1],
      'querying instances',
    );
    for (const r of rows) {
      const instance = { start: N(r.start_ms), end: N(r.end_ms) };
      const floating = Boolean(Number(r.floating));
      const exact = Boolean(Number(r.exact));
      if (!instanceMatches(instance, floating, exact, window)) continue;
      const check = floating || !exact;
      out.set(r.object_id, (out.get(r.object_id) ?? false) || check);
    }
    // Series whose stored instances do not cover the window (floating ones compared with the wide one).
    type Horizon = { id: string; instances_until: number | string | null; instances_from: number | string | null; first_start: number | string | null; last_end: number | string | null; floating: boolean | number };
    const cols = 'id, instances_until, instances_from, first_start, last_end, floating';
    const beyond = [
      ...(await this.db.select<Horizon>(
        `SELECT ${cols} FROM calendar_objects WHERE collection_id = ? AND instances_until IS NOT NULL AND instances_until < ? AND (last_end IS NULL OR last_end > ?)`,
        [collectionId, wide.end, wide.start],
        'querying series',
      )),
      ...(await this.db.select<Horizon>(
        `SELECT ${cols} FROM calendar_objects WHERE collection_id = ? AND instances_from IS NOT NULL AND instances_from > ? AND (first_start IS NULL OR first_start < ?)`,
        [collectionId, wide.start, wide.end],
        'querying series',
      )),
    ];
    const orNull = (v: number | string | null) => (v === null ? null : N(v));
    for (const h of beyond) {
      const index = { instancesUntil: orNull(h.instances_until), instancesFrom: orNull(h.instances_from), firstStart: orNull(h.first_start), lastEnd: orNull(h.last_end) };
      if (beyondInstances(index, Number(h.floating) ? wide : window)) out.set(h.id, true);
    }
    return out;
  }

  // ------------------------------------------------------------ sync

  async changesSince(collectionId: string, seq: number, limit = 1000): Promise<CalendarChanges | 'expired'> {
    const set = await this.changes.since(changeLogKey(collectionId), seq, limit);
    if (set === 'expired') return 'expired';
    const current = await this.changes.current(changeLogKey(collectionId));
    return { seq: set.seq, changes: set.changes.map((c) => ({ name: c.item, kind: c.kind })), truncated: set.seq < current };
  }

  // ------------------------------------------------------------ sharing and delegation

  async share(collectionId: string, rawGrantee: ShareGrantee, rawAccess: ShareAccess): Promise<void> {
    const grantee = checkGrantee(rawGrantee);
    const access = checkAccess(rawAccess);
    await this.write('sharing a collection', async (m) => {
      const { collection } = await this.lockCollection(m, collectionId);
      if (grantee.kind === 'account' && grantee.id === collection.accountId) throw new InvalidInputError('a collection is not shared with its owner');
      const table = grantee.kind === 'account' ? 'accounts' : 'groups';
      if (!(await this.q(m, `SELECT id FROM ${table} WHERE id = ?`, [grantee.id])).length) throw new NotFoundError(`no such ${grantee.kind}`);
      const [row] = await this.q(m, 'SELECT access, status, notice, reply_notice FROM calendar_shares WHERE collection_id = ? AND grantee_kind = ? AND grantee_id = ?', [collectionId, grantee.kind, grantee.id]);
      const had = row ? { access: checkAccess(row.access), status: inviteStatus(row.status), notice: truthy(row.notice), replyNotice: truthy(row.reply_notice) } : null;
      const next = sharedAgain(grantee.kind, had, access);
      if (!next.changed) return;
      const now = this.clock.now().getTime();
      if (had) {
        await this.q(m, 'UPDATE calendar_shares SET access = ?, status = ?, notice = ?, reply_notice = ?, modified_at = ? WHERE collection_id = ? AND grantee_kind = ? AND grantee_id = ?', [
          access,
          next.status,
          next.notice,
          next.replyNotice,
          now,
          collectionId,
          grantee.kind,
          grantee.id,
        ]);
      } else {
        await this.q(m, 'INSERT INTO calendar_shares (collection_id, grantee_kind, grantee_id, access, created_at, status, notice, modified_at, reply_notice) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
          collectionId,
          grantee.kind,
          grantee.id,
          access,
          now,
          next.status,
          next.notice,
          now,
          next.replyNotice,
        ]);
      }
    });
  }

  async unshare(collectionId: string, rawGrantee: ShareGrantee): Promise<void> {
    const grantee = checkGrantee(rawGrantee);
    await this.write('unsharing a collection', async (m) => {
      await this.q(m, 'DELETE FROM calendar_shares WHERE collection_id = ? AND grantee_kind = ? AND grantee_id = ?', [collectionId, grantee.kind, grantee.id]);
      if (grantee.kind === 'account') await this.q(m, 'DELETE FROM calendar_props WHERE collection_id = ? AND viewer_id = ?', [collectionId, grantee.id]);
    });
  }

  async sharesOf(collectionId: string): Promise<CollectionShare[]> {
    const rows = await this.db.select<ShareDbRow>(`SELECT ${SHARE_COLS} FROM calendar_shares WHERE collection_id = ? ORDER BY grantee_kind, grantee_id`, [collectionId], 'listing shares');
    return rows.map(toShare);
  }

  async sharedWith(accountId: string, groupIds: readonly string[]): Promise<SharedCollection[]> {
    const grantees: [string, string][] = [['account', accountId], ...groupIds.map((g) => ['group', g] as [string, string])];
    const found = new Map<string, ShareAccess>();
    for (const part of chunks(grantees, IN_CHUNK)) {
      const rows = await this.db.select<{ collection_id: string; access: string }>(
        `SELECT collection_id, access FROM calendar_shares WHERE (status IS NULL OR status <> 'declined') AND (${part.map(() => '(grantee_kind = ? AND grantee_id = ?)').join(' OR ')})`,
        part.flat(),
        'listing shared collections',
      );
      for (const r of rows) {
        const access: ShareAccess = r.access === 'read-write' ? 'read-write' : 'read';
        const had = found.get(r.collection_id);
        found.set(r.collection_id, had ? widerAccess(had, access) : access);
      }
    }
    const out: SharedCollection[] = [];
    for (const part of chunks([...found.keys()], IN_CHUNK)) {
      const rows = await this.db.select<CollectionDbRow>(`${this.selectCollections(`c.id IN (${marks(part.length)})`)}`, part, 'listing shared collections');
      for (const r of rows) {
        const collection = toCollection(r);
        if (collection.accountId === accountId) continue;
        out.push({ collection, access: found.get(collection.id)! });
      }
    }
    return out.sort((a, b) => (a.collection.id < b.collection.id ? -1 : 1));
  }

  async invitesFor(accountId: string): Promise<ShareInvite[]> {
    const shares = (await this.db.select<ShareDbRow>(`SELECT ${SHARE_COLS} FROM calendar_shares WHERE grantee_kind = 'account' AND grantee_id = ?`, [accountId], 'listing invitations')).map(toShare);
    const byId = new Map(shares.map((s) => [s.collectionId, s]));
    const out: ShareInvite[] = [];
    for (const part of chunks([...byId.keys()], IN_CHUNK)) {
      const rows = await this.db.select<CollectionDbRow>(this.selectCollections(`c.id IN (${marks(part.length)})`), part, 'listing invitations');
      for (const r of rows) out.push({ collection: toCollection(r), share: byId.get(r.id)! });
    }
    return out.sort((a, b) => (a.collection.id < b.collection.id ? -1 : 1));
  }

  async replyToShare(collectionId: string, accountId: string, rawStatus: 'accepted' | 'declined'): Promise<void> {
    const status = checkReply(rawStatus);
    await this.write('answering a share', async (m) => {
      const [row] = await this.q(m, "SELECT status FROM calendar_shares WHERE collection_id = ? AND grantee_kind = 'account' AND grantee_id = ?", [collectionId, accountId]);
      if (!row) throw new NotFoundError('no share of this collection is addressed to this account');
      if (row.status === status) return;
      // The answer is news for the owner: it stands as their invite-reply notice.
      await this.q(m, "UPDATE calendar_shares SET status = ?, reply_notice = ?, modified_at = ? WHERE collection_id = ? AND grantee_kind = 'account' AND grantee_id = ?", [
        status,
        true,
        this.clock.now().getTime(),
        collectionId,
        accountId,
      ]);
    });
  }

  async dismissShareNotice(collectionId: string, accountId: string): Promise<void> {
    await this.write('dismissing a share notice', async (m) => {
      const [row] = await this.q(m, "SELECT notice FROM calendar_shares WHERE collection_id = ? AND grantee_kind = 'account' AND grantee_id = ?", [collectionId, accountId]);
      if (!row || !truthy(row.notice)) throw new NotFoundError('no such notification');
      await this.q(m, "UPDATE calendar_shares SET notice = ? WHERE collection_id = ? AND grantee_kind = 'account' AND grantee_id = ?", [false, collectionId, accountId]);
    });
  }

  async repliesTo(ownerId: string): Promise<ShareInvite[]> {
    const shares = (
      await this.db.select<ShareDbRow>(
        `SELECT ${SHARE_COLS_OF_S} FROM calendar_shares s JOIN calendar_collections c ON c.id = s.collection_id WHERE c.account_id = ? AND s.grantee_kind = 'account' AND s.reply_notice = ?`,
        [ownerId, true],
        'listing invitation replies',
      )
    ).map(toShare);
    const out: ShareInvite[] = [];
    for (const part of chunks([...new Set(shares.map((s) => s.collectionId))], IN_CHUNK)) {
      const rows = await this.db.select<CollectionDbRow>(this.selectCollections(`c.id IN (${marks(part.length)})`), part, 'listing invitation replies');
      const byId = new Map(rows.map((r) => [r.id, toCollection(r)]));
      for (const share of shares) if (byId.has(share.collectionId)) out.push({ collection: byId.get(share.collectionId)!, share });
    }
    return out.sort(byCollectionThenSharee);
  }

  async dismissReplyNotice(collectionId: string, shareeId: string): Promise<void> {
    await this.write('dismissing a reply notice', async (m) => {
      const [row] = await this.q(m, "SELECT reply_notice FROM calendar_shares WHERE collection_id = ? AND grantee_kind = 'account' AND grantee_id = ?", [collectionId, shareeId]);
      if (!row || !truthy(row.reply_notice)) throw new NotFoundError('no such notification');
      await this.q(m, "UPDATE calendar_shares SET reply_notice = ? WHERE collection_id = ? AND grantee_kind = 'account' AND grantee_id = ?", [false, collectionId, shareeId]);
    });
  }

  async setDelegate(ownerId: string, rawDelegate: ShareGrantee, access: ShareAccess | null): Promise<void> {
    const delegate = checkGrantee(rawDelegate);
    if (access !== null) checkAccess(access);
    await this.write('setting a delegate', async (m) => {
      if (!(await this.q(m, 'SELECT id FROM accounts WHERE id = ?', [ownerId])).length) throw new NotFoundError('no such account');
      if (access === null) {
        await this.q(m, 'DELETE FROM calendar_delegates WHERE owner_id = ? AND delegate_kind = ? AND delegate_id = ?', [ownerId, delegate.kind, delegate.id]);
        return;
      }
      if (delegate.kind === 'account' && delegate.id === ownerId) throw new InvalidInputError('an account is not its own delegate');
      const table = delegate.kind === 'account' ? 'accounts' : 'groups';
      if (!(await this.q(m, `SELECT id FROM ${table} WHERE id = ?`, [delegate.id])).length) throw new NotFoundError(`no such ${delegate.kind}`);
      await this.q(
        m,
        `INSERT INTO calendar_delegates (owner_id, delegate_kind, delegate_id, access) VALUES (?, ?, ?, ?)
         ON CONFLICT (owner_id, delegate_kind, delegate_id) DO UPDATE SET access = excluded.access`,
        [ownerId, delegate.kind, delegate.id, access],
      );
    });
  }

  async delegatesOf(ownerId: string): Promise<Delegation[]> {
    const rows = await this.db.select<{ delegate_kind: string; delegate_id: string; access: string }>(
      'SELECT delegate_kind, delegate_id, access FROM calendar_delegates WHERE owner_id = ? ORDER BY delegate_kind, delegate_id',
      [ownerId],
      'listing delegates',
    );
    return rows.map((r) => ({ ownerId, delegate: { kind: r.delegate_kind === 'group' ? 'group' : 'account', id: r.delegate_id }, access: r.access === 'read-write' ? 'read-write' : 'read' }));
  }

  async delegationsTo(accountId: string, groupIds: readonly string[]): Promise<Delegation[]> {
    const grantees: [string, string][] = [['account', accountId], ...groupIds.map((g) => ['group', g] as [string, string])];
    const byOwner = new Map<string, Delegation>();
    for (const part of chunks(grantees, IN_CHUNK)) {
      const rows = await this.db.select<{ owner_id: string; delegate_kind: string; delegate_id: string; access: string }>(
        `SELECT owner_id, delegate_kind, delegate_id, access FROM calendar_delegates WHERE ${part.map(() => '(delegate_kind = ? AND delegate_id = ?)').join(' OR ')}`,
        part.flat(),
        'listing delegations',
      );
      for (const r of rows) {
        if (r.owner_id === accountId) continue;
        const access: ShareAccess = r.access === 'read-write' ? 'read-write' : 'read';
        const had = byOwner.get(r.owner_id);
        byOwner.set(r.owner_id, {
          ownerId: r.owner_id,
          delegate: { kind: r.delegate_kind === 'group' ? 'group' : 'account', id: r.delegate_id },
          access: had ? widerAccess(had.access, access) : access,
        });
      }
    }
    return [...byOwner.values()].sort((a, b) => (a.ownerId < b.ownerId ? -1 : 1));
  }
}
