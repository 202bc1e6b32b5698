import { EntitySchema } from 'typeorm';

/** One row per (account, legacy server, legacy folder): see MailMigrationStore. Counters are BIGINT. */
export interface MailMigrationCursorRow {
  accountId: string;
  source: string;
  folder: string;
  uidValidity: number;
  lastUid: number;
  mailboxId: string;
  lastTargetUid: number;
  copied: number;
  updatedAt: number;
}

const big = (name: string) => ({ type: 'bigint', name }) as const;

export const MailMigrationCursorEntity = new EntitySchema<MailMigrationCursorRow>({
  name: 'MailMigrationCursor',
  tableName: 'mail_migration_cursors',
  columns: {
    accountId: { type: 'varchar', length: 36, name: 'account_id', primary: true },
    source: { type: 'varchar', length: 255, primary: true },
    folder: { type: 'varchar', length: 1000, primary: true },
    uidValidity: big('uid_validity'),
    lastUid: big('last_uid'),
    mailboxId: { type: 'varchar', length: 36, name: 'mailbox_id' },
    lastTargetUid: big('last_target_uid'),
    copied: big('copied'),
    updatedAt: big('updated_at'),
  },
  indices: [{ name: 'idx_mail_migration_cursors_mailbox', columns: ['mailboxId'] }],
  foreignKeys: [
    { target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
    // A mailbox deleted since: its cursor goes with it, and the next run copies into a new one.
    { target: 'Mailbox', columnNames: ['mailboxId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
  ],
});

export interface MailMigrationCopyRow {
  accountId: string;
  source: string;
  folder: string;
  legacyUid: number;
  targetUid: number;
}

export const MailMigrationCopyEntity = new EntitySchema<MailMigrationCopyRow>({
  name: 'MailMigrationCopy',
  tableName: 'mail_migration_copies',
  columns: {
    accountId: { type: 'varchar', length: 36, name: 'account_id', primary: true },
    source: { type: 'varchar', length: 255, primary: true },
    folder: { type: 'varchar', length: 1000, primary: true },
    legacyUid: { type: 'bigint', name: 'legacy_uid', primary: true },
    targetUid: big('target_uid'),
  },
  foreignKeys: [{ target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const MAIL_MIGRATION_ENTITIES = [MailMigrationCursorEntity, MailMigrationCopyEntity] as const;
