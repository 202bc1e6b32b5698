import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, table } from '../table-helpers.js';

export class System1796000000002 implements MigrationInterface {
  name = 'System1796000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table(
        'audit_events',
        [
          col.serial(),
          col.ms('at'),
          col.text('type', 32),
          col.text('actor', 320, true),
          col.text('ip', 64, true),
          col.text('protocol', 16, true),
          col.text('target', 512, true),
          col.text('detail', 512, true),
        ],
        { indices: [['idx_audit_at', ['at']], ['idx_audit_actor', ['actor', 'at']]] },
      ),
    );
    await q.createTable(
      table('auth_throttle', [
        { ...col.text('key', 330), isPrimary: true },
        col.int('failures'),
        col.ms('first_failure_at'),
        col.ms('last_failure_at'),
      ]),
    );
    await q.createTable(
      table('change_collections', [{ ...col.text('collection', 300), isPrimary: true }, col.ms('seq'), col.ms('floor_seq')]),
    );
    await q.createTable(
      table(
        'change_entries',
        [
          { ...col.text('collection', 300), isPrimary: true },
          { ...col.text('item', 1024), isPrimary: true },
          col.ms('seq'),
          col.text('kind', 8),
        ],
        { indices: [['idx_change_entries_seq', ['collection', 'seq']]] },
      ),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['change_entries', 'change_collections', 'auth_throttle', 'audit_events']) await q.dropTable(name);
  }
}
