import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { MemoryBlobStore, MemoryDirectoryStore, MemoryMailStore, MemoryNotifier, MemoryUsageStore, mailStoreContract } from '../src/testing/index.js';
import { FsBlobStore, SqlDirectoryStore, SqlMailStore, SqlUsageStore } from '../src/storage/index.js';
import { backends } from './harness.js';

mailStoreContract('memory', {
  make: async () => {
    const directory = new MemoryDirectoryStore();
    const blobs = new MemoryBlobStore();
    const usage = new MemoryUsageStore();
    const notifier = new MemoryNotifier();
    const subject = new MemoryMailStore({ directory, blobs, usage, notifier, maxTombstones: 5 });
    return { subject, directory, blobs, usage, notifier, cleanup: () => notifier.close() };
  },
});

for (const backend of backends) {
  describe(backend.name, () => {
    mailStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        const dir = await mkdtemp(join(tmpdir(), 'palabre-mail-blobs-'));
        const blobs = new FsBlobStore(dir);
        const usage = new SqlUsageStore(db);
        const notifier = new MemoryNotifier();
        // A small page size so the paging paths run in every test.
        const subject = new SqlMailStore(db, { blobs, usage, notifier, pageSize: 100, maxTombstones: 5 });
        return {
          subject,
          directory: new SqlDirectoryStore(db),
          blobs,
          usage,
          notifier,
          cleanup: async () => {
            await notifier.close();
            await cleanup();
            await rm(dir, { recursive: true, force: true });
          },
        };
      },
    });
  });
}
