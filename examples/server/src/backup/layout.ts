import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { InvalidInputError, type PalabreConfig } from '@palabre/core';
import { BLOB_FEATURES, createFsBlobStore, type BlobFeature, type FsBlobStore } from '@palabre/core/storage';

/**
 * A backup folder (DEST):
 *
 *   blobs/ab/cd/<sha256>          every blob of every snapshot, once (content-addressed: a second backup
 *                                 copies only the blobs the first did not have)
 *   snapshots/<id>/database.sqlite | database.pgdump
 *   snapshots/<id>/blobs.txt      "<feature> <sha256> <size>" per blob the database refers to
 *   snapshots/<id>/manifest.json  written last and atomically: a snapshot without it is incomplete
 *   lock                          the backup writing here (one at a time)
 *
 * Nothing an earlier snapshot uses is ever rewritten: a new one adds files to its own folder and blobs
 * that were not there (each written to a temp file, fsync'd, renamed into place), and becomes a
 * snapshot only when its manifest is renamed into place. A backup killed at any moment leaves every
 * earlier snapshot as it was, plus an incomplete folder and some unreferenced blobs that the next
 * backup removes or reuses.
 */
export const SNAPSHOTS = 'snapshots';
export const MANIFEST = 'manifest.json';
export const BLOB_LIST = 'blobs.txt';
export const DATABASE_FILE = { sqlite: 'database.sqlite', postgres: 'database.pgdump' } as const;

const SNAPSHOT_ID = /^\d{8}T\d{6}Z(-\d{1,4})?$/;
const LINE = /^([a-z]+) ([0-9a-f]{64}) (\d{1,15})$/;

export interface Manifest {
  readonly format: 1;
  readonly id: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly database: {
    readonly dialect: 'sqlite' | 'postgres';
    readonly file: string;
    readonly size: number;
    readonly sha256: string;
    /** PostgreSQL: the server's version and the pg_dump that wrote the dump (pg_restore must be as recent). */
    readonly server?: string;
    readonly pgDump?: string;
  };
  readonly blobs: {
    readonly file: string;
    readonly sha256: string;
    readonly count: number;
    readonly bytes: number;
    readonly byFeature: Record<BlobFeature, { count: number; bytes: number }>;
  };
  /** Blobs this backup copied (the others were already in DEST from an earlier one). */
  readonly copied: { readonly count: number; readonly bytes: number };
  /** Blobs the database refers to that the live store did not have, or had damaged: not in this backup. */
  readonly unavailable: readonly { readonly feature: BlobFeature; readonly id: string; readonly reason: 'missing' | 'damaged' }[];
}

export interface BlobLine {
  readonly feature: BlobFeature;
  readonly id: string;
  readonly size: number;
}

export function isSnapshotId(id: string): boolean {
  return SNAPSHOT_ID.test(id);
}

/** `20250301T020000Z`: sorts as time does, and names the instant in UTC. */
export function snapshotIdFor(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export const snapshotDir = (dest: string, id: string) => join(dest, SNAPSHOTS, id);

/** The content-addressed blob folder of DEST, in the blob store's own layout (and through its code). */
/**
 * Backups copy the blob folders of the data folder (holding them against deletes while they copy).
 * A site whose blobs are in S3 keeps them there: refused at once, saying what protects them instead.
 */
export function checkBackupBlobs(config: PalabreConfig, command: 'backup' | 'restore'): void {
  if (config.blobs.kind === 'fs') return;
  throw new InvalidInputError(
    `palabre ${command} copies blob folders, and this site's blobs are in the S3 bucket ${config.blobs.s3?.bucket ?? ''}: protect them with the object store's versioning or replication, and the database with pg_dump`,
  );
}

export function destBlobs(dest: string): FsBlobStore {
  return createFsBlobStore(join(dest, 'blobs'), { verifyReads: false, cacheBytes: 0 });
}

export interface SnapshotEntry {
  readonly id: string;
  /** Null: no manifest (a backup that did not finish), or one that cannot be read. */
  readonly manifest: Manifest | null;
  readonly problem?: string;
}

/** Every snapshot folder of DEST, oldest first. */
export async function listSnapshots(dest: string): Promise<SnapshotEntry[]> {
  const names = (await readdir(join(dest, SNAPSHOTS)).catch(() => [] as string[])).filter(isSnapshotId).sort();
  const entries: SnapshotEntry[] = [];
  for (const id of names) {
    const text = await readFile(join(snapshotDir(dest, id), MANIFEST), 'utf8').catch(() => null);
    if (text === null) {
      entries.push({ id, manifest: null });
      continue;
    }
    try {
      entries.push({ id, manifest: parseManifest(text, id) });
    } catch (error) {
      entries.push({ id, manifest: null, problem: (error as Error).message });
    }
  }
  return entries;
}

/** A manifest as read from disk: checked field by field (a backup folder may have been tampered with). */
export function parseManifest(text: string, id: string): Manifest {
  const m = JSON.parse(text) as Manifest;
  const hex = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (m?.format !== 1) throw new Error('manifest of an unknown format');
  if (m.id !== id) throw new Error(`manifest names snapshot ${JSON.stringify(m.id)}`);
  const db = m.database;
  if (!db || (db.dialect !== 'sqlite' && db.dialect !== 'postgres') || db.file !== DATABASE_FILE[db.dialect] || !hex(db.sha256) || !count(db.size)) {
    throw new Error('manifest: bad database entry');
  }
  const b = m.blobs;
  if (!b || b.file !== BLOB_LIST || !hex(b.sha256) || !count(b.count) || !count(b.bytes)) throw new Error('manifest: bad blob entry');
  if (!Array.isArray(m.unavailable)) throw new Error('manifest: bad unavailable list');
  return m;
}

export function parseBlobLine(line: string): BlobLine | null {
  const match = LINE.exec(line);
  if (!match || !(BLOB_FEATURES as readonly string[]).includes(match[1]!)) return null;
  return { feature: match[1] as BlobFeature, id: match[2]!, size: Number(match[3]) };
}

/** The lines of a snapshot's blob list, checked; a line that is not one is an error naming its number. */
export async function* readBlobList(file: string): AsyncIterable<BlobLine> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    const entry = parseBlobLine(line);
    if (!entry) throw new Error(`${file} line ${n} is not "<feature> <sha256> <size>"`);
    yield entry;
  }
}

export async function sha256OfFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A small file replaced all at once: temp file, fsync, rename, fsync of the folder. */
export async function writeFileDurably(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncPath(dirname(path));
}

/** Lines written in large pieces, hashed on the way, fsync'd at the end. */
export class LineWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private readonly hash = createHash('sha256');
  private constructor(private readonly handle: Awaited<ReturnType<typeof open>>) {}

  static async create(path: string): Promise<LineWriter> {
    return new LineWriter(await open(path, 'wx', 0o600));
  }

  async write(line: string): Promise<void> {
    this.pending.push(line, '\n');
    this.pendingBytes += line.length + 1;
    if (this.pendingBytes >= 256 * 1024) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.pending.length) return;
    const data = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    this.hash.update(data);
    await this.handle.write(data);
  }

  /** Flush, fsync, close: the file's SHA-256. */
  async finish(): Promise<string> {
    try {
      await this.flush();
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    return this.hash.digest('hex');
  }

  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** Remove what backups that did not finish left in DEST (call with the lock held). */
export async function cleanIncomplete(dest: string): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await listSnapshots(dest)) {
    if (entry.manifest || entry.problem) continue; // a damaged manifest is verify's to report, not ours to delete
    await rm(snapshotDir(dest, entry.id), { recursive: true, force: true });
    removed.push(entry.id);
  }
  await destBlobs(dest).sweepTemp(0, Date.now() + 1000);
  return removed;
}

export async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

/**
 * `work` on every item, `width` at a time, and `done` with each result in the items' order (the blob
 * lists stay sorted). Items are read in batches, so a list of millions never sits in memory.
 */
export async function inParallel<T, R>(
  items: AsyncIterable<T>,
  width: number,
  work: (item: T) => Promise<R>,
  done: (item: T, result: R) => Promise<void>,
): Promise<void> {
  let batch: T[] = [];
  const flush = async () => {
    const results = new Array<R>(batch.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(width, batch.length) }, async () => {
        while (next < batch.length) {
          const i = next++;
          results[i] = await work(batch[i]!);
        }
      }),
    );
    for (let i = 0; i < batch.length; i++) await done(batch[i]!, results[i]!);
    batch = [];
  };
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= 256) await flush();
  }
  await flush();
}
