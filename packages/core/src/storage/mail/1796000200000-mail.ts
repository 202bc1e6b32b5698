import { TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';
import { col, table } from '../table-helpers.js';

const big = (name: string): TableColumnOptions => col.ms(name);
const text = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const key = (column: TableColumnOptions): TableColumnOptions => ({ ...column, isPrimary: true });

/** The mailbox store (IMAP and delivery): mirrors entities/mail.ts exactly. */
export class Mail1796000200000 implements MigrationInterface {
  name = 'Mail1796000200000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table('mail_accounts', [key(col.ref('account_id')), big('last_uid_validity')], {
        foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']],
      }),
    );
    const mailboxes = table(
      'mailboxes',
      [
        col.id(),
        col.ref('account_id'),
        col.text('name', 1000),
        col.text('special_use', 16, true),
        big('uid_validity'),
        big('uid_next'),
        big('highest_modseq'),
        big('recent_uid'),
        big('tombstone_floor'),
        text('keywords', true),
        big('created_at'),
      ],
      { foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']] },
    );
    mailboxes.indices.push(new TableIndex({ name: 'uq_mailboxes_account_name', columnNames: ['account_id', 'name'], isUnique: true }));
    await q.createTable(mailboxes);
    await q.createTable(
      table(
        'mail_messages',
        [
          key(col.ref('mailbox_id')),
          key(big('uid')),
          big('modseq'),
          col.int('flags'),
          text('keywords', true),
          big('size'),
          big('internal_date'),
          big('saved_at'),
          col.text('blob_id', 64),
          col.int('header_bytes'),
          text('header', true),
          text('analysis'),
        ],
        {
          indices: [
            ['idx_mail_messages_modseq', ['mailbox_id', 'modseq']],
            ['idx_mail_messages_blob', ['blob_id']],
          ],
          foreignKeys: [[['mailbox_id'], 'mailboxes', ['id'], 'CASCADE']],
        },
      ),
    );
    await q.createTable(
      table('mail_seen', [key(col.ref('mailbox_id')), key(col.ref('account_id')), key(big('uid'))], {
        indices: [['idx_mail_seen_account', ['account_id']]],
        foreignKeys: [
          [['mailbox_id'], 'mailboxes', ['id'], 'CASCADE'],
          [['account_id'], 'accounts', ['id'], 'CASCADE'],
        ],
      }),
    );
    await q.createTable(
      table('mail_tombstones', [key(col.ref('mailbox_id')), key(big('uid')), big('modseq')], {
        indices: [['idx_mail_tombstones_modseq', ['mailbox_id', 'modseq']]],
        foreignKeys: [[['mailbox_id'], 'mailboxes', ['id'], 'CASCADE']],
      }),
    );
    await q.createTable(
      table('mail_subscriptions', [key(col.ref('account_id')), key(col.text('name', 1000))], {
        foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']],
      }),
    );
    await q.createTable(
      table('mailbox_acl', [key(col.ref('mailbox_id')), key(col.text('grantee_kind', 8)), key(col.ref('grantee_id')), col.text('rights', 32)], {
        indices: [['idx_mailbox_acl_grantee', ['grantee_kind', 'grantee_id']]],
        foreignKeys: [[['mailbox_id'], 'mailboxes', ['id'], 'CASCADE']],
      }),
    );
    await q.createTable(
      table('mail_deliveries', [key(col.ref('account_id')), key(col.text('dedupe_key', 128)), col.ref('mailbox_id'), big('uid'), big('created_at')], {
        indices: [['idx_mail_deliveries_created', ['created_at']]],
        foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['mail_deliveries', 'mailbox_acl', 'mail_subscriptions', 'mail_tombstones', 'mail_seen', 'mail_messages', 'mailboxes', 'mail_accounts']) {
      await q.dropTable(name);
    }
  }
}
