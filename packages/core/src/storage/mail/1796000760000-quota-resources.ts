import type { MigrationInterface, QueryRunner } from 'typeorm';

const COLUMNS = [
  ['accounts', 'quota_messages'],
  ['accounts', 'quota_mailboxes'],
  ['domains', 'default_quota_messages'],
  ['domains', 'default_quota_mailboxes'],
] as const;

/**
 * RFC 9208's MESSAGE and MAILBOX resources: a limit per account (and a default per domain) beside
 * quota_bytes, and the account's message count kept on its account_usage 'mail' row, the row every
 * mail write already updates for its bytes, so counting costs no extra statement or lock. Existing
 * accounts get their count here, once.
 */
export class QuotaResources1796000760000 implements MigrationInterface {
  name = 'QuotaResources1796000760000';

  // Plain ALTER TABLE on both databases: TypeORM's addColumn on SQLite rebuilds the table, and
  // rebuilding domains or accounts under their foreign keys would fail or cascade.
  async up(q: QueryRunner): Promise<void> {
    for (const [table, column] of COLUMNS) await q.query(`ALTER TABLE ${table} ADD COLUMN ${column} bigint`);
    await q.query('ALTER TABLE account_usage ADD COLUMN messages bigint NOT NULL DEFAULT 0');
    // `WHERE true` lets SQLite read ON CONFLICT as the upsert clause rather than part of the SELECT.
    await q.query(
      `INSERT INTO account_usage (account_id, kind, bytes, messages)
       SELECT b.account_id, 'mail', 0, COUNT(*) FROM mail_messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE true GROUP BY b.account_id
       ON CONFLICT (account_id, kind) DO UPDATE SET messages = excluded.messages`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE account_usage DROP COLUMN messages');
    for (const [table, column] of COLUMNS) await q.query(`ALTER TABLE ${table} DROP COLUMN ${column}`);
  }
}
