import type { BlobStore } from './ports/blob-store.js';

/** Which of these blob ids something still uses. */
export type BlobReferences = (blobIds: readonly string[]) => Promise<Set<string>>;

export interface UnreferencedBlobsOptions {
  /** A blob store that one feature owns alone (drive, mail): everything in it is that feature's. */
  readonly blobs: BlobStore;
  /** Every holder of that feature's blobs; a blob goes only when none of them uses it. */
  readonly references: readonly BlobReferences[];
  /** Blobs younger than this stay: their bytes are written before the metadata that refers to them commits. */
  readonly graceMs: number;
  readonly now: number;
  /** Ids asked about per round (default 500). */
  readonly batch?: number;
}

export interface UnreferencedBlobsResult {
  readonly examined: number;
  readonly removed: number;
  readonly bytes: number;
}

/**
 * The garbage-collection loop features share: list the store, ask every holder about old blobs in
 * batches, delete what nobody uses. Safe while serving (the grace period covers writes in flight).
 */
export async function collectUnreferencedBlobs(options: UnreferencedBlobsOptions): Promise<UnreferencedBlobsResult> {
  const size = options.batch ?? 500;
  let examined = 0;
  let removed = 0;
  let bytes = 0;
  let batch: { id: string; size: number }[] = [];
  const flush = async () => {
    const ids = batch.map((b) => b.id);
    const used = new Set<string>();
    for (const refs of options.references) for (const id of await refs(ids)) used.add(id);
    for (const b of batch) {
      if (used.has(b.id)) continue;
      await options.blobs.delete(b.id);
      removed++;
      bytes += b.size;
    }
    batch = [];
  };
  for await (const entry of options.blobs.list()) {
    examined++;
    if (options.now - entry.modifiedAt.getTime() < options.graceMs) continue;
    batch.push({ id: entry.id, size: entry.size });
    if (batch.length >= size) await flush();
  }
  if (batch.length) await flush();
  return { examined, removed, bytes };
}
