import { describe } from 'vitest';
import { MemoryCalendarStore, MemoryDirectoryStore, MemoryUsageStore, calendarStoreContract } from '../src/testing/index.js';
import { SqlCalendarStore, SqlDirectoryStore, SqlUsageStore } from '../src/storage/index.js';
import { backends } from './harness.js';

calendarStoreContract('memory', {
  make: async () => {
    const directory = new MemoryDirectoryStore();
    const usage = new MemoryUsageStore();
    return { subject: new MemoryCalendarStore({ directory, usage }), directory, usage, cleanup: async () => undefined };
  },
});

for (const backend of backends) {
  describe(backend.name, () => {
    calendarStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlCalendarStore(db), directory: new SqlDirectoryStore(db), usage: new SqlUsageStore(db), cleanup };
      },
    });
  });
}
