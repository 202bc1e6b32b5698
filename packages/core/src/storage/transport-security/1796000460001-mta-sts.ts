import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, primary as key, table } from '../table-helpers.js';

/** MTA-STS policies shared by every node: mirrors storage/transport-security/entities.ts. */
export class MtaSts1796000460001 implements MigrationInterface {
  name = 'MtaSts1796000460001';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table('mta_sts_policies', [key(col.text('domain', 253)), col.text('policy_id', 32), col.text('mode', 8), { name: 'mx', type: 'text', isNullable: false }, col.int('max_age'), col.ms('fetched_at')]),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('mta_sts_policies');
  }
}
