import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsBlobStore as RealFsBlobStore } from './fs-blob-store.js';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('FsBlobStore reads', () => {
  let dir: string;
  let opened: FsBlobStore[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palabre-fsblob-'));
  });
  afterEach(async () => {
    for (const store of opened) await store.close();
    opened = [];
    await rm(dir, { recursive: true, force: true });
  });
  // Every store a test makes is closed after it (cached descriptors are not left to the garbage collector).
  const FsBlobStore = class extends RealFsBlobStore {
    constructor(...args: ConstructorParameters<typeof RealFsBlobStore>) {
      super(...args);
      opened.push(this);
    }
  };
  type FsBlobStore = RealFsBlobStore;

  const damage = async (id: string) => {
    const path = join(dir, id.slice(0, 2), id.slice(2, 4), id);
    const data = await readFile(path);
    data[data.length - 1] = data[data.length - 1]! ^ 1;
    await writeFile(path, data);
  };

  it.each([
    ['blocking reads for tiny blobs', {}],
    ['the thread pool for every read', { syncReadBytes: 0 }],
    ['no memory cache', { cacheBytes: 0, syncReadBytes: 0 }],
  ])('serves small blobs whole and large ones streamed, ranges included, byte-exact (%s)', async (_name, options) => {
    const store = new FsBlobStore(dir, options);
    for (const size of [0, 1, 4000, 64 * 1024 + 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 17]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 7) % 251;
      const { id } = await store.put(data);
      expect(createHash('sha256').update(await collect(await store.get(id))).digest('hex')).toBe(id);
      if (size > 10) expect(await collect(await store.get(id, { start: 3, end: 9 }))).toEqual(data.subarray(3, 10));
    }
  });

  it('trusts a verified blob for a while, then verifies again', async () => {
    const store = new FsBlobStore(dir, { reverifyAfterMs: 100 });
    const { id } = await store.put('precious');
    expect((await store.read(id)).toString()).toBe('precious');
    await damage(id);
    expect((await store.read(id)).length).toBe(8); // within the trust period
    await new Promise((r) => setTimeout(r, 150));
    await expect(store.read(id)).rejects.toThrow(/damaged/);
    await expect(store.get(id).then(collect)).rejects.toThrow(/damaged/);
  });

  it('with reverifyAfterMs 0, verifies every whole read, small or streamed', async () => {
    const store = new FsBlobStore(dir, { reverifyAfterMs: 0 });
    const small = await store.put('small blob');
    const large = await store.put(Buffer.alloc(2 * 1024 * 1024, 3));
    await collect(await store.get(small.id));
    await collect(await store.get(large.id));
    await damage(small.id);
    await damage(large.id);
    await expect(store.get(small.id).then(collect)).rejects.toThrow(/damaged/);
    await expect(store.get(large.id).then(collect)).rejects.toThrow(/damaged/);
  });

  it('sweeps only temp files older than the limit', async () => {
    const store = new FsBlobStore(dir);
    await store.put('x');
    await writeFile(join(dir, '.tmp', 'old'), 'partial');
    expect(await store.sweepTemp(60_000, Date.now() + 120_000)).toBe(1);
    expect(await store.sweepTemp(60_000)).toBe(0);
  });

  it('writes again after its folders were removed behind its back, and forgets what it deleted', async () => {
    const store = new FsBlobStore(dir);
    const first = await store.put('first');
    await rm(dir, { recursive: true, force: true });
    expect(await store.stat(first.id)).toEqual({ id: first.id, size: 5 }); // remembered a moment
    await store.delete(first.id);
    expect(await store.stat(first.id)).toBeNull();
    const again = await store.put('first');
    expect(again.id).toBe(first.id);
    expect((await readFile(join(dir, again.id.slice(0, 2), again.id.slice(2, 4), again.id))).toString()).toBe('first');
    // A streamed write, pieces both smaller and larger than the write buffer.
    const big = Buffer.alloc(1300 * 1024, 7);
    const streamed = await store.put(Readable.from([Buffer.from('head'), big, Buffer.from('tail')]));
    expect(streamed.size).toBe(big.length + 8);
    expect(createHash('sha256').update(Buffer.concat([Buffer.from('head'), big, Buffer.from('tail')])).digest('hex')).toBe(streamed.id);
    expect(await store.stat(streamed.id)).toEqual({ id: streamed.id, size: big.length + 8 });
  });

  it('serves a blob it has just written from the bytes it was given, then checks the file once they are gone', async () => {
    const store = new FsBlobStore(dir, { reverifyAfterMs: 200 });
    const { id } = await store.put('fresh words');
    await damage(id);
    expect((await store.read(id)).toString()).toBe('fresh words'); // from memory: intact
    await new Promise((r) => setTimeout(r, 250));
    await expect(store.read(id)).rejects.toThrow(/damaged/); // the file itself was never trusted
    // Streamed blobs (larger than a whole write) are not kept.
    const big = await store.put(Readable.from([Buffer.alloc(1100 * 1024, 1), Buffer.alloc(1100 * 1024, 2)]));
    await damage(big.id);
    await expect(store.get(big.id).then(collect)).rejects.toThrow(/damaged/);
  });

  it('keeps its own copy of a streamed small blob: a source reusing its buffer changes nothing stored or served', async () => {
    const store = new FsBlobStore(dir);
    const buffer = Buffer.from('the message as it was sent');
    const { id } = await store.put(
      (async function* () {
        yield buffer;
      })(),
    );
    buffer.fill('x'); // the source reuses its buffer once the store has taken the bytes
    expect((await store.read(id)).toString()).toBe('the message as it was sent');
    expect(createHash('sha256').update(await readFile(join(dir, id.slice(0, 2), id.slice(2, 4), id))).digest('hex')).toBe(id);
  });

  it('serves a small blob it has read from memory until the trust period ends, and never a deleted one', async () => {
    const store = new FsBlobStore(dir, { reverifyAfterMs: 200 });
    const { id } = await store.put('cached words');
    expect((await store.read(id)).toString()).toBe('cached words');
    await damage(id); // on disk only: reads within the trust period come from memory, intact
    expect((await store.read(id)).toString()).toBe('cached words');
    expect((await collect(await store.get(id, { start: 7, end: 11 }))).toString()).toBe('words');
    await new Promise((r) => setTimeout(r, 250));
    await expect(store.read(id)).rejects.toThrow(/damaged/);
    await store.delete(id);
    await store.put('cached words');
    await store.read(id);
    await store.delete(id);
    await expect(store.read(id)).rejects.toThrow(/no such blob/);
    // With the cache off, every read goes to disk.
    const uncached = new FsBlobStore(dir, { cacheBytes: 0 });
    const again = await uncached.put('not kept');
    await uncached.read(again.id);
    await damage(again.id);
    expect((await uncached.read(again.id)).toString()).not.toBe('not kept'); // trusted, but read from disk
  });

  it('does not write again the bytes it has just written, but does once it deleted them', async () => {
    const store = new FsBlobStore(dir);
    const data = Buffer.alloc(700 * 1024, 9);
    const first = await store.put(Readable.from([data]));
    const path = join(dir, first.id.slice(0, 2), first.id.slice(2, 4), first.id);
    const { ino } = await stat(path);
    expect(await store.put(Readable.from([data.subarray(0, 1000), data.subarray(1000)]))).toEqual(first);
    expect(await store.put(data)).toEqual(first);
    expect((await stat(path)).ino).toBe(ino); // not replaced
    await store.delete(first.id);
    expect(await store.put(data)).toEqual(first);
    expect((await readFile(path)).equals(data)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(await readdir(join(dir, '.tmp'))).toEqual([]); // the skipped copies' temp files are gone
  });

  it('stores the same bytes and id whether the length is announced, wrong, or the pieces are kept as they come', async () => {
    const data = Buffer.alloc(900 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const id = createHash('sha256').update(data).digest('hex');
    const pieces = (from: Buffer) => [from.subarray(0, 1000), from.subarray(1000, 300_000), from.subarray(300_000)];
    const cases = [
      { expectedBytes: data.length },
      { expectedBytes: data.length, freshPieces: true },
      { expectedBytes: 1000 }, // fewer announced than sent: gathered all the same, the caller compares sizes
      { expectedBytes: data.length + 5 }, // more announced than sent
      { freshPieces: true }, // no length announced
      { expectedBytes: 5 * 1024 * 1024, freshPieces: true }, // announced as large
    ];
    for (const options of cases) {
      const store = new FsBlobStore(join(dir, String(cases.indexOf(options))));
      const copy = Buffer.from(data);
      expect(await store.put(Readable.from(pieces(copy)), options)).toEqual({ id, size: data.length });
      if (!options.freshPieces) copy.fill(0); // a source that reuses its buffer changes nothing stored
      expect((await store.read(id)).equals(data)).toBe(true);
      expect(createHash('sha256').update(await readFile(join(store.root, id.slice(0, 2), id.slice(2, 4), id))).digest('hex')).toBe(id);
      // The same bytes again: recognised by the hash taken while they came, and not written again.
      expect(await store.put(Readable.from(pieces(Buffer.from(data))), options)).toEqual({ id, size: data.length });
    }
  });

  it('refuses a stream over the limit, small or large, and leaves no file and a finished source', async () => {
    const store = new FsBlobStore(dir);
    for (const [pieces, max] of [
      [[Buffer.alloc(600 * 1024), Buffer.alloc(600 * 1024)], 1000 * 1024],
      [[Buffer.alloc(700 * 1024), Buffer.alloc(700 * 1024), Buffer.alloc(700 * 1024)], 2000 * 1024],
    ] as const) {
      const source = Readable.from(pieces);
      await expect(store.put(source, { maxBytes: max })).rejects.toThrow(/more than/);
      expect(source.destroyed).toBe(true);
    }
    expect(await readdir(join(dir, '.tmp')).catch(() => [])).toEqual([]);
    expect((await readdir(dir)).filter((n) => n !== '.tmp')).toEqual([]);
  });
});
