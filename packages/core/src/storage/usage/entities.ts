import { EntitySchema } from 'typeorm';

export interface AccountUsageRow {
  accountId: string;
  kind: string;
  bytes: number;
  /** Messages, on the 'mail' row only (RFC 9208 MESSAGE). */
  messages: number;
}

export const AccountUsageEntity = new EntitySchema<AccountUsageRow>({
  name: 'AccountUsage',
  tableName: 'account_usage',
  columns: {
    accountId: { type: 'varchar', length: 36, name: 'account_id', primary: true },
    kind: { type: 'varchar', length: 16, primary: true },
    bytes: { type: 'bigint' },
    messages: { type: 'bigint', default: 0 },
  },
  foreignKeys: [{ target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const USAGE_ENTITIES = [AccountUsageEntity];
