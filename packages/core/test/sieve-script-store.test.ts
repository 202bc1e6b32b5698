import { describe } from 'vitest';
import { MemoryDirectoryStore, MemorySieveScriptStore, sieveScriptStoreContract, type SieveContractExtra } from '../src/testing/index.js';
import { SqlDirectoryStore, SqlSieveScriptStore } from '../src/storage/index.js';
import type { DirectoryStore } from '../src/index.js';
import { backends } from './harness.js';

async function fixture(directory: DirectoryStore): Promise<SieveContractExtra> {
  const domain = await directory.createDomain({ name: 'sante.gouv.tg' });
  const a = await directory.createAccount({ address: 'awa@sante.gouv.tg' });
  const b = await directory.createAccount({ address: 'kofi@sante.gouv.tg' });
  return { accounts: [a.id, b.id], domainId: domain.id };
}

sieveScriptStoreContract('memory', {
  make: async () => ({ subject: new MemorySieveScriptStore(), ...(await fixture(new MemoryDirectoryStore())), cleanup: async () => undefined }),
});

for (const backend of backends) {
  describe(backend.name, () => {
    sieveScriptStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlSieveScriptStore(db), ...(await fixture(new SqlDirectoryStore(db))), cleanup };
      },
    });
  });
}
