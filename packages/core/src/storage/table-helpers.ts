import { Table, TableForeignKey, TableIndex, type TableColumnOptions } from 'typeorm';

/**
 * Small builders so that one migration describes a table for both SQLite and PostgreSQL through
 * TypeORM's portable Table API (never dialect SQL), mirroring the EntitySchema definitions exactly:
 * migration-sync.test.ts fails if the two drift apart.
 */
export const col = {
  id: (name = 'id'): TableColumnOptions => ({ name, type: 'varchar', length: '36', isPrimary: true }),
  ref: (name: string, nullable = false): TableColumnOptions => ({ name, type: 'varchar', length: '36', isNullable: nullable }),
  text: (name: string, length: number, nullable = false): TableColumnOptions => ({
    name,
    type: 'varchar',
    length: String(length),
    isNullable: nullable,
  }),
  ms: (name: string, nullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable: nullable }),
  int: (name: string, nullable = false): TableColumnOptions => ({ name, type: 'integer', isNullable: nullable }),
  bool: (name: string): TableColumnOptions => ({ name, type: 'boolean' }),
  serial: (name = 'id'): TableColumnOptions => ({
    name,
    type: 'integer',
    isPrimary: true,
    isGenerated: true,
    generationStrategy: 'increment',
  }),
};

/** The column as part of the table's primary key (composite keys). */
export const primary = (column: TableColumnOptions): TableColumnOptions => ({ ...column, isPrimary: true });

export function table(
  name: string,
  columns: TableColumnOptions[],
  extra: { indices?: [string, string[]][]; foreignKeys?: [string[], string, string[], ('CASCADE' | 'SET NULL')?][] } = {},
): Table {
  return new Table({
    name,
    columns,
    indices: (extra.indices ?? []).map(([indexName, cols]) => new TableIndex({ name: indexName, columnNames: cols })),
    foreignKeys: (extra.foreignKeys ?? []).map(
      ([cols, refTable, refCols, onDelete]) =>
        new TableForeignKey({
          columnNames: cols,
          referencedTableName: refTable,
          referencedColumnNames: refCols,
          onDelete: onDelete ?? 'NO ACTION',
        }),
    ),
  });
}
