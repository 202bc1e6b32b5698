import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Invitations (CalendarServer sharing): each share says whether the sharee answered and whether an
 * invite notification stands for it. Shares made before were in force without a question: accepted.
 */
export class ShareInvites1796000540000 implements MigrationInterface {
  name = 'ShareInvites1796000540000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('calendar_shares', new TableColumn({ name: 'status', type: 'varchar', length: '10', default: "'accepted'" }));
    await q.addColumn('calendar_shares', new TableColumn({ name: 'notice', type: 'boolean', default: false }));
    await q.addColumn('calendar_shares', new TableColumn({ name: 'modified_at', type: 'bigint', default: 0 }));
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['modified_at', 'notice', 'status']) await q.dropColumn('calendar_shares', name);
  }
}
