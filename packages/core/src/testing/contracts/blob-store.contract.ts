import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../ports/blob-store.js';
import { expectKind } from './expect-error.js';
import type { ContractSubject } from './subject.js';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export function blobStoreContract(
  name: string,
  subject: ContractSubject<BlobStore, { corrupt(id: string): Promise<void> }>,
): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let cleanup: () => Promise<void>;
    let corrupt: (id: string) => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, cleanup, corrupt } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('stores content under its SHA-256 and reads it back whole or in ranges', async () => {
      const info = await store.put('hello world');
      expect(info).toEqual({ id: sha('hello world'), size: 11 });
      expect((await collect(await store.get(info.id))).toString()).toBe('hello world');
      expect((await collect(await store.get(info.id, { start: 6, end: 10 }))).toString()).toBe('world');
      expect((await store.read(info.id)).toString()).toBe('hello world');
      expect(await store.stat(info.id)).toEqual(info);
    });

    it('streams large content in without buffering it whole', async () => {
      const chunk = Buffer.alloc(64 * 1024, 7);
      async function* source() {
        for (let i = 0; i < 160; i++) yield chunk; // 10 MiB
      }
      const hash = createHash('sha256');
      for (let i = 0; i < 160; i++) hash.update(chunk);
      const info = await store.put(source());
      expect(info).toEqual({ id: hash.digest('hex'), size: 160 * chunk.length });
      const readHash = createHash('sha256');
      let size = 0;
      for await (const part of await store.get(info.id)) {
        readHash.update(part);
        size += part.length;
      }
      expect(size).toBe(info.size);
      expect(readHash.digest('hex')).toBe(info.id);
    });

    it('keeps the bytes of a source that reuses one buffer for every piece', async () => {
      // Many readers (a socket parser, a generator) refill the same buffer after each piece is taken:
      // a store that kept views instead of copies would store the last piece over and over.
      const piece = Buffer.alloc(256 * 1024);
      async function* reusing(count: number) {
        for (let i = 0; i < count; i++) yield piece.fill(i + 1);
      }
      // Small enough to be gathered whole, and large enough to be streamed.
      for (const count of [3, 48]) {
        const hash = createHash('sha256');
        for (let i = 0; i < count; i++) hash.update(Buffer.alloc(piece.length, i + 1));
        const id = hash.digest('hex');
        expect(await store.put(reusing(count))).toEqual({ id, size: count * piece.length });
        expect(sha(await store.read(id, count * piece.length))).toBe(id);
      }
    });

    it('deduplicates identical content and deletes idempotently', async () => {
      const a = await store.put(Readable.from([Buffer.from('same')]));
      const b = await store.put(Buffer.from('same'));
      expect(a.id).toBe(b.id);
      const listed: string[] = [];
      for await (const entry of store.list()) listed.push(entry.id);
      expect(listed).toEqual([a.id]);
      await store.delete(a.id);
      await store.delete(a.id);
      expect(await store.stat(a.id)).toBeNull();
      await expectKind(store.get(a.id), 'not-found');
      await expectKind(store.read(a.id), 'not-found');
    });

    it('enforces a size limit and keeps nothing of a refused upload', async () => {
      await expectKind(store.put(Buffer.alloc(2048), { maxBytes: 1024 }), 'too-large');
      await expectKind(store.put('abc', { expectedId: sha('abd') }), 'invalid');
      const controller = new AbortController();
      async function* slow() {
        yield Buffer.from('part');
        controller.abort();
        yield Buffer.from('rest');
      }
      await expectKind(store.put(slow(), { signal: controller.signal }), 'invalid');
      const listed: string[] = [];
      for await (const entry of store.list()) listed.push(entry.id);
      expect(listed).toEqual([]);
    });

    it('refuses ids that are not hashes (no path tricks)', async () => {
      for (const bad of ['../../etc/passwd', '', 'A'.repeat(64), `${'a'.repeat(63)}/`, 'a'.repeat(65)]) {
        await expectKind(store.get(bad), 'invalid');
        await expectKind(store.stat(bad), 'invalid');
        await expectKind(store.delete(bad), 'invalid');
        await expectKind(store.trash(bad), 'invalid');
        await expectKind(store.restore(bad), 'invalid');
        await expectKind(store.purge(bad), 'invalid');
      }
      const info = await store.put('x');
      await expectKind(store.get(info.id, { start: 5, end: 2 }), 'invalid');
    });

    it('notices damaged content on a whole read', async () => {
      const info = await store.put('precious bytes');
      await corrupt(info.id);
      await expect(store.read(info.id)).rejects.toThrow(/damaged/);
      await expect(store.get(info.id).then(collect)).rejects.toThrow(/damaged/);
    });

    const ids = async (entries: AsyncIterable<{ id: string }>) => {
      const found: string[] = [];
      for await (const entry of entries) found.push(entry.id);
      return found.sort();
    };

    it('keeps a trashed blob readable but unlisted until restored or purged', async () => {
      const info = await store.put('set aside');
      const before = Date.now();
      await store.trash(info.id);
      expect(await ids(store.list())).toEqual([]);
      expect(await ids(store.listTrash())).toEqual([info.id]);
      for await (const entry of store.listTrash()) expect(entry.modifiedAt.getTime()).toBeGreaterThanOrEqual(before - 2000);
      expect((await store.read(info.id)).toString()).toBe('set aside');
      expect((await collect(await store.get(info.id))).toString()).toBe('set aside');
      expect((await collect(await store.get(info.id, { start: 4, end: 8 }))).toString()).toBe('aside');
      expect(await store.stat(info.id)).toEqual(info);
      await store.restore(info.id);
      expect(await ids(store.list())).toEqual([info.id]);
      expect(await ids(store.listTrash())).toEqual([]);
      await store.trash(info.id);
      await store.purge(info.id);
      expect(await store.stat(info.id)).toBeNull();
      await expectKind(store.read(info.id), 'not-found');
      expect(await ids(store.listTrash())).toEqual([]);
      // Absent ids: no-ops.
      await store.trash(info.id);
      await store.restore(info.id);
      await store.purge(info.id);
    });

    it('never loses bytes written again after they were trashed', async () => {
      // The collector's race: it trashes a blob nothing used, and a writer stores the same bytes (a
      // re-upload, the same attachment again) before the collector's second look.
      const info = await store.put('written twice');
      await store.trash(info.id);
      expect(await store.put('written twice')).toEqual(info);
      await store.purge(info.id);
      expect((await store.read(info.id)).toString()).toBe('written twice');
      expect(await ids(store.list())).toEqual([info.id]);
      // Restoring over a live copy keeps it.
      await store.trash(info.id);
      await store.put('written twice');
      await store.restore(info.id);
      expect((await store.read(info.id)).toString()).toBe('written twice');
      expect(await ids(store.listTrash())).toEqual([]);
    });

    it('refuses a read larger than the caller allows', async () => {
      const info = await store.put(Buffer.alloc(4096));
      await expectKind(store.read(info.id, 1024), 'too-large');
    });
  });
}
