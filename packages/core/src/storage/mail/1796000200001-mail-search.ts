import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Search columns beside each message, so SEARCH FROM/SUBJECT/SENT* never parse analyses, and a covering
 * index for the per-mailbox counts (STATUS, SELECT) that would otherwise read every wide row.
 */
export class MailSearch1796000200001 implements MigrationInterface {
  name = 'MailSearch1796000200001';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('mail_messages', new TableColumn({ name: 'search_text', type: 'text', isNullable: true }));
    await q.addColumn('mail_messages', new TableColumn({ name: 'sent_date', type: 'bigint', isNullable: true }));
    await q.createIndex('mail_messages', new TableIndex({ name: 'idx_mail_messages_state', columnNames: ['mailbox_id', 'flags', 'size', 'uid'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('mail_messages', 'idx_mail_messages_state');
    await q.dropColumn('mail_messages', 'sent_date');
    await q.dropColumn('mail_messages', 'search_text');
  }
}
