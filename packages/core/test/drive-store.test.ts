import { describe } from 'vitest';
import { MemoryDirectoryStore, MemoryDriveStore, MemoryLockStore, driveStoreContract, lockStoreContract } from '../src/testing/index.js';
import { SqlDirectoryStore, SqlDriveStore, SqlLockStore, SqlUsageStore } from '../src/storage/index.js';
import { backends } from './harness.js';

const done = async () => undefined;

driveStoreContract('memory', {
  make: async () => {
    const directory = new MemoryDirectoryStore();
    const drive = new MemoryDriveStore({ directory });
    return { subject: drive, directory, usage: drive.accountUsage, cleanup: done };
  },
});
lockStoreContract('memory', { make: async () => ({ subject: new MemoryLockStore(), cleanup: done }) });

for (const backend of backends) {
  describe(backend.name, () => {
    driveStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlDriveStore(db), directory: new SqlDirectoryStore(db), usage: new SqlUsageStore(db), cleanup };
      },
    });
    lockStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlLockStore(db), cleanup };
      },
    });
  });
}
