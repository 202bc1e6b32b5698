import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, table } from '../table-helpers.js';

export class Usage1796000000003 implements MigrationInterface {
  name = 'Usage1796000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table('account_usage', [{ ...col.ref('account_id'), isPrimary: true }, { ...col.text('kind', 16), isPrimary: true }, col.ms('bytes')], {
        foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('account_usage');
  }
}
