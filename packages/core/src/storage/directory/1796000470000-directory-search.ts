import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { foldName } from '../../directory/directory-rules.js';

/**
 * The folded display name beside each account (foldName: no accents, lower case), indexed with the
 * domain, so a directory search (principal-property-search, an address picker) is one index range
 * instead of a scan of 70,000 names. Filled here for the accounts that exist, by the store afterwards.
 */
export class DirectorySearch1796000470000 implements MigrationInterface {
  name = 'DirectorySearch1796000470000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('accounts', new TableColumn({ name: 'search_name', type: 'varchar', length: '256', isNullable: true }));
    const mark = (n: number) => (q.connection.options.type === 'postgres' ? `$${n}` : '?');
    const rows: { id: string; display_name: string }[] = await q.query('SELECT id, display_name FROM accounts');
    for (const r of rows) await q.query(`UPDATE accounts SET search_name = ${mark(1)} WHERE id = ${mark(2)}`, [foldName(r.display_name), r.id]);
    await q.createIndex('accounts', new TableIndex({ name: 'idx_accounts_search', columnNames: ['domain_id', 'search_name'] }));
    await q.createIndex('accounts', new TableIndex({ name: 'idx_accounts_search_all', columnNames: ['search_name'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('accounts', 'idx_accounts_search_all');
    await q.dropIndex('accounts', 'idx_accounts_search');
    await q.dropColumn('accounts', 'search_name');
  }
}
