import { TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';
import { col, primary as key, table } from '../table-helpers.js';

const text = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const unique = (name: string, columnNames: string[]) => new TableIndex({ name, columnNames, isUnique: true });

/** Calendars and address books (CalDAV, CardDAV): mirrors storage/calendar/entities.ts exactly. */
export class Calendar1796000300000 implements MigrationInterface {
  name = 'Calendar1796000300000';

  async up(q: QueryRunner): Promise<void> {
    const collections = table(
      'calendar_collections',
      [
        col.id(),
        col.text('kind', 12),
        col.ref('account_id', true),
        col.ref('domain_id', true),
        col.text('name', 255),
        text('display_name', true),
        text('description', true),
        text('timezone', true),
        col.text('components', 128),
        col.bool('read_only'),
        col.ms('max_span_ms'),
        col.ms('created_at'),
        col.ms('modified_at'),
      ],
      {
        foreignKeys: [
          [['account_id'], 'accounts', ['id'], 'CASCADE'],
          [['domain_id'], 'domains', ['id'], 'CASCADE'],
        ],
      },
    );
    collections.indices.push(unique('uq_calendar_collections_account_name', ['account_id', 'name']), unique('uq_calendar_collections_domain', ['domain_id']));
    await q.createTable(collections);
    const objects = table(
      'calendar_objects',
      [
        col.id(),
        col.ref('collection_id'),
        col.text('name', 255),
        col.text('uid', 1024),
        col.text('component', 16),
        col.text('etag', 64),
        col.ms('size'),
        text('data'),
        col.ms('first_start', true),
        col.ms('last_end', true),
        col.ms('instances_until', true),
        col.ms('instances_from', true),
        col.bool('floating'),
        col.bool('recurring'),
        col.bool('exact'),
        text('search_text', true),
        col.ms('created_at'),
        col.ms('modified_at'),
      ],
      {
        indices: [
          ['idx_calendar_objects_until', ['collection_id', 'instances_until']],
          ['idx_calendar_objects_from', ['collection_id', 'instances_from']],
        ],
        foreignKeys: [[['collection_id'], 'calendar_collections', ['id'], 'CASCADE']],
      },
    );
    objects.indices.push(unique('uq_calendar_objects_name', ['collection_id', 'name']), unique('uq_calendar_objects_uid', ['collection_id', 'uid']));
    await q.createTable(objects);
    await q.createTable(
      table(
        'calendar_instances',
        [key(col.ref('object_id')), key(col.int('ord')), col.ref('collection_id'), col.ms('start_ms'), col.ms('end_ms'), col.bool('floating'), col.bool('exact')],
        {
          indices: [['idx_calendar_instances_start', ['collection_id', 'start_ms']]],
          foreignKeys: [[['object_id'], 'calendar_objects', ['id'], 'CASCADE']],
        },
      ),
    );
    await q.createTable(
      table('calendar_props', [key(col.ref('collection_id')), key(col.ref('viewer_id')), key(col.text('name', 512)), text('value')], {
        foreignKeys: [[['collection_id'], 'calendar_collections', ['id'], 'CASCADE']],
      }),
    );
    await q.createTable(
      table('calendar_shares', [key(col.ref('collection_id')), key(col.text('grantee_kind', 8)), key(col.ref('grantee_id')), col.text('access', 10), col.ms('created_at')], {
        indices: [['idx_calendar_shares_grantee', ['grantee_kind', 'grantee_id']]],
        foreignKeys: [[['collection_id'], 'calendar_collections', ['id'], 'CASCADE']],
      }),
    );
    await q.createTable(
      table('calendar_delegates', [key(col.ref('owner_id')), key(col.text('delegate_kind', 8)), key(col.ref('delegate_id')), col.text('access', 10)], {
        indices: [['idx_calendar_delegates_delegate', ['delegate_kind', 'delegate_id']]],
        foreignKeys: [[['owner_id'], 'accounts', ['id'], 'CASCADE']],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['calendar_delegates', 'calendar_shares', 'calendar_props', 'calendar_instances', 'calendar_objects', 'calendar_collections']) await q.dropTable(name);
  }
}
