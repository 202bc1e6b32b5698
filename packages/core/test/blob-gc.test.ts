import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectUnreferencedBlobs, type BlobStore } from '../src/index.js';
import { FsBlobStore } from '../src/storage/index.js';
import { MemoryBlobStore } from '../src/testing/index.js';

const HOUR = 3600_000;

const stores: [string, () => Promise<{ blobs: BlobStore; cleanup: () => Promise<void> }>][] = [
  ['memory', async () => ({ blobs: new MemoryBlobStore(), cleanup: async () => undefined })],
  [
    'file system',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'palabre-gc-'));
      return { blobs: new FsBlobStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  ],
];

describe.each(stores)('blob garbage collection on %s', (_name, make) => {
  let cleanup: () => Promise<void> = async () => undefined;
  afterEach(() => cleanup());

  it('removes what nothing uses and keeps what something does, once settled', async () => {
    const made = await make();
    ({ cleanup } = made);
    const { blobs } = made;
    const kept = await blobs.put('in use');
    const dropped = await blobs.put('garbage');
    const references = [async (ids: readonly string[]) => new Set(ids.filter((id) => id === kept.id))];
    // Now: too young for the grace period.
    expect(await collectUnreferencedBlobs({ blobs, references, graceMs: HOUR, now: Date.now() })).toMatchObject({ trashed: 0, removed: 0 });
    // Two hours on: trashed now, and settled in the same run (it has been in the trash long enough by then).
    const later = await collectUnreferencedBlobs({ blobs, references, graceMs: HOUR, now: Date.now() + 2 * HOUR });
    expect(later).toMatchObject({ examined: 2, trashed: 1, restored: 0, removed: 1, bytes: dropped.size });
    expect(await blobs.stat(dropped.id)).toBeNull();
    expect((await blobs.read(kept.id)).toString()).toBe('in use');
  });

  it('loses nothing when the same bytes are stored and referred to while it deletes them', async () => {
    // The race: the collector asks "who uses X?" (nobody), then a writer stores X's bytes again (a
    // re-upload, the same attachment delivered again) and commits a row referring to X, then the
    // collector acts on its answer. Deleting there would leave the new row pointing at nothing.
    const made = await make();
    ({ cleanup } = made);
    const { blobs } = made;
    const old = await blobs.put('attachment.pdf bytes');
    const referenced = new Set<string>();
    let raced = false;
    const references = [
      async (ids: readonly string[]) => {
        const answer = new Set(ids.filter((id) => referenced.has(id)));
        if (!raced) {
          raced = true;
          expect(await blobs.put('attachment.pdf bytes')).toEqual(old);
          referenced.add(old.id);
        }
        return answer;
      },
    ];
    const now = Date.now() + 2 * HOUR;
    const first = await collectUnreferencedBlobs({ blobs, references, graceMs: HOUR, settleMs: 5 * 60_000, now: Date.now() + 2 * HOUR });
    expect(first.trashed).toBe(1);
    expect((await blobs.read(old.id)).toString()).toBe('attachment.pdf bytes');
    const second = await collectUnreferencedBlobs({ blobs, references, graceMs: HOUR, now: now + HOUR });
    expect(second.removed).toBe(0);
    expect((await blobs.read(old.id)).toString()).toBe('attachment.pdf bytes');
    expect(await blobs.stat(old.id)).toEqual(old);
  });

  it('puts back a trashed blob that something refers to by the second look, without rewriting it', async () => {
    // A writer that found the bytes already stored (and so wrote nothing) just before they were trashed.
    const made = await make();
    ({ cleanup } = made);
    const { blobs } = made;
    const old = await blobs.put('found, not written');
    const referenced = new Set<string>();
    const references = [async (ids: readonly string[]) => new Set(ids.filter((id) => referenced.has(id)))];
    // Trashed now, settled only by a later run (settleMs not yet elapsed since the trashing).
    const first = await collectUnreferencedBlobs({ blobs, references, graceMs: 0, settleMs: HOUR, now: Date.now() + 1 });
    expect(first).toMatchObject({ trashed: 1, removed: 0 });
    referenced.add(old.id);
    // Readable all along: the row committed in between can be served.
    expect((await blobs.read(old.id)).toString()).toBe('found, not written');
    const second = await collectUnreferencedBlobs({ blobs, references, graceMs: HOUR, settleMs: HOUR, now: Date.now() + 2 * HOUR });
    expect(second).toMatchObject({ restored: 1, removed: 0 });
    const listed: string[] = [];
    for await (const entry of blobs.list()) listed.push(entry.id);
    expect(listed).toEqual([old.id]);
    // Young again after its restore: a third run at once leaves it alone even if unreferenced.
    referenced.clear();
    const third = await collectUnreferencedBlobs({ blobs, references, graceMs: HOUR, now: Date.now() });
    expect(third).toMatchObject({ trashed: 0, removed: 0 });
  });
});
