import { describe } from 'vitest';
import { MemoryMtaStsPolicyStore, mtaStsPolicyStoreContract } from '../src/testing/index.js';
import { SqlMtaStsPolicyStore } from '../src/storage/index.js';
import { backends } from './harness.js';

mtaStsPolicyStoreContract('memory', { make: async () => ({ subject: new MemoryMtaStsPolicyStore(), cleanup: async () => undefined }) });

for (const backend of backends) {
  describe(backend.name, () => {
    mtaStsPolicyStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlMtaStsPolicyStore(db), cleanup };
      },
    });
  });
}
