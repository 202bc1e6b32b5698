import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * SQLite: SEARCH FROM/TO/SUBJECT… reads the search text from an index of its own. In the table the
 * search column comes after the header and the analysis (added later), so testing it walked every
 * row's record and its overflow pages, about a kilobyte each: 10–13 ms of a blocked event loop per
 * SEARCH over 10,000 messages, which every other session of the process waited through. The index
 * holds (mailbox, uid, search text) alone, about a tenth of that. PostgreSQL gets none: it reads the
 * rows in its own processes, not on the node's event loop, and a B-tree entry is limited to about
 * 2.7 KB, which a long recipient list can pass.
 */
export class MailSearchCovering1796000610000 implements MigrationInterface {
  name = 'MailSearchCovering1796000610000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') return;
    await q.query('CREATE INDEX IF NOT EXISTS "idx_mail_messages_search" ON "mail_messages" ("mailbox_id", "uid", "search_text")');
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') return;
    await q.query('DROP INDEX IF EXISTS "idx_mail_messages_search"');
  }
}
