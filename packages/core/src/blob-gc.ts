import type { BlobEntry, BlobStore } from './ports/blob-store.js';

/** Which of these blob ids something still uses. */
export type BlobReferences = (blobIds: readonly string[]) => Promise<Set<string>>;

/** How long a trashed blob waits for its second look (default): far beyond any write's put-to-commit time. */
export const DEFAULT_BLOB_SETTLE_MS = 5 * 60_000;

export interface UnreferencedBlobsOptions {
  /** A blob store that one feature owns alone (drive, mail): everything in it is that feature's. */
  readonly blobs: BlobStore;
  /** Every holder of that feature's blobs; a blob goes only when none of them uses it. */
  readonly references: readonly BlobReferences[];
  /** Blobs younger than this stay: their bytes are written before the metadata that refers to them commits. */
  readonly graceMs: number;
  /**
   * A trashed blob is looked at again (restored if something now uses it, else destroyed) once it has
   * been in the trash this long: longer than a writer takes from storing bytes to committing the row
   * that refers to them (default DEFAULT_BLOB_SETTLE_MS). Those trashed by this run wait for the next.
   */
  readonly settleMs?: number;
  readonly now: number;
  /** Ids asked about per round (default 500). */
  readonly batch?: number;
}

export interface UnreferencedBlobsResult {
  readonly examined: number;
  /** Set aside by this run (destroyed by a later one, unless something refers to them by then). */
  readonly trashed: number;
  /** Trashed earlier, used again since, put back. */
  readonly restored: number;
  /** Destroyed by this run, and their bytes. */
  readonly removed: number;
  readonly bytes: number;
}

/**
 * The garbage-collection loop features share, in two steps so that it is safe while serving. First,
 * blobs older than the grace period that no holder uses are trashed (still readable, no longer listed).
 * Then those trashed at least `settleMs` ago are asked about again: a writer that stored the same bytes
 * between the first question and the trashing (a re-upload, the same attachment delivered again) has
 * committed its reference by then, so the blob is restored; the others are destroyed.
 */
export async function collectUnreferencedBlobs(options: UnreferencedBlobsOptions): Promise<UnreferencedBlobsResult> {
  const size = options.batch ?? 500;
  const settle = options.settleMs ?? DEFAULT_BLOB_SETTLE_MS;
  let trashed = 0;
  let restored = 0;
  let removed = 0;
  let bytes = 0;
  const used = async (ids: string[]): Promise<Set<string>> => {
    const result = new Set<string>();
    for (const refs of options.references) for (const id of await refs(ids)) result.add(id);
    return result;
  };
  type Act = (batch: { id: string; size: number }[], inUse: Set<string>) => Promise<void>;
  const inBatches = async (entries: AsyncIterable<BlobEntry>, now: number, minAgeMs: number, act: Act): Promise<number> => {
    let seen = 0;
    let batch: { id: string; size: number }[] = [];
    const flush = async () => {
      await act(batch, await used(batch.map((b) => b.id)));
      batch = [];
    };
    for await (const entry of entries) {
      seen++;
      if (now - entry.modifiedAt.getTime() < minAgeMs) continue;
      batch.push({ id: entry.id, size: entry.size });
      if (batch.length >= size) await flush();
    }
    if (batch.length) await flush();
    return seen;
  };
  const examined = await inBatches(options.blobs.list(), options.now, options.graceMs, async (batch, inUse) => {
    for (const b of batch) {
      if (inUse.has(b.id)) continue;
      await options.blobs.trash(b.id);
      trashed++;
    }
  });
  // Trash times are the clock's, taken after `now` was: measured from `now`, what this run trashed would
  // never be settled by it, even with settleMs 0.
  await inBatches(options.blobs.listTrash(), Math.max(options.now, Date.now()), settle, async (batch, inUse) => {
    for (const b of batch) {
      if (inUse.has(b.id)) {
        await options.blobs.restore(b.id);
        restored++;
      } else {
        await options.blobs.purge(b.id);
        removed++;
        bytes += b.size;
      }
    }
  });
  return { examined, trashed, restored, removed, bytes };
}
