import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, primary as key, table } from '../table-helpers.js';

/** IMAP METADATA entries: mirrors storage/mail-metadata/entities.ts exactly. */
export class MailMetadata1796000440000 implements MigrationInterface {
  name = 'MailMetadata1796000440000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table('mail_metadata', [key(col.ref('mailbox_key')), key(col.ref('account_key')), key(col.text('name', 256)), { name: 'value', type: 'text', isNullable: false }]),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('mail_metadata');
  }
}
