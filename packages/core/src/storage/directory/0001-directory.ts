import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, table } from '../table-helpers.js';

export class Directory1796000000001 implements MigrationInterface {
  name = 'Directory1796000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table('domains', [
        col.id(),
        { ...col.text('name', 253), isUnique: true },
        col.ms('default_quota_bytes', true),
        col.ms('created_at'),
      ]),
    );
    await q.createTable(
      table('domain_names', [{ ...col.text('name', 253), isPrimary: true }, col.ref('domain_id'), col.bool('is_primary')], {
        indices: [['idx_domain_names_domain', ['domain_id']]],
        foreignKeys: [[['domain_id'], 'domains', ['id'], 'CASCADE']],
      }),
    );
    await q.createTable(
      table(
        'accounts',
        [
          col.id(),
          { ...col.text('address', 254), isUnique: true },
          col.ref('domain_id'),
          col.text('display_name', 256),
          col.text('department', 256, true),
          col.ms('quota_bytes', true),
          col.text('status', 16),
          col.text('password_hash', 512, true),
          col.ms('created_at'),
          col.ms('last_login_at', true),
        ],
        {
          indices: [['idx_accounts_domain', ['domain_id', 'address']]],
          foreignKeys: [[['domain_id'], 'domains', ['id']]],
        },
      ),
    );
    await q.createTable(
      table(
        'groups',
        [
          col.id(),
          { ...col.text('name', 128), isUnique: true },
          col.ref('domain_id'),
          { ...col.text('address', 254, true), isUnique: true },
          col.text('description', 1024, true),
          col.ms('created_at'),
        ],
        { indices: [['idx_groups_domain', ['domain_id']]], foreignKeys: [[['domain_id'], 'domains', ['id']]] },
      ),
    );
    await q.createTable(
      table(
        'addresses',
        [
          { ...col.text('address', 254), isPrimary: true },
          col.text('kind', 8),
          col.ref('domain_id'),
          col.ref('account_id', true),
          col.ref('group_id', true),
          col.ms('created_at'),
        ],
        {
          indices: [
            ['idx_addresses_account', ['account_id']],
            ['idx_addresses_group', ['group_id']],
            ['idx_addresses_domain', ['domain_id']],
          ],
          foreignKeys: [
            [['domain_id'], 'domains', ['id']],
            [['account_id'], 'accounts', ['id'], 'CASCADE'],
            [['group_id'], 'groups', ['id'], 'CASCADE'],
          ],
        },
      ),
    );
    await q.createTable(
      table(
        'group_members',
        [
          { ...col.ref('group_id'), isPrimary: true },
          { ...col.text('member_kind', 8), isPrimary: true },
          { ...col.ref('member_id'), isPrimary: true },
        ],
        {
          indices: [['idx_group_members_member', ['member_id']]],
          foreignKeys: [[['group_id'], 'groups', ['id'], 'CASCADE']],
        },
      ),
    );
    await q.createTable(
      table(
        'credentials',
        [
          col.id(),
          col.ref('account_id'),
          col.text('kind', 16),
          col.text('label', 128),
          { ...col.text('secret_hash', 64), isUnique: true },
          col.ms('created_at'),
          col.ms('last_used_at', true),
          col.ms('expires_at', true),
        ],
        {
          indices: [['idx_credentials_account', ['account_id']]],
          foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']],
        },
      ),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['credentials', 'group_members', 'addresses', 'groups', 'accounts', 'domain_names', 'domains']) {
      await q.dropTable(name);
    }
  }
}
