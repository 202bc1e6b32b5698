import { describe } from 'vitest';
import { MemoryMailMetadataStore, mailMetadataStoreContract } from '../src/testing/index.js';
import { SqlMailMetadataStore } from '../src/storage/index.js';
import { backends } from './harness.js';

mailMetadataStoreContract('memory', { make: async () => ({ subject: new MemoryMailMetadataStore(), cleanup: async () => undefined }) });

for (const backend of backends) {
  describe(backend.name, () => {
    mailMetadataStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlMailMetadataStore(db), cleanup };
      },
    });
  });
}
