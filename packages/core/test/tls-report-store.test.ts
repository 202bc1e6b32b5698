import { describe } from 'vitest';
import { MemoryTlsReportStore, tlsReportStoreContract } from '../src/testing/index.js';
import { SqlTlsReportStore } from '../src/storage/index.js';
import { backends } from './harness.js';

tlsReportStoreContract('memory', { make: async () => ({ subject: new MemoryTlsReportStore(), cleanup: async () => undefined }) });

for (const backend of backends) {
  describe(backend.name, () => {
    tlsReportStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlTlsReportStore(db), cleanup };
      },
    });
  });
}
