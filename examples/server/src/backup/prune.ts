import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOB_LIST, MANIFEST, destBlobs, fsyncPath, listSnapshots, readBlobList, SNAPSHOTS, snapshotDir } from './layout.js';

export interface PruneResult {
  readonly removedSnapshots: readonly string[];
  readonly removedBlobs: number;
  readonly freedBytes: number;
}

/**
 * Keep the newest `keep` complete snapshots; remove the older ones, then every blob of DEST that no
 * kept snapshot lists (those of removed snapshots, and any a killed backup copied). Called with DEST's
 * lock held. A snapshot goes manifest first, so one interrupted half-way is merely incomplete; a blob
 * goes only once no remaining manifest names it, so a kept snapshot never loses one.
 * The kept snapshots' blob ids are held in memory while the blob folder is swept.
 */
export async function pruneSnapshots(dest: string, keep: number): Promise<PruneResult> {
  const complete = (await listSnapshots(dest)).filter((s) => s.manifest);
  if (complete.length === 0) return { removedSnapshots: [], removedBlobs: 0, freedBytes: 0 };
  const old = complete.slice(0, Math.max(0, complete.length - Math.max(1, keep)));
  for (const s of old) {
    await rm(join(snapshotDir(dest, s.id), MANIFEST), { force: true });
    await fsyncPath(snapshotDir(dest, s.id));
    await rm(snapshotDir(dest, s.id), { recursive: true, force: true });
  }
  await fsyncPath(join(dest, SNAPSHOTS));
  // Every snapshot folder still there counts, complete or not (one with a damaged manifest is kept, and
  // so are its blobs as far as its list can be read).
  const used = new Set<string>();
  for (const s of await listSnapshots(dest)) {
    try {
      for await (const line of readBlobList(join(snapshotDir(dest, s.id), BLOB_LIST))) used.add(line.id);
    } catch {
      // An incomplete snapshot may have no list yet: it keeps nothing.
    }
  }
  const blobs = destBlobs(dest);
  let removedBlobs = 0;
  let freedBytes = 0;
  for await (const entry of blobs.list()) {
    if (used.has(entry.id)) continue;
    await blobs.delete(entry.id);
    removedBlobs++;
    freedBytes += entry.size;
  }
  return { removedSnapshots: old.map((s) => s.id), removedBlobs, freedBytes };
}
