import { Table, TableForeignKey, TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';
import { col } from '../table-helpers.js';

// Mirrors entities/drive.ts exactly (migration-sync test); account_usage (drive and mail bytes) is 0003's. Unlimited text columns and unique indices are
// beyond table-helpers, so this file builds its Table objects itself, still through the portable API.
const text = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const index = (name: string, columnNames: string[], isUnique = false) => new TableIndex({ name, columnNames, isUnique });
const fk = (columnNames: string[], referencedTableName: string) =>
  new TableForeignKey({ columnNames, referencedTableName, referencedColumnNames: ['id'], onDelete: 'CASCADE' });

export class Drive1796000100000 implements MigrationInterface {
  name = 'Drive1796000100000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'drive_spaces',
        columns: [
          col.id(),
          { ...col.text('name', 254), isUnique: true },
          col.text('kind', 8),
          { ...col.ref('account_id', true), isUnique: true },
          col.ref('group_id', true),
          col.ref('root_id'),
          col.ms('quota_bytes', true),
          col.ms('created_at'),
        ],
        indices: [index('idx_drive_spaces_group', ['group_id'])],
        foreignKeys: [fk(['account_id'], 'accounts'), fk(['group_id'], 'groups')],
      }),
    );
    await q.createTable(
      new Table({
        name: 'drive_nodes',
        columns: [
          col.id(),
          col.ref('space_id'),
          col.ref('parent_id', true),
          col.text('name', 255),
          col.text('kind', 4),
          col.text('blob_id', 64, true),
          col.ms('size'),
          col.text('content_type', 255, true),
          col.ms('version'),
          col.ms('created_at'),
          col.ms('modified_at'),
        ],
        indices: [
          index('idx_drive_nodes_child', ['parent_id', 'name'], true),
          index('idx_drive_nodes_space', ['space_id']),
          index('idx_drive_nodes_blob', ['blob_id']),
        ],
        foreignKeys: [fk(['space_id'], 'drive_spaces'), fk(['parent_id'], 'drive_nodes')],
      }),
    );
    await q.createTable(
      new Table({
        name: 'drive_props',
        columns: [{ ...col.ref('node_id'), isPrimary: true }, { ...col.text('name', 512), isPrimary: true }, text('value')],
        foreignKeys: [fk(['node_id'], 'drive_nodes')],
      }),
    );
    await q.createTable(
      new Table({
        name: 'drive_grants',
        columns: [
          { ...col.ref('node_id'), isPrimary: true },
          { ...col.text('principal_kind', 8), isPrimary: true },
          { ...col.ref('principal_id'), isPrimary: true },
          col.text('access', 8),
        ],
        indices: [index('idx_drive_grants_principal', ['principal_id'])],
        foreignKeys: [fk(['node_id'], 'drive_nodes')],
      }),
    );
    await q.createTable(
      new Table({
        name: 'dav_locks',
        columns: [
          { ...col.text('token', 100), isPrimary: true },
          col.text('root', 2048),
          col.int('depth'),
          col.text('scope', 9),
          text('owner', true),
          col.ref('principal_id'),
          col.int('timeout_seconds'),
          col.ms('created_at'),
          col.ms('expires_at'),
        ],
        indices: [index('idx_dav_locks_root', ['root']), index('idx_dav_locks_expires', ['expires_at'])],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['dav_locks', 'drive_grants', 'drive_props', 'drive_nodes', 'drive_spaces']) await q.dropTable(name);
  }
}
