import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, primary as key, table } from '../table-helpers.js';

/** Mail migration cursors (palabre migrate mail): mirrors storage/mail-migration/entities.ts exactly. */
export class MailMigration1796000420000 implements MigrationInterface {
  name = 'MailMigration1796000420000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table(
        'mail_migration_cursors',
        [
          key(col.ref('account_id')),
          key(col.text('source', 255)),
          key(col.text('folder', 1000)),
          col.ms('uid_validity'),
          col.ms('last_uid'),
          col.ref('mailbox_id'),
          col.ms('last_target_uid'),
          col.ms('copied'),
          col.ms('updated_at'),
        ],
        {
          indices: [['idx_mail_migration_cursors_mailbox', ['mailbox_id']]],
          foreignKeys: [
            [['account_id'], 'accounts', ['id'], 'CASCADE'],
            [['mailbox_id'], 'mailboxes', ['id'], 'CASCADE'],
          ],
        },
      ),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('mail_migration_cursors');
  }
}
