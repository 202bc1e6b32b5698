import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * A collection's listing (PROPFIND Depth 1, an initial sync-collection) reads, page by page in name
 * order, the columns of listEntries only, and this index holds them all: without it each of 25,000
 * names looked its row up in the table (rows of about 2 KB with the object's text), which was half
 * of the listing's time on SQLite.
 */
export class CalendarListing1796000750000 implements MigrationInterface {
  name = 'CalendarListing1796000750000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex(
      'calendar_objects',
      new TableIndex({ name: 'idx_calendar_objects_listing', columnNames: ['collection_id', 'name', 'etag', 'component', 'size', 'created_at', 'modified_at'] }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('calendar_objects', 'idx_calendar_objects_listing');
  }
}
