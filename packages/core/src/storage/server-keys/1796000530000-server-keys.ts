import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, primary, table } from '../table-helpers.js';

/** Per-deployment random keys (storage/server-keys/entities.ts), and the DKIM key waiting for its DNS record. */
export class ServerKeys1796000530000 implements MigrationInterface {
  name = 'ServerKeys1796000530000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(table('server_keys', [primary(col.text('purpose', 64)), col.text('value', 64), col.ms('created_at')]));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('server_keys');
  }
}
