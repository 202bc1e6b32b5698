import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** RFC 8689: a queued message remembers REQUIRETLS (or the sender's `TLS-Required: No`) until it is delivered. */
export class RequireTls1796000460000 implements MigrationInterface {
  name = 'RequireTls1796000460000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('outbound_messages', new TableColumn({ name: 'tls_policy', type: 'varchar', length: '20', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('outbound_messages', 'tls_policy');
  }
}
