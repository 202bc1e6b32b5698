import type { EntityManager } from 'typeorm';
import { checkUsageDelta, usageOf, type AccountUsage, type UsageKind, type UsageStore } from '../../usage/usage-store.js';
import type { Database } from '../database.js';

export class SqlUsageStore implements UsageStore {
  constructor(private readonly db: Database) {}

  async get(accountId: string): Promise<AccountUsage> {
    return this.db.run((m) => this.getIn(m, accountId), 'reading usage');
  }

  /** Read inside a caller's transaction (for a quota check that must see its own writes). */
  async getIn(m: EntityManager, accountId: string): Promise<AccountUsage> {
    const rows: { kind: string; bytes: number; messages: number }[] = await m.query(this.db.sql('SELECT kind, bytes, messages FROM account_usage WHERE account_id = ?'), [accountId]);
    const of = (kind: UsageKind) => Number(rows.find((r) => r.kind === kind)?.bytes ?? 0);
    return usageOf(of('drive'), of('mail'), of('calendar'), of('contacts'), Number(rows.find((r) => r.kind === 'mail')?.messages ?? 0));
  }

  async add(accountId: string, kind: UsageKind, delta: number, messages = 0): Promise<void> {
    await this.db.transaction((m) => this.addIn(m, accountId, kind, delta, messages), { what: 'updating usage' });
  }

  /** Inside a caller's transaction: atomic, so concurrent writers on several nodes add up correctly. */
  async addIn(m: EntityManager, accountId: string, kind: UsageKind, delta: number, messages = 0): Promise<void> {
    checkUsageDelta(kind, delta, messages);
    if (delta === 0 && messages === 0) return;
    await m.query(
      this.db.sql(
        `INSERT INTO account_usage (account_id, kind, bytes, messages) VALUES (?, ?, ?, ?)
         ON CONFLICT (account_id, kind) DO UPDATE SET
           bytes = CASE WHEN account_usage.bytes + ? < 0 THEN 0 ELSE account_usage.bytes + ? END,
           messages = CASE WHEN account_usage.messages + ? < 0 THEN 0 ELSE account_usage.messages + ? END`,
      ),
      [accountId, kind, Math.max(0, delta), Math.max(0, messages), delta, delta, messages, messages],
    );
  }
}
