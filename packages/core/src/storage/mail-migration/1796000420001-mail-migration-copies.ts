import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, primary as key, table } from '../table-helpers.js';

/** Legacy UID → target UID of every migrated message, for bringing later flag changes over. */
export class MailMigrationCopies1796000420001 implements MigrationInterface {
  name = 'MailMigrationCopies1796000420001';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table(
        'mail_migration_copies',
        [
          key(col.ref('account_id')),
          key(col.text('source', 255)),
          key(col.text('folder', 1000)),
          key(col.ms('legacy_uid')),
          col.ms('target_uid'),
        ],
        { foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']] },
      ),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('mail_migration_copies');
  }
}
