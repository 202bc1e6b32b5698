import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isPalabreError, NotFoundError, PalabreError, type PalabreConfig } from '@palabre/core';
import {
  BLOB_FEATURES,
  createDataSource,
  createFsBlobStore,
  sqliteFileIn,
  type BlobFeature,
  type BlobHold,
  type Database,
  type DatabaseView,
  type FsBlobStore,
} from '@palabre/core/storage';
import { formatSize } from '../args.js';
import { blobFolderIn } from '../context.js';
import {
  BLOB_LIST,
  checkBackupBlobs,
  DATABASE_FILE,
  MANIFEST,
  LineWriter,
  SNAPSHOTS,
  cleanIncomplete,
  destBlobs,
  exists,
  fsyncPath,
  inParallel,
  readBlobList,
  sha256OfFile,
  snapshotDir,
  snapshotIdFor,
  writeFileDurably,
  type Manifest,
} from './layout.js';
import { lockDest } from './lock.js';
import { choosePgTool, findPgTools, pgConnection, runPgTool, type PgToolSearch } from './pg-tools.js';
import { pruneSnapshots, type PruneResult } from './prune.js';

export interface BackupOptions {
  readonly config: PalabreConfig;
  readonly dest: string;
  /** Keep only the newest N complete snapshots (and the blobs they use). */
  readonly keep?: number;
  readonly pgTools?: PgToolSearch;
  /** Progress in plain words. */
  readonly progress?: (line: string) => void;
  /** Runs once the database snapshot is taken, before any blob is copied (tests interleave work here). */
  readonly afterSnapshot?: () => Promise<void>;
}

export interface BackupResult {
  readonly manifest: Manifest;
  readonly removedIncomplete: readonly string[];
  readonly pruned: PruneResult | null;
}

/** Blobs copied at once: enough to keep a disk (or a network file system) busy. */
const PARALLEL_COPIES = 8;

/**
 * An online backup: a point-in-time snapshot of the database and every blob that snapshot refers to,
 * while the server keeps serving.
 *
 * Why the blobs are all there. A blob is written before the row that refers to it commits, so every
 * blob a snapshot refers to existed when the snapshot was taken. What can remove one after that is a
 * delete: the garbage collectors (of another process, or of another node sharing the folder) delete
 * blobs no row refers to any more, and the outbound queue deletes a message's blob once it is
 * delivered; a file removed right after the snapshot leaves its blob to the next collection, which
 * could run before this backup copies it. So the backup first takes a hold on each blob folder
 * (FsBlobStore.hold): from then on, any delete in any process moves the blob aside instead of
 * destroying it, and the hold reads it from there. hold() resolves only once every process's cached
 * view of the holds has expired, so a delete that comes after the snapshot always sees it. Only then is
 * the snapshot taken, and the blobs it lists are copied through the hold. Copying the blobs first and
 * the snapshot last would not do: a blob written between the two would be missing.
 */
export async function createBackup(options: BackupOptions): Promise<BackupResult> {
  const { config, dest } = options;
  checkBackupBlobs(config, 'backup');
  const say = options.progress ?? (() => undefined);
  const started = new Date();
  await mkdir(dest, { recursive: true });
  const unlock = await lockDest(dest);
  let db: Database | null = null;
  const holds: Partial<Record<BlobFeature, BlobHold>> = {};
  let view: DatabaseView | null = null;
  try {
    await mkdir(join(dest, SNAPSHOTS), { recursive: true });
    const removedIncomplete = await cleanIncomplete(dest);
    if (removedIncomplete.length) say(`removed ${removedIncomplete.length} incomplete snapshot(s) left by a backup that did not finish: ${removedIncomplete.join(', ')}`);

    const dialect = config.databaseUrl ? 'postgres' : 'sqlite';
    if (dialect === 'sqlite' && !(await exists(sqliteFileIn(config.dataDir)))) {
      throw new NotFoundError(`no database at ${sqliteFileIn(config.dataDir)} (is --data the server's data folder?)`);
    }
    db = await createDataSource({ ...(config.databaseUrl ? { postgres: { url: config.databaseUrl, poolSize: 2 } } : { sqlite: { file: sqliteFileIn(config.dataDir) } }), migrate: false });
    const server = await db.serverVersion();
    // Found before anything is held or written: a pg_dump too old for the server is said at once.
    const pgDump = dialect === 'postgres' ? choosePgTool('pg_dump', await findPgTools('pg_dump', options.pgTools), server.major, `PostgreSQL ${server.text}`) : null;

    const live = Object.fromEntries(BLOB_FEATURES.map((f) => [f, createFsBlobStore(blobFolderIn(config.dataDir, f), { cacheBytes: 0 })])) as Record<BlobFeature, FsBlobStore>;
    for (const feature of BLOB_FEATURES) holds[feature] = await live[feature].hold('backup');

    const id = await freeSnapshotId(dest, started);
    const dir = snapshotDir(dest, id);
    await mkdir(dir);
    const dbFile = join(dir, DATABASE_FILE[dialect]);
    say(`snapshot ${id}: copying the database`);
    if (dialect === 'sqlite') {
      view = await db.snapshotInto(dbFile);
    } else {
      const exported = await db.exportSnapshot();
      view = exported;
      const { dbname, env } = pgConnection(config.databaseUrl!);
      await runPgTool(pgDump!, ['--format=custom', `--snapshot=${exported.name}`, '--no-password', `--file=${dbFile}`, `--dbname=${dbname}`], env);
    }
    await options.afterSnapshot?.();

    // The snapshot's blob ids go to a file first (blob-list lines, size not known yet), so that
    // PostgreSQL's snapshot transaction ends before the long copy, and a mail server's millions of ids
    // never sit in memory.
    const refsFile = join(dir, 'referenced.tmp');
    const refs = await LineWriter.create(refsFile);
    try {
      for (const feature of BLOB_FEATURES) for await (const blobId of view.referencedBlobs(feature)) await refs.write(`${feature} ${blobId} 0`);
    } catch (error) {
      await refs.abandon();
      throw error;
    }
    await refs.finish();
    await view.close();
    view = null;
    await db.close();
    db = null;
    await fsyncPath(dbFile);
    const dump = await sha256OfFile(dbFile);
    say(`snapshot ${id}: database ${formatSize(dump.size)}; copying the blobs it refers to`);

    const target = destBlobs(dest);
    const list = await LineWriter.create(join(dir, BLOB_LIST));
    const byFeature = Object.fromEntries(BLOB_FEATURES.map((f) => [f, { count: 0, bytes: 0 }])) as Manifest['blobs']['byFeature'];
    const copied = { count: 0, bytes: 0 };
    const unavailable: { feature: BlobFeature; id: string; reason: 'missing' | 'damaged' }[] = [];
    const copyOne = async (feature: BlobFeature, blobId: string): Promise<number | 'missing' | 'damaged'> => {
      const there = await target.stat(blobId);
      const source = await live[feature].stat(blobId);
      // Already in DEST from an earlier backup, at the size the server has (or the server let it go since).
      if (there && (!source || source.size === there.size)) return there.size;
      let stream;
      try {
        stream = await holds[feature]!.get(blobId);
      } catch (error) {
        if (isPalabreError(error) && error.kind === 'not-found') return 'missing';
        throw error;
      }
      try {
        const { size } = await target.put(stream, { expectedId: blobId });
        copied.count++;
        copied.bytes += size;
        return size;
      } catch (error) {
        // The server's copy does not hash to its name: damaged on the server's disk. Not copied.
        if (isPalabreError(error) && error.kind === 'invalid') return 'damaged';
        throw error;
      } finally {
        stream.destroy();
      }
    };
    try {
      await inParallel(readBlobList(refsFile), PARALLEL_COPIES, (ref) => copyOne(ref.feature, ref.id), async ({ feature, id: blobId }, r) => {
        if (typeof r === 'number') {
          byFeature[feature].count++;
          byFeature[feature].bytes += r;
          await list.write(`${feature} ${blobId} ${r}`);
        } else {
          unavailable.push({ feature, id: blobId, reason: r });
        }
      });
    } catch (error) {
      await list.abandon();
      throw error;
    }
    const listHash = await list.finish();
    await rm(refsFile, { force: true });

    const count = byFeature.mail.count + byFeature.drive.count;
    const manifest: Manifest = {
      format: 1,
      id,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      database: {
        dialect,
        file: DATABASE_FILE[dialect],
        size: dump.size,
        sha256: dump.sha256,
        ...(pgDump ? { server: server.text, pgDump: pgDump.version } : {}),
      },
      blobs: { file: BLOB_LIST, sha256: listHash, count, bytes: byFeature.mail.bytes + byFeature.drive.bytes, byFeature },
      copied,
      unavailable,
    };
    // Last, and atomically: from this rename on, the snapshot exists.
    await writeFileDurably(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await fsyncPath(join(dest, SNAPSHOTS));
    const pruned = options.keep === undefined ? null : await pruneSnapshots(dest, options.keep);
    return { manifest, removedIncomplete, pruned };
  } finally {
    await view?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    for (const hold of Object.values(holds)) await hold.release().catch(() => undefined);
    await unlock();
  }
}

/** The snapshot's name: its start time, with a suffix in the rare case two start in the same second. */
async function freeSnapshotId(dest: string, started: Date): Promise<string> {
  const base = snapshotIdFor(started);
  for (let n = 0; ; n++) {
    const id = n === 0 ? base : `${base}-${n}`;
    if (!(await exists(snapshotDir(dest, id)))) return id;
    if (n > 100) throw new PalabreError('conflict', `too many snapshots named ${base}`);
  }
}
