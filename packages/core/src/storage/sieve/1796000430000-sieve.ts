import type { MigrationInterface, QueryRunner, TableColumnOptions } from 'typeorm';
import { col, primary as key, table } from '../table-helpers.js';

const longText = (name: string): TableColumnOptions => ({ name, type: 'text', isNullable: false });

/** Sieve scripts per account and per domain: mirrors storage/sieve/entities.ts exactly. */
export class Sieve1796000430000 implements MigrationInterface {
  name = 'Sieve1796000430000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table('sieve_scripts', [key(col.ref('account_id')), key(col.text('name', 512)), longText('content'), col.bool('active'), col.int('size'), col.ms('updated_at')], {
        foreignKeys: [[['account_id'], 'accounts', ['id'], 'CASCADE']],
      }),
    );
    await q.createTable(
      table('sieve_domain_scripts', [key(col.ref('domain_id')), longText('content'), col.ms('updated_at')], {
        foreignKeys: [[['domain_id'], 'domains', ['id'], 'CASCADE']],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('sieve_domain_scripts');
    await q.dropTable('sieve_scripts');
  }
}
