import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, primary as key, table } from '../table-helpers.js';

/** RFC 8460 TLSA policies the day's counts refer to: mirrors storage/transport-security/entities.ts. */
export class TlsaPolicies1796000730000 implements MigrationInterface {
  name = 'TlsaPolicies1796000730000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table('tls_report_tlsa_policies', [key(col.text('day', 10)), key(col.text('policy_id', 32)), col.text('policy_domain', 253), { name: 'records', type: 'text', isNullable: false }]),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('tls_report_tlsa_policies');
  }
}
