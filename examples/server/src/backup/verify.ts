import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { isPalabreError, NotFoundError } from '@palabre/core';
import { BLOB_LIST, destBlobs, listSnapshots, readBlobList, sha256OfFile, snapshotDir, type Manifest, type SnapshotEntry } from './layout.js';

export interface SnapshotReport {
  readonly id: string;
  readonly manifest: Manifest | null;
  /** Empty: every byte of the snapshot checked out. */
  readonly problems: readonly string[];
  readonly blobs: number;
}

export interface VerifyReport {
  readonly snapshots: readonly SnapshotReport[];
  /** Folders of backups that did not finish: not snapshots, ignored (the next backup removes them). */
  readonly incomplete: readonly string[];
}

/**
 * Re-read every byte of the chosen snapshots (all complete ones by default): the database dump and the
 * blob list against the manifest's SHA-256, and every blob listed against its name. A blob shared by
 * several snapshots is hashed once.
 */
export async function verifyBackup(dest: string, only?: string, progress: (line: string) => void = () => undefined): Promise<VerifyReport> {
  const all = await listSnapshots(dest);
  let chosen: SnapshotEntry[];
  if (only !== undefined) {
    const entry = all.find((s) => s.id === only);
    if (!entry) throw new NotFoundError(`no snapshot ${only} in ${dest}`);
    chosen = [entry];
  } else {
    chosen = all.filter((s) => s.manifest || s.problem);
    if (chosen.length === 0) throw new NotFoundError(`no complete snapshot in ${dest}`);
  }
  const blobs = destBlobs(dest);
  const checked = new Map<string, string | null>(); // blob id → its problem, or null when sound
  const reports: SnapshotReport[] = [];
  for (const entry of chosen) {
    const problems: string[] = [];
    let count = 0;
    if (!entry.manifest) {
      problems.push(entry.problem ? `manifest unreadable: ${entry.problem}` : 'incomplete: no manifest (the backup did not finish)');
      reports.push({ id: entry.id, manifest: null, problems, blobs: 0 });
      continue;
    }
    const m = entry.manifest;
    const dir = snapshotDir(dest, entry.id);
    progress(`snapshot ${entry.id}: checking the database and ${m.blobs.count} blobs`);
    const dump = await sha256OfFile(join(dir, m.database.file)).catch(() => null);
    if (!dump) problems.push(`database ${m.database.file} is missing`);
    else if (dump.size !== m.database.size || dump.sha256 !== m.database.sha256) problems.push(`database ${m.database.file} is damaged (its SHA-256 differs from the manifest's)`);
    const list = await sha256OfFile(join(dir, BLOB_LIST)).catch(() => null);
    if (!list || list.sha256 !== m.blobs.sha256) {
      problems.push(list ? `${BLOB_LIST} is damaged (its SHA-256 differs from the manifest's)` : `${BLOB_LIST} is missing`);
    } else {
      for await (const line of readBlobList(join(dir, BLOB_LIST))) {
        count++;
        let problem = checked.get(line.id);
        if (problem === undefined) {
          problem = await checkBlob(blobs, line.id, line.size);
          checked.set(line.id, problem);
        }
        if (problem) problems.push(`${line.feature} blob ${line.id} ${problem}`);
      }
      if (count !== m.blobs.count) problems.push(`${BLOB_LIST} lists ${count} blobs, the manifest ${m.blobs.count}`);
    }
    reports.push({ id: entry.id, manifest: m, problems, blobs: count });
  }
  return { snapshots: reports, incomplete: all.filter((s) => !s.manifest && !s.problem).map((s) => s.id) };
}

async function checkBlob(blobs: ReturnType<typeof destBlobs>, id: string, size: number): Promise<string | null> {
  let stream;
  try {
    stream = await blobs.get(id);
  } catch (error) {
    if (isPalabreError(error) && error.kind === 'not-found') return 'is missing';
    throw error;
  }
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  if (hash.digest('hex') !== id) return 'is damaged (its bytes do not hash to its name)';
  if (bytes !== size) return `has ${bytes} bytes, the list says ${size}`;
  return null;
}
