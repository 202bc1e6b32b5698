import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, table } from '../table-helpers.js';

/** Mail transport: the outbound queue, DKIM keys, vacation replies, rate-limit counters. */
export class MailTransport1796000000500 implements MigrationInterface {
  name = 'MailTransport1796000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table(
        'outbound_messages',
        [
          col.id(),
          col.text('blob_id', 64),
          col.ms('size'),
          col.text('sender', 512),
          col.text('env_id', 200, true),
          col.text('ret', 8, true),
          col.ref('account_id', true),
          col.bool('owns_blob'),
          col.ms('created_at'),
          col.ms('expires_at'),
        ],
        { indices: [['idx_outbound_messages_account', ['account_id']]] },
      ),
    );
    await q.createTable(
      table(
        'outbound_jobs',
        [
          col.id(),
          col.ref('message_id'),
          col.text('transport', 16),
          col.text('domain', 255),
          col.text('state', 16),
          col.int('attempts'),
          col.ms('next_attempt_at'),
          col.text('lease_owner', 100, true),
          col.ms('lease_until', true),
          col.text('last_error', 1000, true),
          col.ms('updated_at'),
        ],
        {
          indices: [
            ['idx_outbound_jobs_due', ['state', 'next_attempt_at']],
            ['idx_outbound_jobs_message', ['message_id']],
          ],
          foreignKeys: [[['message_id'], 'outbound_messages', ['id'], 'CASCADE']],
        },
      ),
    );
    await q.createTable(
      table(
        'outbound_recipients',
        [
          { ...col.ref('job_id'), isPrimary: true },
          { ...col.text('address', 512), isPrimary: true },
          col.ref('account_id', true),
          col.text('orcpt', 600, true),
          col.text('notify', 40, true),
          col.text('status', 16),
          col.int('code', true),
          col.text('enhanced', 16, true),
          col.text('diagnostic', 1000, true),
          col.text('remote_mta', 255, true),
          col.ms('updated_at'),
        ],
        { foreignKeys: [[['job_id'], 'outbound_jobs', ['id'], 'CASCADE']] },
      ),
    );
    await q.createTable(
      table('dkim_keys', [
        { ...col.text('domain', 255), isPrimary: true },
        { ...col.text('selector', 63), isPrimary: true },
        col.text('algorithm', 32),
        col.text('private_key', 8000),
        col.text('public_key', 4000),
        col.bool('active'),
        col.ms('created_at'),
      ]),
    );
    await q.createTable(
      table(
        'vacation_settings',
        [
          { ...col.ref('account_id'), isPrimary: true },
          col.bool('enabled'),
          col.text('subject', 250),
          col.text('body', 16000),
          col.ms('starts_at', true),
          col.ms('ends_at', true),
          col.ms('interval_ms'),
          col.ms('updated_at'),
        ],
        { foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']] },
      ),
    );
    await q.createTable(
      table(
        'vacation_replies',
        [{ ...col.ref('account_id'), isPrimary: true }, { ...col.text('sender', 512), isPrimary: true }, col.ms('replied_at')],
        {
          indices: [['idx_vacation_replies_at', ['replied_at']]],
          foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']],
        },
      ),
    );
    await q.createTable(
      table('rate_counters', [{ ...col.text('key', 330), isPrimary: true }, col.ms('window_start'), col.int('count')], {
        indices: [['idx_rate_counters_window', ['window_start']]],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['rate_counters', 'vacation_replies', 'vacation_settings', 'dkim_keys', 'outbound_recipients', 'outbound_jobs', 'outbound_messages']) {
      await q.dropTable(name);
    }
  }
}
