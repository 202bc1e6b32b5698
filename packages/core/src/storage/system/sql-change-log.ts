import type { ChangeKind, ChangeLog, ChangeSet } from '../../system/change-log.js';
import { InvalidInputError } from '../../errors.js';
import type { Database } from '../database.js';
import type { EntityManager } from 'typeorm';

const MAX_ITEM = 1024;
const MAX_COLLECTION = 300;

function checkCollection(collection: string): void {
  if (typeof collection !== 'string' || collection.length === 0 || collection.length > MAX_COLLECTION) {
    throw new InvalidInputError('invalid change-log collection id');
  }
}

/**
 * ChangeLog on SQL. The counter row is bumped with one atomic UPSERT … RETURNING, which also holds the
 * row lock until commit: two writers to one collection commit in counter order, so a reader never
 * sees counter N before everything numbered below N is visible (no change slips behind a sync-token).
 */
export class SqlChangeLog implements ChangeLog {
  constructor(private readonly db: Database) {}

  async current(collection: string): Promise<number> {
    checkCollection(collection);
    return this.db.run(async (m) => {
      const rows = await m.query(this.db.sql('SELECT seq FROM change_collections WHERE collection = ?'), [collection]);
      return rows.length ? Number(rows[0].seq) : 0;
    }, 'reading a change counter');
  }

  async record(collection: string, changes: readonly { item: string; kind: ChangeKind }[]): Promise<number> {
    checkCollection(collection);
    for (const c of changes) {
      if (typeof c.item !== 'string' || c.item.length === 0 || c.item.length > MAX_ITEM) throw new InvalidInputError('invalid change item');
      if (c.kind !== 'put' && c.kind !== 'delete') throw new InvalidInputError('invalid change kind');
    }
    return this.db.transaction((m) => this.recordIn(m, collection, changes), { what: 'recording changes' });
  }

  /** For other SQL stores: bump inside their own transaction. */
  async recordIn(m: EntityManager, collection: string, changes: readonly { item: string; kind: ChangeKind }[]): Promise<number> {
    const bumped = await m.query(
      this.db.sql(
        `INSERT INTO change_collections (collection, seq, floor_seq) VALUES (?, 1, 0)
         ON CONFLICT (collection) DO UPDATE SET seq = change_collections.seq + 1 RETURNING seq`,
      ),
      [collection],
    );
    const seq = Number(bumped[0].seq);
    const upsert = this.db.sql(
      `INSERT INTO change_entries (collection, item, seq, kind) VALUES (?, ?, ?, ?)
       ON CONFLICT (collection, item) DO UPDATE SET seq = excluded.seq, kind = excluded.kind`,
    );
    for (const change of changes) await m.query(upsert, [collection, change.item, seq, change.kind]);
    return seq;
  }

  async since(collection: string, seq: number, limit = 10_000): Promise<ChangeSet | 'expired'> {
    checkCollection(collection);
    if (!Number.isSafeInteger(seq) || seq < 0) return 'expired';
    const cap = Math.max(1, Math.min(limit, 100_000));
    return this.db.run(async (m) => {
      const head = await m.query(this.db.sql('SELECT seq, floor_seq FROM change_collections WHERE collection = ?'), [collection]);
      const current = head.length ? Number(head[0].seq) : 0;
      const floor = head.length ? Number(head[0].floor_seq) : 0;
      if (seq > current || seq < floor) return 'expired';
      if (seq === current) return { seq: current, changes: [] };
      const rows: { item: string; seq: number; kind: string }[] = await m.query(
        this.db.sql('SELECT item, seq, kind FROM change_entries WHERE collection = ? AND seq > ? ORDER BY seq, item LIMIT ?'),
        [collection, seq, cap + 1],
      );
      if (rows.length <= cap) {
        return { seq: current, changes: rows.map((r) => ({ item: r.item, seq: Number(r.seq), kind: r.kind as ChangeKind })) };
      }
      // Truncated: never cut through the entries of one counter value, or a client would skip the rest.
      const lastSeq = Number(rows[cap - 1]!.seq);
      let kept = rows.slice(0, cap);
      if (Number(rows[cap]!.seq) === lastSeq) {
        kept = kept.filter((r) => Number(r.seq) < lastSeq);
        if (kept.length === 0) {
          kept = await m.query(
            this.db.sql('SELECT item, seq, kind FROM change_entries WHERE collection = ? AND seq = ? ORDER BY item'),
            [collection, lastSeq],
          );
        }
      }
      const upTo = Number(kept[kept.length - 1]!.seq);
      return { seq: upTo, changes: kept.map((r) => ({ item: r.item, seq: Number(r.seq), kind: r.kind as ChangeKind })) };
    }, 'reading changes');
  }

  async prune(collection: string, seq: number): Promise<void> {
    checkCollection(collection);
    await this.db.transaction(async (m) => {
      await m.query(this.db.sql('DELETE FROM change_entries WHERE collection = ? AND seq <= ?'), [collection, seq]);
      await m.query(this.db.sql('UPDATE change_collections SET floor_seq = ? WHERE collection = ? AND floor_seq < ?'), [
        seq,
        collection,
        seq,
      ]);
    }, { what: 'pruning changes' });
  }

  async drop(collection: string): Promise<void> {
    checkCollection(collection);
    await this.db.transaction(async (m) => {
      await m.query(this.db.sql('DELETE FROM change_entries WHERE collection = ?'), [collection]);
      await m.query(this.db.sql('DELETE FROM change_collections WHERE collection = ?'), [collection]);
    }, { what: 'dropping a change log' });
  }

  async pruneTombstones(keep: number): Promise<number> {
    if (!Number.isSafeInteger(keep) || keep < 0) throw new InvalidInputError('keep is a whole number');
    const crowded: { collection: string; n: number | string }[] = await this.db.run(
      (m) => m.query(this.db.sql("SELECT collection, COUNT(*) AS n FROM change_entries WHERE kind = 'delete' GROUP BY collection HAVING COUNT(*) > ?"), [keep]),
      'finding change logs to prune',
    );
    for (const { collection, n } of crowded) {
      const cut: { seq: number | string }[] = await this.db.run(
        (m) => m.query(this.db.sql("SELECT seq FROM change_entries WHERE collection = ? AND kind = 'delete' ORDER BY seq LIMIT 1 OFFSET ?"), [collection, Number(n) - keep - 1]),
        'finding where to prune',
      );
      if (cut[0]) await this.prune(collection, Number(cut[0].seq));
    }
    return crowded.length;
  }
}
