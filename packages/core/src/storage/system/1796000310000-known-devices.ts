import type { MigrationInterface, QueryRunner } from 'typeorm';
import { col, table } from '../table-helpers.js';

/**
 * Devices (client address and account) that signed in successfully: a lock against guessers of one
 * account bites unknown devices only, so a stranger's wrong passwords never lock the owner out.
 */
export class KnownDevices1796000310000 implements MigrationInterface {
  name = 'KnownDevices1796000310000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(table('auth_known_devices', [{ ...col.text('key', 330), isPrimary: true }, col.ms('last_success_at')]));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('auth_known_devices');
  }
}
