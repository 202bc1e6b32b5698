import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Invitations (CalendarServer sharing): each share says whether the sharee answered and whether an
 * invite notification stands for it. Shares made before were in force without a question: a null status
 * reads as accepted, a null notice as none, a null modified_at as the creation time.
 */
export class ShareInvites1796000540000 implements MigrationInterface {
  name = 'ShareInvites1796000540000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('calendar_shares', new TableColumn({ name: 'status', type: 'varchar', length: '10', isNullable: true }));
    await q.addColumn('calendar_shares', new TableColumn({ name: 'notice', type: 'boolean', isNullable: true }));
    await q.addColumn('calendar_shares', new TableColumn({ name: 'modified_at', type: 'bigint', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['modified_at', 'notice', 'status']) await q.dropColumn('calendar_shares', name);
  }
}
