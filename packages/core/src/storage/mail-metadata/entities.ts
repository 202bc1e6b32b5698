import { EntitySchema } from 'typeorm';

/** One METADATA entry; '' stands for "the server" (mailbox_key) and "shared" (account_key). */
export interface MailMetadataRow {
  mailboxKey: string;
  accountKey: string;
  name: string;
  value: string;
}

export const MailMetadataEntity = new EntitySchema<MailMetadataRow>({
  name: 'MailMetadata',
  tableName: 'mail_metadata',
  columns: {
    mailboxKey: { type: 'varchar', length: 36, name: 'mailbox_key', primary: true },
    accountKey: { type: 'varchar', length: 36, name: 'account_key', primary: true },
    name: { type: 'varchar', length: 256, primary: true },
    value: { type: 'text' },
  },
});

export const MAIL_METADATA_ENTITIES = [MailMetadataEntity];
