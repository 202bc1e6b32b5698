import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { ConflictError, InvalidInputError, NotFoundError } from '../../errors.js';
import {
  FLAG_DELETED,
  FLAG_SEEN,
  applyFlagOperation,
  canonicalKeywords,
  effectiveRights,
  flagsFromBits,
  granteeKey,
  isSpecialUse,
  keywordsFromColumn,
  keywordsToColumn,
  mergeMailboxKeywords,
  normalizeMailboxName,
  normalizeRights,
  normalizeUidSet,
  missingParents,
  uidSetHas,
  parseFlags,
  sameKeywords,
  searchTextOf,
  sentDateOf,
  type ParsedFlags,
} from '../../mail/mail-rules.js';
import {
  DEDUPE_WINDOW_MS,
  dedupeSince,
  headerFromColumn,
  headerToColumn,
  nextUidValidity,
  pickDeliveryMailbox,
  planDelivery,
  prepareAppends,
  prepareMessage,
  publishChanges,
  publishListChange,
  quotaError,
} from '../../mail/mail-store-shared.js';
import type { BlobStore } from '../../ports/blob-store.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import { silentLogger } from '../../ports/logger.js';
import type { DeliveryResult, DeliveryTarget, MessageToDeliver } from '../../mail/mail-delivery.js';
import {
  DEFAULT_MAILBOXES,
  MAILBOX_DELIMITER,
  type AclEntry,
  type AclGrantee,
  type AppendManyResult,
  type AppendResult,
  type CopyResult,
  type ExpungeResult,
  type FetchMessagesOptions,
  type FlagChange,
  type FlagOperation,
  type MailQuota,
  type MailStore,
  type Mailbox,
  type MailboxChanges,
  type MailboxCounts,
  type MessageFilter,
  type MessageRecord,
  type MoveResult,
  type NewMessage,
  type SearchUidsResult,
  type SharedMailbox,
  type SpecialUse,
  type StoreFlagsOptions,
  type StoreFlagsResult,
  type UidRange,
  type UidSet,
} from '../../mail/mail-store.js';
import type { Notifier } from '../../ports/notifier.js';
import type { Database } from '../database.js';
import type { SqlUsageStore } from '../usage/sql-usage-store.js';
import { checkFilter } from '../../mail-filter.js';
import { blobIdsHeldBy, chunks as chunkList, marks } from '../sql-lists.js';
import { filterSql, uidSql } from './sql-mail-search.js';

export interface SqlMailStoreOptions {
  blobs: BlobStore;
  usage: SqlUsageStore;
  notifier?: Notifier;
  clock?: Clock;
  logger?: Logger;
  /** Rows per query when streaming a FETCH (default 500). */
  pageSize?: number;
  /** Expunge tombstones kept per mailbox for QRESYNC (default 100,000); older ones are pruned. */
  maxTombstones?: number;
}

interface MailboxDbRow {
  id: string;
  account_id: string;
  name: string;
  special_use: string | null;
  uid_validity: number | string;
  uid_next: number | string;
  highest_modseq: number | string;
  keywords: string | null;
  created_at: number | string;
}

interface MessageDbRow {
  uid: number | string;
  modseq: number | string;
  flags: number | string;
  keywords: string | null;
  size: number | string;
  internal_date: number | string;
  saved_at: number | string;
  blob_id: string;
  header_bytes: number | string;
  header?: string | null;
  analysis?: string;
  seen?: number | string | null;
  search_text?: string | null;
  sent_date?: number | string | null;
  /** The analysis, read only when the search columns are empty (rows written before they existed). */
  analysis_fallback?: string | null;
}

type Changed = Map<string, { modseq: number } | { deleted: true }>;

/** One delivery waiting for the next group commit. */
interface PendingDelivery {
  readonly message: MessageToDeliver;
  readonly targets: readonly DeliveryTarget[];
  readonly plan: ReturnType<typeof planDelivery>;
  readonly header: Buffer | null;
  resolve(results: DeliveryResult[]): void;
  reject(error: unknown): void;
}

/** Deliveries written in one SQLite transaction at most. */
const MAX_DELIVERY_BATCH = 64;

const MAILBOX_COLUMNS = 'id, account_id, name, special_use, uid_validity, uid_next, highest_modseq, keywords, created_at';
const LIGHT_COLUMNS = 'm.uid, m.modseq, m.flags, m.keywords, m.size, m.internal_date, m.saved_at, m.blob_id, m.header_bytes';
/** Rows per multi-row INSERT / IN list: far below SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 200;
const N = (v: number | string | null | undefined): number => Number(v ?? 0);
/** A limit column: null (or absent) is no limit. */
const limitOf = (v: number | string | null | undefined): number | null => (v === null || v === undefined ? null : N(v));
/** Rows flagged \Deleted: the first test lets an index on flags skip every value below the bit. */
const DELETED_FILTER = ` AND m.flags >= ${FLAG_DELETED} AND (m.flags & ${FLAG_DELETED}) <> 0`;

function toMailbox(r: MailboxDbRow): Mailbox {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    specialUse: (r.special_use as SpecialUse | null) ?? null,
    uidValidity: N(r.uid_validity),
    uidNext: N(r.uid_next),
    highestModseq: N(r.highest_modseq),
    keywords: keywordsFromColumn(r.keywords),
    createdAt: new Date(N(r.created_at)),
  };
}

/** SQLite's group_concat keeps the subquery's order in practice, not by promise: checked, sorted if not. */
function ascending(uids: number[]): number[] {
  for (let i = 1; i < uids.length; i++) if (uids[i]! < uids[i - 1]!) return uids.sort((a, b) => a - b);
  return uids;
}

const chunks = <T>(items: readonly T[], size = CHUNK): T[][] => chunkList(items, size);

/**
 * MailStore on SQLite or PostgreSQL. Every write locks its mailbox row first (FOR UPDATE on
 * PostgreSQL; SQLite transactions are serialised), so UIDs and MODSEQs are handed out and committed
 * in order and a reader that sees MODSEQ n also sees every change numbered below it. FETCH streams
 * one indexed page of rows per query and never reads a blob.
 */
export class SqlMailStore implements MailStore {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly pageSize: number;
  private readonly forUpdate: string;
  private readonly maxTombstones: number;
  /** Mailbox id → owner: never changes for an id, so FETCH need not ask again (bounded). */
  private readonly owners = new Map<string, string>();
  /** fetch()'s statements by what they select (fetchSql). */
  private readonly fetchSqls = new Map<number, string>();
  private readonly pendingDeliveries: PendingDelivery[] = [];
  private deliveriesScheduled = false;
  private lastDedupePrune = 0;

  constructor(
    private readonly db: Database,
    private readonly options: SqlMailStoreOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'mail-store' });
    this.pageSize = Math.max(10, options.pageSize ?? 500);
    this.forUpdate = db.dialect === 'postgres' ? ' FOR UPDATE' : '';
    this.maxTombstones = Math.max(1, options.maxTombstones ?? 100_000);
  }

  private q(m: EntityManager, sql: string, params: unknown[] = []): Promise<any[]> {
    return m.query(this.db.sql(sql), params);
  }

  private tx<T>(what: string, fn: (m: EntityManager, changed: Changed) => Promise<T>): Promise<T> {
    return this.txChanged(what, fn).then(([result, changed]) => {
      publishChanges(this.options.notifier, this.log, changed);
      return result;
    });
  }

  /** A transaction that leaves publishing (and, with durable false, waiting for the disk) to the caller. */
  private async txChanged<T>(what: string, fn: (m: EntityManager, changed: Changed) => Promise<T>, durable = true): Promise<[T, Changed]> {
    const changed: Changed = new Map();
    const result = await this.db.transaction(
      (m) => {
        changed.clear();
        return fn(m, changed);
      },
      { what, durable },
    );
    return [result, changed];
  }

  // ------------------------------------------------------------ mailbox rows

  private async lockMailbox(m: EntityManager, id: string): Promise<Mailbox> {
    const rows = await this.q(m, `SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?${this.forUpdate}`, [id]);
    if (!rows[0]) throw new NotFoundError('no such mailbox');
    return toMailbox(rows[0]);
  }

  private async mailboxesOf(m: EntityManager, accountId: string): Promise<Mailbox[]> {
    const rows = await this.q(m, `SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = ? ORDER BY name`, [accountId]);
    return rows.map(toMailbox);
  }

  private async requireAccount(m: EntityManager, accountId: string): Promise<void> {
    const rows = await this.q(m, 'SELECT id FROM accounts WHERE id = ?', [accountId]);
    if (!rows.length) throw new NotFoundError('no such account');
  }

  private async allocateUidValidity(m: EntityManager, accountId: string): Promise<number> {
    const candidate = nextUidValidity(0, this.clock.now().getTime());
    const rows = await this.q(
      m,
      `INSERT INTO mail_accounts (account_id, last_uid_validity) VALUES (?, ?)
       ON CONFLICT (account_id) DO UPDATE SET last_uid_validity =
         CASE WHEN mail_accounts.last_uid_validity + 1 > excluded.last_uid_validity THEN mail_accounts.last_uid_validity + 1 ELSE excluded.last_uid_validity END
       RETURNING last_uid_validity`,
      [accountId, candidate],
    );
    return N(rows[0].last_uid_validity);
  }

  /** Takes the account's mail_accounts row lock (creating the row if needed) without changing it. */
  private async lockMailAccount(m: EntityManager, accountId: string): Promise<void> {
    await this.q(
      m,
      `INSERT INTO mail_accounts (account_id, last_uid_validity) VALUES (?, ?)
       ON CONFLICT (account_id) DO UPDATE SET last_uid_validity = mail_accounts.last_uid_validity`,
      [accountId, nextUidValidity(0, this.clock.now().getTime()) - 1],
    );
  }

  private async insertMailbox(m: EntityManager, accountId: string, name: string, specialUse: SpecialUse | null): Promise<Mailbox> {
    const id = randomUUID();
    const uidValidity = await this.allocateUidValidity(m, accountId);
    const now = this.clock.now().getTime();
    await this.q(
      m,
      `INSERT INTO mailboxes (id, account_id, name, special_use, uid_validity, uid_next, highest_modseq, recent_uid, tombstone_floor, keywords, created_at)
       VALUES (?, ?, ?, ?, ?, 1, 1, 1, 0, NULL, ?)`,
      [id, accountId, name, specialUse, uidValidity, now],
    );
    return { id, accountId, name, specialUse, uidValidity, uidNext: 1, highestModseq: 1, keywords: [], createdAt: new Date(now) };
  }

  private async ensureDefaultsIn(m: EntityManager, accountId: string): Promise<Mailbox[]> {
    const existing = await this.mailboxesOf(m, accountId);
    const names = new Set(existing.map((b) => b.name));
    for (const d of DEFAULT_MAILBOXES) {
      if (names.has(d.name)) continue;
      existing.push(await this.insertMailbox(m, accountId, d.name, d.specialUse));
      await this.q(m, 'INSERT INTO mail_subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING', [accountId, d.name]);
    }
    return existing;
  }

  async ensureMailboxes(accountId: string): Promise<Mailbox[]> {
    const current = await this.listMailboxes(accountId);
    const names = new Set(current.map((b) => b.name));
    if (DEFAULT_MAILBOXES.every((d) => names.has(d.name))) return current;
    return this.tx('creating default mailboxes', async (m) => {
      await this.requireAccount(m, accountId);
      // Serialise concurrent first logins of one account on its mail_accounts row.
      await this.allocateUidValidity(m, accountId);
      return this.ensureDefaultsIn(m, accountId);
    });
  }

  async listMailboxes(accountId: string): Promise<Mailbox[]> {
    return this.db.run((m) => this.mailboxesOf(m, accountId), 'listing mailboxes');
  }

  async getMailbox(accountId: string, name: string): Promise<Mailbox | null> {
    let normal: string;
    try {
      normal = normalizeMailboxName(name);
    } catch {
      return null;
    }
    const rows = await this.db.select<MailboxDbRow>(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = ? AND name = ?`, [accountId, normal], 'reading a mailbox');
    return rows[0] ? toMailbox(rows[0]) : null;
  }

  async getMailboxById(id: string): Promise<Mailbox> {
    const rows = await this.db.select<MailboxDbRow>(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?`, [id], 'reading a mailbox');
    if (!rows[0]) throw new NotFoundError('no such mailbox');
    return toMailbox(rows[0]);
  }

  async createMailbox(accountId: string, name: string, options: { specialUse?: SpecialUse | null } = {}): Promise<Mailbox> {
    const normal = normalizeMailboxName(name);
    const specialUse = options.specialUse ?? null;
    if (specialUse !== null && !isSpecialUse(specialUse)) throw new InvalidInputError('unknown special use');
    const created = await this.tx('creating a mailbox', async (m) => {
      await this.requireAccount(m, accountId);
      const names = new Set((await this.mailboxesOf(m, accountId)).map((b) => b.name));
      if (names.has(normal)) throw new ConflictError('mailbox already exists');
      const parents = missingParents(normal, names);
      await this.checkMailboxLimit(m, accountId, 1 + parents.length);
      for (const parent of parents) await this.insertMailbox(m, accountId, parent, null);
      return this.insertMailbox(m, accountId, normal, specialUse);
    });
    publishListChange(this.options.notifier, this.log, accountId);
    return created;
  }

  async renameMailbox(mailboxId: string, newName: string): Promise<Mailbox> {
    const target = normalizeMailboxName(newName);
    const renamed = await this.tx('renaming a mailbox', async (m, changed) => {
      const box = await this.lockMailbox(m, mailboxId);
      const all = await this.mailboxesOf(m, box.accountId);
      const names = new Set(all.map((b) => b.name));
      if (names.has(target)) throw new ConflictError('mailbox already exists');
      if (target === box.name || target.startsWith(box.name + MAILBOX_DELIMITER)) throw new InvalidInputError('cannot rename a mailbox into itself');
      // Renaming INBOX makes a mailbox (INBOX stays); any rename makes its missing parents.
      const parents = missingParents(target, names);
      await this.checkMailboxLimit(m, box.accountId, (box.name === 'INBOX' ? 1 : 0) + parents.length);
      for (const parent of parents) await this.insertMailbox(m, box.accountId, parent, null);
      if (box.name === 'INBOX') {
        const fresh = await this.insertMailbox(m, box.accountId, target, null);
        const rows = await this.sourceRows(m, box, [[1, 0xffffffff]]);
        const moved = await this.transfer(m, box, fresh, rows, 'all');
        await this.removeRows(m, box, rows, changed);
        // Same owner: removeRows took the bytes and messages off, they are still stored.
        await this.options.usage.addIn(m, box.accountId, 'mail', rows.reduce((n, r) => n + N(r.size), 0), rows.length);
        return { ...fresh, uidNext: moved.uidNext, highestModseq: moved.highestModseq, keywords: moved.keywords };
      }
      const prefix = box.name + MAILBOX_DELIMITER;
      for (const b of all) {
        if (b.id === box.id || b.name.startsWith(prefix)) {
          await this.q(m, 'UPDATE mailboxes SET name = ? WHERE id = ?', [target + b.name.slice(box.name.length), b.id]);
        }
      }
      return { ...box, name: target };
    });
    publishListChange(this.options.notifier, this.log, renamed.accountId);
    return renamed;
  }

  async deleteMailbox(mailboxId: string): Promise<void> {
    const owner = await this.tx('deleting a mailbox', async (m, changed) => {
      const box = await this.lockMailbox(m, mailboxId);
      if (box.name === 'INBOX') throw new InvalidInputError('INBOX cannot be deleted');
      const kids = await this.q(m, 'SELECT name FROM mailboxes WHERE account_id = ?', [box.accountId]);
      if (kids.some((k: { name: string }) => k.name.startsWith(box.name + MAILBOX_DELIMITER))) {
        throw new ConflictError('mailbox has children', { detail: { reason: 'has-children' } });
      }
      const [sum] = await this.q(m, 'SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS n FROM mail_messages WHERE mailbox_id = ?', [mailboxId]);
      for (const t of ['mail_seen', 'mail_tombstones', 'mailbox_acl', 'mail_messages']) {
        await this.q(m, `DELETE FROM ${t} WHERE mailbox_id = ?`, [mailboxId]);
      }
      await this.q(m, 'DELETE FROM mailboxes WHERE id = ?', [mailboxId]);
      await this.options.usage.addIn(m, box.accountId, 'mail', -N(sum.bytes), -N(sum.n));
      changed.set(mailboxId, { deleted: true });
      return box.accountId;
    });
    publishListChange(this.options.notifier, this.log, owner);
  }

  async subscribe(accountId: string, name: string): Promise<void> {
    const normal = normalizeMailboxName(name);
    await this.db.run(
      (m) => this.q(m, 'INSERT INTO mail_subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING', [accountId, normal]),
      'subscribing',
    );
    publishListChange(this.options.notifier, this.log, accountId);
  }

  async unsubscribe(accountId: string, name: string): Promise<void> {
    let normal: string;
    try {
      normal = normalizeMailboxName(name);
    } catch {
      return;
    }
    await this.db.run((m) => this.q(m, 'DELETE FROM mail_subscriptions WHERE account_id = ? AND name = ?', [accountId, normal]), 'unsubscribing');
    publishListChange(this.options.notifier, this.log, accountId);
  }

  async listSubscriptions(accountId: string): Promise<string[]> {
    return this.db.run(async (m) => {
      const rows = await this.q(m, 'SELECT name FROM mail_subscriptions WHERE account_id = ? ORDER BY name', [accountId]);
      return rows.map((r: { name: string }) => r.name);
    }, 'listing subscriptions');
  }

  async counts(mailboxId: string, viewer: string): Promise<MailboxCounts> {
    return this.db.run(async (m) => {
      const [box] = await this.q(m, 'SELECT account_id, recent_uid FROM mailboxes WHERE id = ?', [mailboxId]);
      if (!box) throw new NotFoundError('no such mailbox');
      const owner = box.account_id === viewer;
      box.recentUid = N(box.recent_uid);
      const seenExpr = owner ? '(m.flags & 1) <> 0' : 's.uid IS NOT NULL';
      const join = owner ? '' : 'LEFT JOIN mail_seen s ON s.mailbox_id = m.mailbox_id AND s.uid = m.uid AND s.account_id = ?';
      const [r] = await this.q(
        m,
        `SELECT COUNT(*) AS messages, COALESCE(SUM(m.size), 0) AS size,
                COALESCE(SUM(CASE WHEN (m.flags & 8) <> 0 THEN 1 ELSE 0 END), 0) AS deleted,
                COALESCE(SUM(CASE WHEN (m.flags & 8) <> 0 THEN m.size ELSE 0 END), 0) AS deleted_size,
                COALESCE(SUM(CASE WHEN ${seenExpr} THEN 0 ELSE 1 END), 0) AS unseen,
                MIN(CASE WHEN ${seenExpr} THEN NULL ELSE m.uid END) AS first_unseen,
                COALESCE(SUM(CASE WHEN m.uid >= ? THEN 1 ELSE 0 END), 0) AS recent
         FROM mail_messages m ${join} WHERE m.mailbox_id = ?`,
        owner ? [box.recentUid, mailboxId] : [box.recentUid, viewer, mailboxId],
      );
      return {
        messages: N(r.messages),
        unseen: N(r.unseen),
        deleted: N(r.deleted),
        deletedSize: N(r.deleted_size),
        size: N(r.size),
        firstUnseenUid: r.first_unseen === null || r.first_unseen === undefined ? null : N(r.first_unseen),
        recent: N(r.recent),
      };
    }, 'counting messages');
  }

  async firstUnseenUid(mailboxId: string, viewer: string): Promise<number | null> {
    const owner = (this.owners.get(mailboxId) ?? (await this.ownerOf(mailboxId))) === viewer;
    // The owner's: the (mailbox, flags, size, uid) index alone; another viewer's: his mail_seen rows.
    const [row] = owner
      ? await this.db.select<{ u: number | string | null }>(`SELECT MIN(m.uid) AS u FROM mail_messages m WHERE m.mailbox_id = ? AND (m.flags & ${FLAG_SEEN}) = 0`, [mailboxId], 'finding the first unseen message')
      : await this.db.select<{ u: number | string | null }>(
          'SELECT MIN(m.uid) AS u FROM mail_messages m LEFT JOIN mail_seen s ON s.mailbox_id = m.mailbox_id AND s.uid = m.uid AND s.account_id = ? WHERE m.mailbox_id = ? AND s.uid IS NULL',
          [viewer, mailboxId],
          'finding the first unseen message',
        );
    return row?.u === null || row?.u === undefined ? null : N(row.u);
  }

  /** Read a mailbox without locking it. */
  private async lockFree(m: EntityManager, id: string): Promise<Mailbox> {
    const rows = await this.q(m, `SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?`, [id]);
    if (!rows[0]) throw new NotFoundError('no such mailbox');
    return toMailbox(rows[0]);
  }

  async listUids(mailboxId: string): Promise<number[]> {
    return this.db.run(async (m) => {
      await this.lockFree(m, mailboxId);
      // One string instead of a row object per message: SELECT of a 100,000-message mailbox stays cheap.
      const sql =
        this.db.dialect === 'postgres'
          ? "SELECT string_agg(uid::text, ',' ORDER BY uid) AS uids FROM mail_messages WHERE mailbox_id = ?"
          : 'SELECT group_concat(uid) AS uids FROM (SELECT uid FROM mail_messages WHERE mailbox_id = ? ORDER BY uid)';
      const [row] = await this.q(m, sql, [mailboxId]);
      const text: string | null = row?.uids ?? null;
      if (!text) return [];
      return ascending(text.split(',').map(Number));
    }, 'listing UIDs');
  }

  // ------------------------------------------------------------ messages

  /**
   * Add messages to the owner's usage and refuse what passes a limit (RFC 9208 STORAGE, MESSAGE). Bytes
   * and count sit on one account_usage row whose upsert locks it until commit, so concurrent writers
   * to one account (on any node) check one after the other: two APPENDs at the limit, one wins.
   */
  private async checkQuota(m: EntityManager, accountId: string, bytes: number, messages: number): Promise<void> {
    await this.options.usage.addIn(m, accountId, 'mail', bytes, messages);
    if (bytes <= 0 && messages <= 0) return;
    const rows = await this.q(m, 'SELECT quota_bytes, quota_messages FROM accounts WHERE id = ?', [accountId]);
    if (!rows.length) throw new NotFoundError('no such account');
    const storage = limitOf(rows[0].quota_bytes);
    const count = limitOf(rows[0].quota_messages);
    if (storage === null && count === null) return;
    const used = await this.options.usage.getIn(m, accountId);
    if (storage !== null && bytes > 0 && used.total > storage) throw quotaError(accountId, 'STORAGE');
    if (count !== null && messages > 0 && used.messages > count) throw quotaError(accountId, 'MESSAGE');
  }

  /**
   * Refuse `adding` mailboxes past the account's limit (RFC 9208 MAILBOX). The account's mail_accounts
   * row is locked first (as a delivery does), so two CREATEs at the limit count one after the other;
   * an account's mailboxes are few and counted from the (account, name) index.
   */
  private async checkMailboxLimit(m: EntityManager, accountId: string, adding: number): Promise<void> {
    if (adding <= 0) return;
    const [account] = await this.q(m, 'SELECT quota_mailboxes FROM accounts WHERE id = ?', [accountId]);
    const limit = limitOf(account?.quota_mailboxes);
    if (limit === null) return;
    await this.lockMailAccount(m, accountId);
    const [count] = await this.q(m, 'SELECT COUNT(*) AS n FROM mailboxes WHERE account_id = ?', [accountId]);
    if (N(count.n) + adding > limit) throw quotaError(accountId, 'MAILBOX');
  }

  /** Insert one message at the mailbox's next UID; the caller has locked the mailbox row. */
  private async insertMessage(
    m: EntityManager,
    box: Mailbox,
    message: Pick<NewMessage, 'blobId' | 'size' | 'analysis'>,
    header: Buffer | null,
    flags: ParsedFlags,
    viewer: string,
    internalDate: Date,
  ): Promise<{ uid: number; modseq: number; keywords: readonly string[] }> {
    const keywords = mergeMailboxKeywords(box.keywords, flags.keywords);
    const modseq = box.highestModseq + 1;
    const uid = box.uidNext;
    let bits = flags.bits;
    if (viewer !== box.accountId) {
      if (bits & FLAG_SEEN) await this.q(m, 'INSERT INTO mail_seen (mailbox_id, account_id, uid) VALUES (?, ?, ?)', [box.id, viewer, uid]);
      bits &= ~FLAG_SEEN;
    }
    await this.q(
      m,
      `INSERT INTO mail_messages (mailbox_id, uid, modseq, flags, keywords, size, internal_date, saved_at, blob_id, header_bytes, header, analysis, search_text, sent_date)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        box.id,
        uid,
        modseq,
        bits,
        keywordsToColumn(canonicalKeywords(flags.keywords, keywords)),
        message.size,
        internalDate.getTime(),
        this.clock.now().getTime(),
        message.blobId,
        message.analysis.headerBytes,
        headerToColumn(header),
        JSON.stringify(message.analysis.data),
        searchTextOf(message.analysis.data),
        sentDateOf(message.analysis.data),
      ],
    );
    await this.q(m, 'UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, keywords = ? WHERE id = ?', [uid + 1, modseq, keywordsToColumn(keywords), box.id]);
    return { uid, modseq, keywords };
  }

  async append(mailboxId: string, message: NewMessage, viewer?: string): Promise<AppendResult> {
    const r = await this.appendMany(mailboxId, [message], viewer);
    return { mailboxId: r.mailboxId, uidValidity: r.uidValidity, uid: r.uids[0]!, modseq: r.modseq };
  }

  async appendMany(mailboxId: string, messages: readonly NewMessage[], viewer?: string): Promise<AppendManyResult> {
    const prepared = await prepareAppends(this.options.blobs, messages);
    return this.tx('appending messages', async (m, changed) => {
      let box = await this.lockMailbox(m, mailboxId);
      await this.checkQuota(m, box.accountId, prepared.totalBytes, prepared.items.length);
      const uids: number[] = [];
      for (const { message, header, flags } of prepared.items) {
        const { uid, modseq, keywords } = await this.insertMessage(m, box, message, header, flags, viewer ?? box.accountId, message.internalDate);
        uids.push(uid);
        box = { ...box, uidNext: uid + 1, highestModseq: modseq, keywords };
      }
      changed.set(box.id, { modseq: box.highestModseq });
      return { mailboxId: box.id, uidValidity: box.uidValidity, uids, modseq: box.highestModseq };
    });
  }

  /** SQL for the rows of a UID set: contiguous ranges paged, scattered UIDs gathered into IN lists. */
  private rangeQueries(uids: UidSet): ({ kind: 'range'; lo: number; hi: number } | { kind: 'list'; uids: number[] })[] {
    const out: ({ kind: 'range'; lo: number; hi: number } | { kind: 'list'; uids: number[] })[] = [];
    let list: number[] = [];
    const flush = () => {
      if (list.length) out.push({ kind: 'list', uids: list });
      list = [];
    };
    for (const [lo, hi] of normalizeUidSet(uids)) {
      if (hi - lo < 8) {
        for (let u = lo; u <= hi; u++) list.push(u);
        if (list.length >= CHUNK) flush();
      } else {
        flush();
        out.push({ kind: 'range', lo, hi });
      }
    }
    flush();
    return out;
  }

  private async ownerOf(mailboxId: string): Promise<string> {
    const known = this.owners.get(mailboxId);
    if (known) return known;
    const box = await this.getMailboxById(mailboxId);
    if (this.owners.size >= 10_000) this.owners.clear();
    this.owners.set(mailboxId, box.accountId);
    return box.accountId;
  }

  /**
   * The SELECT of fetch() for one combination of what is asked and how the UIDs are given, built once:
   * a FETCH of one message repeats the same statement, and the text, its hash and the prepared
   * statement it finds are then the same every time.
   */
  private fetchSql(owner: boolean, options: FetchMessagesOptions, list: number): string {
    const since = options.changedSince !== undefined;
    const needle = !!options.textContains;
    const key = (owner ? 1 : 0) | (options.header ? 2 : 0) | (options.analysis ? 4 : 0) | (options.search ? 8 : 0) | (since ? 16 : 0) | (needle ? 32 : 0) | (list << 6);
    const known = this.fetchSqls.get(key);
    if (known) return known;
    // The same columns whatever is asked (NULL in their place): rows of one shape keep toRecord optimised.
    const columns = [
      LIGHT_COLUMNS,
      options.header ? 'm.header' : 'NULL AS header',
      options.analysis ? 'm.analysis' : 'NULL AS analysis',
      options.search ? 'm.search_text, m.sent_date' : 'NULL AS search_text, NULL AS sent_date',
      options.search && !options.analysis ? 'CASE WHEN m.search_text IS NULL THEN m.analysis END AS analysis_fallback' : 'NULL AS analysis_fallback',
      owner ? 'NULL AS seen' : 's.uid AS seen',
    ].join(', ');
    const join = owner ? '' : 'LEFT JOIN mail_seen s ON s.mailbox_id = m.mailbox_id AND s.uid = m.uid AND s.account_id = ?';
    // Filters after the UID condition: CHANGEDSINCE, then the text prefilter (rows without search text pass).
    const filters = `${since ? ' AND m.modseq > ?' : ''}${needle ? " AND (m.search_text IS NULL OR m.search_text LIKE ? ESCAPE '\\')" : ''}`;
    const sql =
      list === 0
        ? `SELECT ${columns} FROM mail_messages m ${join} WHERE m.mailbox_id = ? AND m.uid >= ? AND m.uid <= ?${filters} ORDER BY m.uid LIMIT ?`
        : list === 1
          ? `SELECT ${columns} FROM mail_messages m ${join} WHERE m.mailbox_id = ? AND m.uid = ?${filters}`
          : `SELECT ${columns} FROM mail_messages m ${join} WHERE m.mailbox_id = ? AND m.uid IN (${marks(list)})${filters} ORDER BY m.uid`;
    if (this.fetchSqls.size >= 512) this.fetchSqls.clear();
    this.fetchSqls.set(key, sql);
    return sql;
  }

  async *fetch(mailboxId: string, viewer: string, uids: UidSet, options: FetchMessagesOptions = {}): AsyncIterable<MessageRecord> {
    const owner = (this.owners.get(mailboxId) ?? (await this.ownerOf(mailboxId))) === viewer;
    const since = options.changedSince;
    const needle = options.textContains;
    const filterParams: unknown[] = [...(since === undefined ? [] : [since]), ...(needle ? [`%${needle.replace(/[\\%_]/g, (c) => '\\' + c)}%`] : [])];
    const head = owner ? [] : [viewer];
    for (const part of this.rangeQueries(uids)) {
      if (part.kind === 'list') {
        const rows = await this.db.select<MessageDbRow>(
          this.fetchSql(owner, options, part.uids.length),
          [...head, mailboxId, ...part.uids, ...filterParams],
          'fetching messages',
        );
        for (const r of rows) yield this.toRecord(r, owner, options);
        continue;
      }
      const sql = this.fetchSql(owner, options, 0);
      let from = part.lo;
      for (;;) {
        const rows = await this.db.select<MessageDbRow>(sql, [...head, mailboxId, from, part.hi, ...filterParams, this.pageSize], 'fetching messages');
        for (const r of rows) yield this.toRecord(r, owner, options);
        if (rows.length < this.pageSize) break;
        from = N(rows[rows.length - 1]!.uid) + 1;
      }
    }
  }

  /**
   * One statement whatever the filter: the UIDs come back as one string (as listUids), not a row each,
   * and the conditions on flags, sizes and dates read the (mailbox, flags, size, uid) and date indexes
   * rather than the wide message rows.
   */
  async searchUids(mailboxId: string, viewer: string, uids: UidSet, filter: MessageFilter, options: { modseq?: boolean } = {}): Promise<SearchUidsResult> {
    checkFilter(filter);
    const owner = (this.owners.get(mailboxId) ?? (await this.ownerOf(mailboxId))) === viewer;
    const ranges = normalizeUidSet(uids);
    if (ranges.length === 0) return { uids: [], highestModseq: 0 };
    // A scattered set (a saved result) is searched over its bounds and cut to itself here, with each
    // UID's MODSEQ: a statement of tens of thousands of parameters would pass the databases' limits.
    const scattered = ranges.length > 64;
    const modseq = options.modseq === true || scattered;
    const params: unknown[] = owner ? [mailboxId] : [viewer, mailboxId];
    // The whole UID space: no condition on the UID, so a flag or date condition can be answered from its
    // covering index without visiting the rows.
    const everything = ranges.length === 1 && ranges[0]![0] === 1 && ranges[0]![1] === 0xffffffff;
    const scope = everything ? '(1 = 1)' : uidSql(scattered ? [[ranges[0]![0], ranges[ranges.length - 1]![1]]] : ranges, params);
    const where = filterSql(filter, this.db.dialect, owner, params);
    const join = owner ? '' : 'LEFT JOIN mail_seen s ON s.mailbox_id = m.mailbox_id AND s.uid = m.uid AND s.account_id = ?';
    const conditions = `FROM mail_messages m ${join} WHERE m.mailbox_id = ? AND ${scope} AND ${where}`;
    const item = scattered ? (this.db.dialect === 'postgres' ? "m.uid::text || ':' || m.modseq::text" : "m.uid || ':' || m.modseq") : this.db.dialect === 'postgres' ? 'm.uid::text' : 'm.uid';
    const sql =
      this.db.dialect === 'postgres'
        ? `SELECT string_agg(${item}, ',' ORDER BY m.uid) AS uids, ${modseq ? 'MAX(m.modseq)' : '0'} AS top ${conditions}`
        : `SELECT group_concat(item) AS uids, ${modseq ? 'MAX(modseq)' : '0'} AS top FROM (SELECT ${item} AS item${modseq ? ', m.modseq' : ''} ${conditions} ORDER BY m.uid)`;
    const [row] = await this.db.select<{ uids: string | null; top: number | string | null }>(sql, params, 'searching messages');
    const text = row?.uids ?? null;
    if (!text) return { uids: [], highestModseq: 0 };
    if (scattered) {
      const found: number[] = [];
      let highestModseq = 0;
      for (const pair of text.split(',')) {
        const colon = pair.indexOf(':');
        const uid = Number(pair.slice(0, colon));
        if (!uidSetHas(ranges, uid)) continue;
        found.push(uid);
        highestModseq = Math.max(highestModseq, Number(pair.slice(colon + 1)));
      }
      return { uids: ascending(found), highestModseq: options.modseq ? highestModseq : 0 };
    }
    return { uids: ascending(text.split(',').map(Number)), highestModseq: N(row!.top) };
  }

  private bitsFor(r: MessageDbRow, owner: boolean): number {
    const bits = N(r.flags);
    return owner ? bits : (bits & ~FLAG_SEEN) | (r.seen !== null && r.seen !== undefined ? FLAG_SEEN : 0);
  }

  // Every record has the same fields (undefined where not asked for): one object shape, so the code
  // that reads records stays optimised whichever items a command fetches.
  private toRecord(r: MessageDbRow, owner: boolean, options: FetchMessagesOptions): MessageRecord {
    const search = options.search ? this.searchColumns(r) : undefined;
    return {
      uid: N(r.uid),
      modseq: N(r.modseq),
      flags: [...flagsFromBits(this.bitsFor(r, owner)), ...keywordsFromColumn(r.keywords)],
      size: N(r.size),
      internalDate: new Date(N(r.internal_date)),
      savedAt: new Date(N(r.saved_at)),
      blobId: r.blob_id,
      headerBytes: N(r.header_bytes),
      header: options.header ? headerFromColumn(r.header) : undefined,
      analysis: options.analysis ? (JSON.parse(r.analysis ?? '{}') as Record<string, unknown>) : undefined,
      searchText: search?.searchText,
      sentDate: search?.sentDate,
    };
  }

  private searchColumns(r: MessageDbRow): { searchText: string | null; sentDate: number | null } {
    if (r.search_text === null || r.search_text === undefined) {
      const source = r.analysis ?? r.analysis_fallback;
      const data = source ? (JSON.parse(source) as Record<string, unknown>) : {};
      return { searchText: searchTextOf(data), sentDate: sentDateOf(data) };
    }
    return { searchText: r.search_text, sentDate: r.sent_date === null || r.sent_date === undefined ? null : N(r.sent_date) };
  }

  /** Rows of a set inside a transaction (all columns), with the viewer's \Seen when given. */
  private async sourceRows(m: EntityManager, box: Mailbox, uids: UidSet, viewer?: string): Promise<MessageDbRow[]> {
    const owner = viewer === undefined || viewer === box.accountId;
    const cols = `${LIGHT_COLUMNS}, m.header, m.analysis, m.search_text, m.sent_date${owner ? '' : ', s.uid AS seen'}`;
    const join = owner ? '' : 'LEFT JOIN mail_seen s ON s.mailbox_id = m.mailbox_id AND s.uid = m.uid AND s.account_id = ?';
    const head = owner ? [] : [viewer];
    const out: MessageDbRow[] = [];
    for (const part of this.rangeQueries(uids)) {
      const rows =
        part.kind === 'list'
          ? await this.q(m, `SELECT ${cols} FROM mail_messages m ${join} WHERE m.mailbox_id = ? AND m.uid IN (${marks(part.uids.length)}) ORDER BY m.uid`, [
              ...head,
              box.id,
              ...part.uids,
            ])
          : await this.q(m, `SELECT ${cols} FROM mail_messages m ${join} WHERE m.mailbox_id = ? AND m.uid >= ? AND m.uid <= ? ORDER BY m.uid`, [
              ...head,
              box.id,
              part.lo,
              part.hi,
            ]);
      out.push(...rows);
    }
    out.sort((a, b) => N(a.uid) - N(b.uid));
    return out;
  }

  async storeFlags(
    mailboxId: string,
    viewer: string,
    uids: UidSet,
    operation: FlagOperation,
    flags: readonly string[],
    options: StoreFlagsOptions = {},
  ): Promise<StoreFlagsResult> {
    const change = parseFlags(flags);
    if (!['add', 'remove', 'replace'].includes(operation)) throw new InvalidInputError('invalid flag operation');
    // Flag changes do not wait for the disk (as Dovecot's default mail_fsync=optimized): a power cut may
    // lose the last milliseconds of them, never a message, and the client's next sync sees the truth.
    // The next durable commit (a delivery, an APPEND) flushes them with it, in order.
    const [result, changedBoxes] = await this.txChanged(
      'storing flags',
      async (m, changed) => {
        if (this.db.dialect === 'postgres') await this.q(m, 'SET LOCAL synchronous_commit TO OFF');
        return this.storeFlagsIn(m, changed, mailboxId, viewer, uids, operation, change, options);
      },
      false,
    );
    publishChanges(this.options.notifier, this.log, changedBoxes);
    return result;
  }

  private async storeFlagsIn(
    m: EntityManager,
    changed: Changed,
    mailboxId: string,
    viewer: string,
    uids: UidSet,
    operation: FlagOperation,
    change: ParsedFlags,
    options: StoreFlagsOptions,
  ): Promise<StoreFlagsResult> {
    {
      const box = await this.lockMailbox(m, mailboxId);
      const owner = viewer === box.accountId;
      const keywords = operation === 'remove' ? box.keywords : mergeMailboxKeywords(box.keywords, change.keywords);
      const canonical: ParsedFlags = { bits: change.bits, keywords: canonicalKeywords(change.keywords, keywords) };
      const modseq = box.highestModseq + 1;
      const rows = await this.sourceRowsLight(m, box, uids, viewer);
      const updated: FlagChange[] = [];
      const modified: number[] = [];
      // Group identical writes: one UPDATE per distinct (stored bits, keywords) instead of one per row.
      const writes = new Map<string, number[]>();
      const seenOn: number[] = [];
      const seenOff: number[] = [];
      for (const r of rows) {
        const uid = N(r.uid);
        if (options.unchangedSince !== undefined && N(r.modseq) > options.unchangedSince) {
          modified.push(uid);
          continue;
        }
        const current = { bits: this.bitsFor(r, owner), keywords: keywordsFromColumn(r.keywords) };
        const next = applyFlagOperation(current, operation, canonical);
        if (next.bits === current.bits && sameKeywords(next.keywords, current.keywords)) continue;
        const stored = owner ? next.bits : (next.bits & ~FLAG_SEEN) | (N(r.flags) & FLAG_SEEN);
        if (!owner && (next.bits & FLAG_SEEN) !== (current.bits & FLAG_SEEN)) (next.bits & FLAG_SEEN ? seenOn : seenOff).push(uid);
        const key = `${stored}|${keywordsToColumn(next.keywords) ?? ''}`;
        const list = writes.get(key) ?? [];
        list.push(uid);
        writes.set(key, list);
        updated.push({ uid, modseq, flags: [...flagsFromBits(next.bits), ...next.keywords] });
      }
      for (const [key, list] of writes) {
        const bar = key.indexOf('|');
        const bits = Number(key.slice(0, bar));
        const kw = key.slice(bar + 1) || null;
        for (const part of chunks(list)) {
          await this.q(m, `UPDATE mail_messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid IN (${marks(part.length)})`, [
            bits,
            kw,
            modseq,
            box.id,
            ...part,
          ]);
        }
      }
      for (const part of chunks(seenOn)) {
        await this.q(m, `INSERT INTO mail_seen (mailbox_id, account_id, uid) VALUES ${part.map(() => '(?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`, part.flatMap((u) => [box.id, viewer, u]));
      }
      for (const part of chunks(seenOff)) {
        await this.q(m, `DELETE FROM mail_seen WHERE mailbox_id = ? AND account_id = ? AND uid IN (${marks(part.length)})`, [box.id, viewer, ...part]);
      }
      const highestModseq = updated.length ? modseq : box.highestModseq;
      if (updated.length || keywords !== box.keywords) {
        await this.q(m, 'UPDATE mailboxes SET highest_modseq = ?, keywords = ? WHERE id = ?', [highestModseq, keywordsToColumn(keywords), box.id]);
      }
      if (updated.length) changed.set(box.id, { modseq });
      return { updated, modified, highestModseq, keywords: [...keywords] };
    }
  }

  /**
   * The rows of a UID set without header and analysis (flag changes, expunge), in UID order;
   * `deletedOnly`: only those flagged \Deleted, chosen by the
   * database (EXPUNGE and CLOSE of a large mailbox would otherwise read every row inside the write
   * transaction, 10,000 rows ≈ 20 ms of event loop and write lock, to keep a handful).
   */
  private async sourceRowsLight(m: EntityManager, box: Mailbox, uids: UidSet, viewer?: string, deletedOnly = false): Promise<MessageDbRow[]> {
    const owner = viewer === undefined || viewer === box.accountId;
    const cols = `${LIGHT_COLUMNS}${owner ? '' : ', s.uid AS seen'}`;
    const join = owner ? '' : 'LEFT JOIN mail_seen s ON s.mailbox_id = m.mailbox_id AND s.uid = m.uid AND s.account_id = ?';
    const filter = deletedOnly ? DELETED_FILTER : '';
    const head = owner ? [] : [viewer];
    const out: MessageDbRow[] = [];
    for (const part of this.rangeQueries(uids)) {
      out.push(
        ...(part.kind === 'list'
          ? await this.q(m, `SELECT ${cols} FROM mail_messages m ${join} WHERE m.mailbox_id = ? AND m.uid IN (${marks(part.uids.length)})${filter}`, [
              ...head,
              box.id,
              ...part.uids,
            ])
          : await this.q(m, `SELECT ${cols} FROM mail_messages m ${join} WHERE m.mailbox_id = ? AND m.uid >= ? AND m.uid <= ?${filter}`, [
              ...head,
              box.id,
              part.lo,
              part.hi,
            ])),
      );
    }
    return out.sort((a, b) => N(a.uid) - N(b.uid));
  }

  async expunge(mailboxId: string, options: { uids?: UidSet } = {}): Promise<ExpungeResult> {
    return this.tx('expunging', async (m, changed) => {
      const box = await this.lockMailbox(m, mailboxId);
      // The whole mailbox (EXPUNGE, CLOSE): no UID condition, so the (mailbox, flags, …) index finds the
      // \Deleted rows among flag values of 8 and more without visiting the others.
      const rows = options.uids
        ? await this.sourceRowsLight(m, box, options.uids, undefined, true)
        : await this.q(m, `SELECT ${LIGHT_COLUMNS} FROM mail_messages m WHERE m.mailbox_id = ?${DELETED_FILTER} ORDER BY m.uid`, [box.id]);
      const modseq = await this.removeRows(m, box, rows, changed);
      return { expunged: rows.map((r) => N(r.uid)), highestModseq: modseq };
    });
  }

  /** Delete rows (with tombstones and usage); returns the mailbox's MODSEQ afterwards. */
  private async removeRows(m: EntityManager, box: Mailbox, rows: readonly MessageDbRow[], changed: Changed): Promise<number> {
    if (rows.length === 0) return box.highestModseq;
    const modseq = box.highestModseq + 1;
    const uids = rows.map((r) => N(r.uid));
    for (const part of chunks(uids)) {
      const inList = `uid IN (${marks(part.length)})`;
      await this.q(m, `DELETE FROM mail_messages WHERE mailbox_id = ? AND ${inList}`, [box.id, ...part]);
      await this.q(m, `DELETE FROM mail_seen WHERE mailbox_id = ? AND ${inList}`, [box.id, ...part]);
      await this.q(
        m,
        `INSERT INTO mail_tombstones (mailbox_id, uid, modseq) VALUES ${part.map(() => '(?, ?, ?)').join(', ')}
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`,
        part.flatMap((u) => [box.id, u, modseq]),
      );
    }
    await this.q(m, 'UPDATE mailboxes SET highest_modseq = ? WHERE id = ?', [modseq, box.id]);
    await this.options.usage.addIn(m, box.accountId, 'mail', -rows.reduce((n, r) => n + N(r.size), 0), -rows.length);
    await this.pruneTombstones(m, box.id);
    changed.set(box.id, { modseq });
    return modseq;
  }

  /** Keep at most maxTombstones per mailbox; changesSince below the floor answers "compare UID lists". */
  private async pruneTombstones(m: EntityManager, mailboxId: string): Promise<void> {
    const [count] = await this.q(m, 'SELECT COUNT(*) AS n FROM mail_tombstones WHERE mailbox_id = ?', [mailboxId]);
    const excess = N(count.n) - this.maxTombstones;
    if (excess <= 0) return;
    const [cut] = await this.q(m, 'SELECT modseq FROM mail_tombstones WHERE mailbox_id = ? ORDER BY modseq LIMIT 1 OFFSET ?', [mailboxId, excess - 1]);
    const floor = N(cut.modseq);
    await this.q(m, 'DELETE FROM mail_tombstones WHERE mailbox_id = ? AND modseq <= ?', [mailboxId, floor]);
    await this.q(m, 'UPDATE mailboxes SET tombstone_floor = ? WHERE id = ? AND tombstone_floor < ?', [floor, mailboxId, floor]);
  }

  /**
   * Copy rows into `dst` with new UIDs. `seen`: whose per-user \Seen travels — one viewer (COPY/MOVE:
   * theirs goes into the message if they own the destination, else stays per user), or 'all'
   * (renaming INBOX: every user's, same owner).
   */
  private async transfer(
    m: EntityManager,
    src: Mailbox,
    dst: Mailbox,
    rows: readonly MessageDbRow[],
    seen: { viewer: string } | 'all',
  ): Promise<{ mapping: [number, number][]; uidNext: number; highestModseq: number; keywords: readonly string[] }> {
    if (rows.length === 0) return { mapping: [], uidNext: dst.uidNext, highestModseq: dst.highestModseq, keywords: dst.keywords };
    const keywords = mergeMailboxKeywords(dst.keywords, rows.flatMap((r) => keywordsFromColumn(r.keywords)));
    const modseq = dst.highestModseq + 1;
    const now = this.clock.now().getTime();
    const mapping: [number, number][] = [];
    const perUser: [number, string][] = [];
    let uid = dst.uidNext;
    const values: unknown[][] = [];
    for (const r of rows) {
      const newUid = uid++;
      mapping.push([N(r.uid), newUid]);
      let bits = N(r.flags);
      if (seen !== 'all') {
        const viewerSeen = seen.viewer === src.accountId ? (bits & FLAG_SEEN) !== 0 : r.seen !== null && r.seen !== undefined;
        bits = (bits & ~FLAG_SEEN) | (viewerSeen && seen.viewer === dst.accountId ? FLAG_SEEN : 0);
        if (viewerSeen && seen.viewer !== dst.accountId) perUser.push([newUid, seen.viewer]);
      }
      values.push([
        dst.id,
        newUid,
        modseq,
        bits,
        keywordsToColumn(canonicalKeywords(keywordsFromColumn(r.keywords), keywords)),
        N(r.size),
        N(r.internal_date),
        now,
        r.blob_id,
        N(r.header_bytes),
        r.header ?? null,
        r.analysis ?? '{}',
        r.search_text ?? null,
        r.sent_date === null || r.sent_date === undefined ? null : N(r.sent_date),
      ]);
    }
    for (const part of chunks(values, 40)) {
      await this.q(
        m,
        `INSERT INTO mail_messages (mailbox_id, uid, modseq, flags, keywords, size, internal_date, saved_at, blob_id, header_bytes, header, analysis, search_text, sent_date)
         VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        part.flat(),
      );
    }
    if (seen === 'all') {
      const byOld = new Map(mapping);
      const seenRows: { account_id: string; uid: number }[] = [];
      for (const part of chunks(mapping.map(([s]) => s))) {
        seenRows.push(...(await this.q(m, `SELECT account_id, uid FROM mail_seen WHERE mailbox_id = ? AND uid IN (${marks(part.length)})`, [src.id, ...part])));
      }
      for (const s of seenRows) perUser.push([byOld.get(N(s.uid))!, s.account_id]);
    }
    for (const part of chunks(perUser)) {
      await this.q(m, `INSERT INTO mail_seen (mailbox_id, account_id, uid) VALUES ${part.map(() => '(?, ?, ?)').join(', ')}`, part.flatMap(([u, a]) => [dst.id, a, u]));
    }
    await this.q(m, 'UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, keywords = ? WHERE id = ?', [uid, modseq, keywordsToColumn(keywords), dst.id]);
    return { mapping, uidNext: uid, highestModseq: modseq, keywords };
  }

  /** Lock two mailboxes in a fixed order (by id) so concurrent copies cannot deadlock. */
  private async lockPair(m: EntityManager, a: string, b: string): Promise<[Mailbox, Mailbox]> {
    if (a === b) {
      const box = await this.lockMailbox(m, a);
      return [box, box];
    }
    const [first, second] = a < b ? [a, b] : [b, a];
    const x = await this.lockMailbox(m, first);
    const y = await this.lockMailbox(m, second);
    return a < b ? [x, y] : [y, x];
  }

  async copy(fromMailboxId: string, uids: UidSet, toMailboxId: string, viewer: string): Promise<CopyResult> {
    return this.tx('copying messages', async (m, changed) => {
      const [src, dst] = await this.lockPair(m, fromMailboxId, toMailboxId);
      const rows = await this.sourceRows(m, src, uids, viewer);
      await this.checkQuota(m, dst.accountId, rows.reduce((n, r) => n + N(r.size), 0), rows.length);
      const moved = await this.transfer(m, src, dst, rows, { viewer });
      if (rows.length) changed.set(dst.id, { modseq: moved.highestModseq });
      return { destMailboxId: dst.id, uidValidity: dst.uidValidity, mapping: moved.mapping };
    });
  }

  async move(fromMailboxId: string, uids: UidSet, toMailboxId: string, viewer: string): Promise<MoveResult> {
    return this.tx('moving messages', async (m, changed) => {
      const [src, dst] = await this.lockPair(m, fromMailboxId, toMailboxId);
      const rows = await this.sourceRows(m, src, uids, viewer);
      const bytes = rows.reduce((n, r) => n + N(r.size), 0);
      // Within one account a move gives back what it takes: never refused for quota (a full account
      // must still be able to move messages to Trash).
      if (src.accountId === dst.accountId) await this.options.usage.addIn(m, dst.accountId, 'mail', bytes, rows.length);
      else await this.checkQuota(m, dst.accountId, bytes, rows.length);
      const moved = await this.transfer(m, src, dst, rows, { viewer });
      if (rows.length) changed.set(dst.id, { modseq: moved.highestModseq });
      // Moving within one mailbox: the source row was re-read after transfer bumped its counters.
      const source = src.id === dst.id ? { ...src, highestModseq: moved.highestModseq } : src;
      const modseq = await this.removeRows(m, source, rows, changed);
      return { destMailboxId: dst.id, uidValidity: dst.uidValidity, mapping: moved.mapping, expunged: rows.map((r) => N(r.uid)), highestModseq: modseq };
    });
  }

  async changesSince(mailboxId: string, viewer: string, modseq: number): Promise<MailboxChanges> {
    // Asked after nearly every command of every session on a mailbox others write to: prepared
    // statements (select()), no TypeORM run. The mailbox first, each statement on its own: rows read
    // afterwards may be newer than its counters, never older (writes commit in MODSEQ order).
    const what = 'reading mailbox changes';
    const [row] = await this.db.select<MailboxDbRow & { tombstone_floor: number | string }>(
      `SELECT ${MAILBOX_COLUMNS}, tombstone_floor FROM mailboxes WHERE id = ?`,
      [mailboxId],
      what,
    );
    if (!row) throw new NotFoundError('no such mailbox');
    const box = toMailbox(row);
    const owner = box.accountId === viewer;
    const rows = await this.db.select<MessageDbRow>(
      `SELECT m.uid, m.modseq, m.flags, m.keywords${owner ? '' : ', s.uid AS seen'} FROM mail_messages m
       ${owner ? '' : 'LEFT JOIN mail_seen s ON s.mailbox_id = m.mailbox_id AND s.uid = m.uid AND s.account_id = ?'}
       WHERE m.mailbox_id = ? AND m.modseq > ? ORDER BY m.uid`,
      owner ? [mailboxId, modseq] : [viewer, mailboxId, modseq],
      what,
    );
    const changed = rows.map((r) => ({ uid: N(r.uid), modseq: N(r.modseq), flags: [...flagsFromBits(this.bitsFor(r, owner)), ...keywordsFromColumn(r.keywords)] }));
    let expunged: number[] | null = null;
    if (modseq >= N(row.tombstone_floor)) {
      const gone = await this.db.select<{ uid: number | string }>('SELECT uid FROM mail_tombstones WHERE mailbox_id = ? AND modseq > ? ORDER BY uid', [mailboxId, modseq], what);
      // Pruned in between (the floor rose past `modseq`): some tombstones may be missing, so none is
      // trusted and the caller compares UID lists.
      const [floor] = await this.db.select<{ tombstone_floor: number | string }>('SELECT tombstone_floor FROM mailboxes WHERE id = ?', [mailboxId], what);
      expunged = floor && modseq >= N(floor.tombstone_floor) ? gone.map((g) => N(g.uid)) : null;
    }
    return { mailbox: box, changed, expunged };
  }

  async claimRecent(mailboxId: string, uidNext: number): Promise<UidRange | null> {
    return this.db.run(async (m) => {
      for (let attempt = 0; attempt < 8; attempt++) {
        const [row] = await this.q(m, 'SELECT recent_uid, uid_next FROM mailboxes WHERE id = ?', [mailboxId]);
        if (!row) throw new NotFoundError('no such mailbox');
        const from = N(row.recent_uid);
        const upTo = Math.min(uidNext, N(row.uid_next));
        if (from >= upTo) return null;
        const won = await this.q(m, 'UPDATE mailboxes SET recent_uid = ? WHERE id = ? AND recent_uid = ? RETURNING id', [upTo, mailboxId, from]);
        // TypeORM answers an UPDATE on PostgreSQL with [rows, count].
        const rows = this.db.dialect === 'postgres' ? (won[0] as unknown[]) : won;
        if (rows.length) return [from, upTo - 1] as UidRange;
      }
      return null;
    }, 'claiming recent messages');
  }

  // ------------------------------------------------------------ delivery

  async deliver(message: MessageToDeliver, targets: readonly DeliveryTarget[]): Promise<DeliveryResult[]> {
    const plan = planDelivery(message, targets);
    if (plan.length === 0) return [];
    const header = await prepareMessage(this.options.blobs, message);
    const delivery: PendingDelivery = { message, targets, plan, header, resolve: () => {}, reject: () => {} };
    let results: DeliveryResult[];
    if (this.db.dialect === 'sqlite') {
      results = await new Promise<DeliveryResult[]>((resolve, reject) => {
        delivery.resolve = resolve;
        delivery.reject = reject;
        this.pendingDeliveries.push(delivery);
        this.scheduleDeliveries();
      });
    } else {
      results = await this.tx('delivering a message', (m, changed) => this.deliverIn(m, changed, delivery));
    }
    const now = this.clock.now().getTime();
    if (message.dedupeKey && now - this.lastDedupePrune > 3600_000) {
      this.lastDedupePrune = now;
      await this.db
        .run((m) => this.q(m, 'DELETE FROM mail_deliveries WHERE created_at < ?', [now - DEDUPE_WINDOW_MS]), 'pruning delivery keys')
        .catch((error: unknown) => this.log.warn({ err: (error as Error)?.message }, 'mail.prune-failed'));
    }
    return results;
  }

  /**
   * Group commit on SQLite: deliveries that arrive while a transaction is being written go together in
   * the next one, so a burst of mail costs one transaction per batch (the single connection serialises
   * transactions anyway) and the batches share flushes to disk. On PostgreSQL each delivery has its own
   * transaction: they run in parallel, and batching would only add lock-order conflicts.
   */
  private scheduleDeliveries(): void {
    if (this.deliveriesScheduled) return;
    this.deliveriesScheduled = true;
    setImmediate(() => void this.flushDeliveries());
  }

  private async flushDeliveries(): Promise<void> {
    try {
      while (this.pendingDeliveries.length > 0) {
        const batch = this.pendingDeliveries.splice(0, MAX_DELIVERY_BATCH);
        let committed: [DeliveryResult[][], Changed] | null = null;
        try {
          committed = await this.txChanged(
            'delivering messages',
            async (m, changed) => {
              const out: DeliveryResult[][] = [];
              for (const delivery of batch) out.push(await this.deliverIn(m, changed, delivery));
              return out;
            },
            false,
          );
        } catch {
          // One delivery failed (a full mailbox, a removed account) and the batch rolled back: each on its own.
        }
        if (committed) {
          // The next batch need not wait for this one's flush to disk; its senders do.
          const [results, changed] = committed;
          this.db.durable().then(
            () => {
              publishChanges(this.options.notifier, this.log, changed);
              batch.forEach((delivery, i) => delivery.resolve(results[i]!));
            },
            (error: unknown) => batch.forEach((delivery) => delivery.reject(error)),
          );
          continue;
        }
        for (const delivery of batch) {
          try {
            delivery.resolve(await this.tx('delivering a message', (m, changed) => this.deliverIn(m, changed, delivery)));
          } catch (error) {
            delivery.reject(error);
          }
        }
      }
    } finally {
      this.deliveriesScheduled = false;
      if (this.pendingDeliveries.length > 0) this.scheduleDeliveries();
    }
  }

  private async deliverIn(m: EntityManager, changed: Changed, delivery: PendingDelivery): Promise<DeliveryResult[]> {
    const { message, targets, plan, header } = delivery;
    const now = this.clock.now().getTime();
    const out: DeliveryResult[] = new Array(targets.length);
    for (const item of plan) {
      await this.requireAccount(m, item.accountId);
      // On PostgreSQL, deliveries to one account queue on its mail_accounts row (in the plan's account order,
      // so never a deadlock): the dedupe lookup, the default mailboxes and the quota are then read after
      // any concurrent delivery committed. SQLite has one writer already.
      if (this.db.dialect === 'postgres') await this.lockMailAccount(m, item.accountId);
      if (message.dedupeKey) {
        const [earlier] = await this.q(
          m,
          `SELECT d.mailbox_id, d.uid FROM mail_deliveries d JOIN mailboxes b ON b.id = d.mailbox_id
           WHERE d.account_id = ? AND d.dedupe_key = ? AND d.created_at >= ?`,
          [item.accountId, message.dedupeKey, dedupeSince(message, now)],
        );
        if (earlier) {
          for (const i of item.targets) out[i] = { accountId: item.accountId, mailboxId: earlier.mailbox_id, uid: N(earlier.uid), duplicate: true };
          continue;
        }
      }
      const boxes = await this.ensureDefaultsIn(m, item.accountId);
      const picked = pickDeliveryMailbox(boxes, item.mailbox)!;
      const box = await this.lockMailbox(m, picked.id);
      await this.checkQuota(m, item.accountId, message.size, 1);
      const { uid, modseq } = await this.insertMessage(m, box, message, header, item.flags, box.accountId, message.receivedAt);
      if (message.dedupeKey) {
        await this.q(
          m,
          `INSERT INTO mail_deliveries (account_id, dedupe_key, mailbox_id, uid, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (account_id, dedupe_key) DO UPDATE SET mailbox_id = excluded.mailbox_id, uid = excluded.uid, created_at = excluded.created_at`,
          [item.accountId, message.dedupeKey, box.id, uid, now],
        );
      }
      item.targets.forEach((i, n) => (out[i] = { accountId: item.accountId, mailboxId: box.id, uid, duplicate: n > 0 }));
      changed.set(box.id, { modseq });
    }
    return out;
  }

  // ------------------------------------------------------------ ACL and quota

  async getAcl(mailboxId: string): Promise<AclEntry[]> {
    return this.db.run(async (m) => {
      await this.lockFree(m, mailboxId);
      const rows = await this.q(m, 'SELECT grantee_kind, grantee_id, rights FROM mailbox_acl WHERE mailbox_id = ? ORDER BY grantee_kind, grantee_id', [mailboxId]);
      return rows.map((r: { grantee_kind: string; grantee_id: string; rights: string }) => ({
        grantee: r.grantee_kind === 'anyone' ? { kind: 'anyone' as const } : { kind: r.grantee_kind as 'account' | 'group', id: r.grantee_id },
        rights: r.rights,
      }));
    }, 'reading an ACL');
  }

  async setAcl(mailboxId: string, grantee: AclGrantee, rights: string): Promise<void> {
    const normal = normalizeRights(rights);
    const { kind, id } = granteeKey(grantee);
    if (kind !== 'anyone' && kind !== 'account' && kind !== 'group') throw new InvalidInputError('invalid grantee');
    if (kind !== 'anyone' && (typeof id !== 'string' || id.length === 0 || id.length > 36)) throw new InvalidInputError('invalid grantee');
    await this.tx('changing an ACL', async (m) => {
      await this.lockMailbox(m, mailboxId);
      if (normal === '') {
        await this.q(m, 'DELETE FROM mailbox_acl WHERE mailbox_id = ? AND grantee_kind = ? AND grantee_id = ?', [mailboxId, kind, id]);
      } else {
        await this.q(
          m,
          `INSERT INTO mailbox_acl (mailbox_id, grantee_kind, grantee_id, rights) VALUES (?, ?, ?, ?)
           ON CONFLICT (mailbox_id, grantee_kind, grantee_id) DO UPDATE SET rights = excluded.rights`,
          [mailboxId, kind, id, normal],
        );
      }
    });
  }

  async listSharedMailboxes(accountId: string, groupIds: readonly string[]): Promise<SharedMailbox[]> {
    return this.db.run(async (m) => {
      const groups = groupIds.slice(0, 1000);
      const rows = await this.q(
        m,
        `SELECT ${MAILBOX_COLUMNS.split(', ').map((c) => `b.${c}`).join(', ')}, a.grantee_kind, a.grantee_id, a.rights
         FROM mailbox_acl a JOIN mailboxes b ON b.id = a.mailbox_id
         WHERE b.account_id <> ? AND (a.grantee_kind = 'anyone' OR (a.grantee_kind = 'account' AND a.grantee_id = ?)
           ${groups.length ? `OR (a.grantee_kind = 'group' AND a.grantee_id IN (${marks(groups.length)}))` : ''})`,
        [accountId, accountId, ...groups],
      );
      const byMailbox = new Map<string, { mailbox: Mailbox; acl: AclEntry[] }>();
      for (const r of rows) {
        const entry = byMailbox.get(r.id) ?? { mailbox: toMailbox(r), acl: [] };
        entry.acl.push({ grantee: r.grantee_kind === 'anyone' ? { kind: 'anyone' } : { kind: r.grantee_kind, id: r.grantee_id }, rights: r.rights });
        byMailbox.set(r.id, entry);
      }
      return [...byMailbox.values()]
        .map(({ mailbox, acl }) => ({ mailbox, rights: effectiveRights(mailbox.accountId, acl, accountId, groups) }))
        .filter((s) => s.rights !== '');
    }, 'listing shared mailboxes');
  }

  referencedBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    return blobIdsHeldBy(this.db, 'mail_messages', blobIds, CHUNK);
  }

  async quota(accountId: string): Promise<MailQuota> {
    return this.db.run(async (m) => {
      const rows = await this.q(m, 'SELECT quota_bytes, quota_messages, quota_mailboxes FROM accounts WHERE id = ?', [accountId]);
      if (!rows.length) throw new NotFoundError('no such account');
      const used = await this.options.usage.getIn(m, accountId);
      const [boxes] = await this.q(m, 'SELECT COUNT(*) AS n FROM mailboxes WHERE account_id = ?', [accountId]);
      return {
        usedBytes: used.total,
        mailBytes: used.mail,
        limitBytes: limitOf(rows[0].quota_bytes),
        messages: used.messages,
        limitMessages: limitOf(rows[0].quota_messages),
        mailboxes: N(boxes.n),
        limitMailboxes: limitOf(rows[0].quota_mailboxes),
      };
    }, 'reading quota');
  }
}
