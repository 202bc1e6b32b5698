import { describe, expect, it } from 'vitest';
import { MemoryBlobStore, MemoryDirectoryStore, MemoryMailStore, MemoryUsageStore } from '@palabre/core/testing';
import { analyzeMessage } from './mime/analyze.js';
import { collectMailGarbage } from './mail-blob-gc.js';

describe('collectMailGarbage', () => {
  it('deletes only blobs that no holder uses and that are older than the grace period', async () => {
    const directory = new MemoryDirectoryStore();
    await directory.createDomain({ name: 'sante.gouv.tg' });
    const awa = await directory.createAccount({ address: 'awa@sante.gouv.tg' });
    const blobs = new MemoryBlobStore();
    const store = new MemoryMailStore({ directory, blobs, usage: new MemoryUsageStore() });
    const filed = Buffer.from('Subject: filed\r\n\r\nbody\r\n');
    const queued = await blobs.put('Subject: queued\r\n\r\nbody\r\n');
    const orphan = await blobs.put('Subject: expunged long ago\r\n\r\nbody\r\n');
    const blob = await blobs.put(filed);
    const a = await analyzeMessage(filed);
    await store.deliver({ blobId: blob.id, size: blob.size, receivedAt: new Date(), analysis: a }, [{ accountId: awa.id }]);
    const queue = async (ids: readonly string[]) => new Set(ids.filter((id) => id === queued.id));
    const early = await collectMailGarbage({ blobs, references: [(ids) => store.referencedBlobs(ids), queue] });
    expect(early.removed).toBe(0);
    const later = await collectMailGarbage({ blobs, references: [(ids) => store.referencedBlobs(ids), queue], now: new Date(Date.now() + 2 * 3600_000) });
    expect(later).toMatchObject({ examined: 3, removed: 1 });
    expect(await blobs.stat(orphan.id)).toBeNull();
    expect(await blobs.stat(queued.id)).not.toBeNull();
    expect(await blobs.stat(blob.id)).not.toBeNull();
  });
});
