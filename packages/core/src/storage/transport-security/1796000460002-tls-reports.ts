import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, primary as key, table } from '../table-helpers.js';

/** RFC 8460 session counts: mirrors storage/transport-security/entities.ts. */
export class TlsReports1796000460002 implements MigrationInterface {
  name = 'TlsReports1796000460002';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      table('tls_report_counts', [
        key(col.text('day', 10)),
        key(col.text('domain', 253)),
        key(col.text('policy_type', 16)),
        key(col.text('policy_id', 32)),
        key(col.text('result_type', 40)),
        key(col.text('receiving_mx', 253)),
        col.int('count'),
      ]),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('tls_report_counts');
  }
}
