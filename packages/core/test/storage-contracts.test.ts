import { writeFile, readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MemoryAuditLog,
  MemoryBlobStore,
  MemoryChangeLog,
  MemoryDirectoryStore,
  MemoryNotifier,
  MemoryThrottleStore,
  MemoryUsageStore,
  usageStoreContract,
  auditLogContract,
  blobStoreContract,
  changeLogContract,
  directoryStoreContract,
  notifierContract,
  throttleStoreContract,
} from '../src/testing/index.js';
import { FsBlobStore, SqlAuditLog, SqlChangeLog, SqlDirectoryStore, SqlThrottleStore, SqlUsageStore, createPgNotifier } from '../src/storage/index.js';
import { createTestDatabase } from '../src/testing/postgres.js';
import { backends } from './harness.js';

const done = async () => undefined;

directoryStoreContract('memory', { make: async () => ({ subject: new MemoryDirectoryStore(), cleanup: done }) });
changeLogContract('memory', { make: async () => ({ subject: new MemoryChangeLog(), cleanup: done }) });
auditLogContract('memory', { make: async () => ({ subject: new MemoryAuditLog(), cleanup: done }) });
throttleStoreContract('memory', { make: async () => ({ subject: new MemoryThrottleStore(), cleanup: done }) });
usageStoreContract('memory', { make: async () => ({ subject: new MemoryUsageStore(), accountId: 'acct-1', cleanup: done }) });
notifierContract('memory', {
  make: async () => {
    const n = new MemoryNotifier();
    return { subject: n, peer: n, cleanup: () => n.close() };
  },
});
blobStoreContract('memory', {
  make: async () => {
    const store = new MemoryBlobStore();
    return { subject: store, cleanup: done, corrupt: async (id: string) => store.corrupt(id) };
  },
});
blobStoreContract('file system', {
  make: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palabre-blobs-'));
    // Without its memory cache, which serves a blob just written from the intact bytes it was given
    // (fs-blob-store.test.ts covers that): here damage on disk must show at the next whole read.
    const store = new FsBlobStore(dir, { cacheBytes: 0 });
    return {
      subject: store,
      cleanup: () => rm(dir, { recursive: true, force: true }),
      corrupt: async (id: string) => {
        const path = join(dir, id.slice(0, 2), id.slice(2, 4), id);
        const data = await readFile(path);
        data[0] = data[0]! ^ 0xff;
        await writeFile(path, data);
      },
    };
  },
});

for (const backend of backends) {
  describe(backend.name, () => {
    directoryStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlDirectoryStore(db), cleanup };
      },
    });
    changeLogContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlChangeLog(db), cleanup };
      },
    });
    auditLogContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlAuditLog(db), cleanup };
      },
    });
    usageStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        const directory = new SqlDirectoryStore(db);
        await directory.createDomain({ name: 'sante.gouv.tg' });
        const account = await directory.createAccount({ address: 'awa@sante.gouv.tg' });
        return { subject: new SqlUsageStore(db), accountId: account.id, cleanup };
      },
    });
    throttleStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlThrottleStore(db), cleanup };
      },
    });
    it('throttle housekeeping drops idle counters and devices unseen for too long', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const store = new SqlThrottleStore(db);
        const t0 = new Date('2026-01-01T00:00:00Z');
        const later = new Date(t0.getTime() + 10_000);
        await store.recordFailure('ip:192.0.2.1', t0, 1000);
        await store.rememberDevice('dev:192.0.2.1|awa@sante.gouv.tg', t0);
        await store.sweep(later, 1000);
        expect(await store.peek('ip:192.0.2.1', t0, 1000)).toBeNull();
        expect(await store.isKnownDevice('dev:192.0.2.1|awa@sante.gouv.tg', later, 60_000)).toBe(true);
        await store.sweep(later, 1000, 5000);
        expect(await store.isKnownDevice('dev:192.0.2.1|awa@sante.gouv.tg', later, 60_000)).toBe(false);
      } finally {
        await cleanup();
      }
    });
  });
}

if (backends.some((b) => b.name === 'postgres')) {
  notifierContract('postgres LISTEN/NOTIFY, two nodes', {
    make: async () => {
      const tdb = await createTestDatabase();
      const a = await createPgNotifier({ url: tdb.url });
      const b = await createPgNotifier({ url: tdb.url });
      return {
        subject: a,
        peer: b,
        cleanup: async () => {
          await a.close();
          await b.close();
          await tdb.drop();
        },
      };
    },
  });
}
