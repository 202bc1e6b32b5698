import { EntitySchema } from 'typeorm';

/** One row per (account, script name); at most one active per account (enforced by the store). */
export interface SieveScriptRow {
  accountId: string;
  name: string;
  content: string;
  active: boolean;
  size: number;
  updatedAt: number;
}

export interface SieveDomainScriptRow {
  domainId: string;
  content: string;
  updatedAt: number;
}

export const SieveScriptEntity = new EntitySchema<SieveScriptRow>({
  name: 'SieveScript',
  tableName: 'sieve_scripts',
  columns: {
    accountId: { type: 'varchar', length: 36, name: 'account_id', primary: true },
    name: { type: 'varchar', length: 512, primary: true },
    content: { type: 'text' },
    active: { type: 'boolean' },
    size: { type: 'integer' },
    updatedAt: { type: 'bigint', name: 'updated_at' },
  },
  foreignKeys: [{ target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const SieveDomainScriptEntity = new EntitySchema<SieveDomainScriptRow>({
  name: 'SieveDomainScript',
  tableName: 'sieve_domain_scripts',
  columns: {
    domainId: { type: 'varchar', length: 36, name: 'domain_id', primary: true },
    content: { type: 'text' },
    updatedAt: { type: 'bigint', name: 'updated_at' },
  },
  foreignKeys: [{ target: 'Domain', columnNames: ['domainId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const SIEVE_ENTITIES = [SieveScriptEntity, SieveDomainScriptEntity];
