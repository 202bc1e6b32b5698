import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** A sharee's answer stands as a notice for the owner (CalendarServer's invite-reply); null reads as none. */
export class ShareReplies1796000730001 implements MigrationInterface {
  name = 'ShareReplies1796000730001';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('calendar_shares', new TableColumn({ name: 'reply_notice', type: 'boolean', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('calendar_shares', 'reply_notice');
  }
}
