import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * RFC 9208's MESSAGE and MAILBOX resources: a limit per account (and a default per domain) beside
 * quota_bytes, and the account's message count kept on its account_usage 'mail' row, the row every
 * mail write already updates for its bytes, so counting costs no extra statement or lock. Existing
 * accounts get their count here, once.
 */
export class QuotaResources1796000760000 implements MigrationInterface {
  name = 'QuotaResources1796000760000';

  async up(q: QueryRunner): Promise<void> {
    const limit = (name: string) => new TableColumn({ name, type: 'bigint', isNullable: true });
    await q.addColumns('accounts', [limit('quota_messages'), limit('quota_mailboxes')]);
    await q.addColumns('domains', [limit('default_quota_messages'), limit('default_quota_mailboxes')]);
    await q.addColumn('account_usage', new TableColumn({ name: 'messages', type: 'bigint', default: 0 }));
    // `WHERE true` lets SQLite read ON CONFLICT as the upsert clause rather than part of the SELECT.
    await q.query(
      `INSERT INTO account_usage (account_id, kind, bytes, messages)
       SELECT b.account_id, 'mail', 0, COUNT(*) FROM mail_messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE true GROUP BY b.account_id
       ON CONFLICT (account_id, kind) DO UPDATE SET messages = excluded.messages`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('account_usage', 'messages');
    await q.dropColumns('domains', ['default_quota_messages', 'default_quota_mailboxes']);
    await q.dropColumns('accounts', ['quota_messages', 'quota_mailboxes']);
  }
}
