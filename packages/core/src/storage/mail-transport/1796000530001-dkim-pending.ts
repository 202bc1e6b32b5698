import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * A DKIM key made by `palabre dkim rotate` waits, pending, until its DNS record is published: it
 * signs only once activated, so no mail is signed with a key receivers cannot look up yet.
 */
export class DkimPending1796000530001 implements MigrationInterface {
  name = 'DkimPending1796000530001';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('dkim_keys', new TableColumn({ name: 'pending', type: 'boolean', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('dkim_keys', 'pending');
  }
}
