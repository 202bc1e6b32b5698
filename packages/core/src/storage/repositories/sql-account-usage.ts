import type { EntityManager } from 'typeorm';
import { QuotaExceededError } from '../../errors.js';
import type { AccountUsage, UsageKind } from '../../ports/account-usage.js';
import type { Database } from '../database.js';

/**
 * Per-account bytes by kind (drive, mail). Writers call addIn() inside their own transaction, then
 * checkQuotaIn() when they grew, so a write that passes the quota rolls back with QuotaExceededError.
 */
export class SqlAccountUsage implements AccountUsage {
  constructor(private readonly db: Database) {}

  async usage(accountId: string): Promise<{ total: number; byKind: Record<string, number> }> {
    return this.db.run(async (m) => {
      const rows: { kind: string; bytes: number }[] = await m.query(this.db.sql('SELECT kind, bytes FROM account_usage WHERE account_id = ?'), [
        accountId,
      ]);
      const byKind: Record<string, number> = {};
      let total = 0;
      for (const r of rows) {
        byKind[r.kind] = Number(r.bytes);
        total += Number(r.bytes);
      }
      return { total, byKind };
    }, 'reading storage usage');
  }

  /** Add `delta` bytes (may be negative) to one kind; the row is locked until commit. */
  async addIn(m: EntityManager, accountId: string, kind: UsageKind, delta: number): Promise<void> {
    if (delta === 0) return;
    await m.query(
      this.db.sql(
        `INSERT INTO account_usage (account_id, kind, bytes) VALUES (?, ?, ?)
         ON CONFLICT (account_id, kind) DO UPDATE SET bytes = account_usage.bytes + excluded.bytes`,
      ),
      [accountId, kind, delta],
    );
  }

  /** Throws QuotaExceededError when the account's total passes its quota (null quota = unlimited). */
  async checkQuotaIn(m: EntityManager, accountId: string): Promise<void> {
    const rows: { quota: number | null; used: number | null }[] = await m.query(
      this.db.sql(
        'SELECT a.quota_bytes AS quota, (SELECT SUM(u.bytes) FROM account_usage u WHERE u.account_id = a.id) AS used FROM accounts a WHERE a.id = ?',
      ),
      [accountId],
    );
    const row = rows[0];
    if (!row || row.quota === null) return;
    if (Number(row.used ?? 0) > Number(row.quota)) throw new QuotaExceededError('storage quota exceeded');
  }

  /** Total used and the quota, inside a transaction. */
  async readIn(m: EntityManager, accountId: string): Promise<{ used: number; quota: number | null }> {
    const rows: { quota: number | null; used: number | null }[] = await m.query(
      this.db.sql(
        'SELECT a.quota_bytes AS quota, (SELECT SUM(u.bytes) FROM account_usage u WHERE u.account_id = a.id) AS used FROM accounts a WHERE a.id = ?',
      ),
      [accountId],
    );
    const row = rows[0];
    return { used: Number(row?.used ?? 0), quota: row?.quota === null || row?.quota === undefined ? null : Number(row.quota) };
  }
}
