import { describe } from 'vitest';
import {
  MemoryBlobStore,
  MemoryDirectoryStore,
  MemoryMailMigrationStore,
  mailMigrationStoreContract,
  type MailMigrationContractExtra,
} from '../src/testing/index.js';
import { SqlDirectoryStore, SqlMailMigrationStore, SqlMailStore, SqlUsageStore } from '../src/storage/index.js';
import type { DirectoryStore, MailStore } from '../src/index.js';
import { backends } from './harness.js';

async function fixture(directory: DirectoryStore, mail: MailStore | null): Promise<MailMigrationContractExtra> {
  await directory.createDomain({ name: 'sante.gouv.tg' });
  const a = await directory.createAccount({ address: 'awa@sante.gouv.tg' });
  const b = await directory.createAccount({ address: 'kofi@sante.gouv.tg' });
  if (!mail)
    return {
      accounts: [a.id, b.id],
      mailboxes: [
        ['mbx-a1', 'mbx-a2'],
        ['mbx-b1', 'mbx-b2'],
      ],
    };
  const ids = async (accountId: string): Promise<[string, string]> => {
    const boxes = await mail.ensureMailboxes(accountId);
    return [boxes.find((m) => m.name === 'INBOX')!.id, boxes.find((m) => m.name === 'Archive')!.id];
  };
  return { accounts: [a.id, b.id], mailboxes: [await ids(a.id), await ids(b.id)] };
}

mailMigrationStoreContract('memory', {
  make: async () => ({
    subject: new MemoryMailMigrationStore(),
    ...(await fixture(new MemoryDirectoryStore(), null)),
    cleanup: async () => undefined,
  }),
});

for (const backend of backends) {
  describe(backend.name, () => {
    mailMigrationStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return {
          subject: new SqlMailMigrationStore(db),
          ...(await fixture(
            new SqlDirectoryStore(db),
            new SqlMailStore(db, { blobs: new MemoryBlobStore(), usage: new SqlUsageStore(db) }),
          )),
          cleanup,
        };
      },
    });
  });
}
