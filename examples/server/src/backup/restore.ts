import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InvalidInputError, isPalabreError, NotFoundError, PalabreError, type PalabreConfig } from '@palabre/core';
import { BLOB_FEATURES, createDataSource, createFsBlobStore, sqliteFileIn, type BlobFeature, type FsBlobStore } from '@palabre/core/storage';
import { blobFolderIn } from '../context.js';
import { BLOB_LIST, checkBackupBlobs, destBlobs, fsyncPath, inParallel, listSnapshots, readBlobList, sha256OfFile, snapshotDir, writeFileDurably, type Manifest } from './layout.js';
import { choosePgTool, findPgTools, pgConnection, runPgTool, type PgToolSearch } from './pg-tools.js';

export interface RestoreOptions {
  /** Where to restore: the data folder (`dataDir`) and, with `databaseUrl`, the PostgreSQL database. */
  readonly config: PalabreConfig;
  readonly src: string;
  /** Default: the newest complete snapshot. */
  readonly snapshot?: string;
  /** PostgreSQL: restore over a database that already holds tables (pg_restore --clean). */
  readonly force?: boolean;
  readonly pgTools?: PgToolSearch;
  readonly progress?: (line: string) => void;
}

export interface RestoreResult {
  readonly manifest: Manifest;
  readonly blobs: number;
  readonly bytes: number;
  /** Blobs the backup lacked or had damaged: the restore went on without them. */
  readonly problems: readonly string[];
}

/** In a data folder being restored into: lets an interrupted restore of the same snapshot run again. */
const MARKER = '.restore-in-progress';
/** What a data folder may hold before a restore: a config file put there beforehand. */
const ALLOWED_BEFORE = new Set(['palabre.json', MARKER]);
const PARALLEL_COPIES = 8;

/**
 * A snapshot back into an empty data folder (SQLite and blobs) or an empty PostgreSQL database (and the
 * blobs into the data folder). Every byte is checked on the way in: the database against the
 * manifest's SHA-256 before it is used, each blob against its name as it is written. The database
 * comes last, so that a folder whose restore was interrupted holds no database a server would start on.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const { config, src } = options;
  checkBackupBlobs(config, 'restore');
  const say = options.progress ?? (() => undefined);
  const snapshots = (await listSnapshots(src)).filter((s) => s.manifest);
  const entry = options.snapshot === undefined ? snapshots.at(-1) : snapshots.find((s) => s.id === options.snapshot);
  if (!entry) throw new NotFoundError(options.snapshot === undefined ? `no complete snapshot in ${src}` : `no complete snapshot ${options.snapshot} in ${src}`);
  const m = entry.manifest!;
  const dir = snapshotDir(src, entry.id);
  const dialect = config.databaseUrl ? 'postgres' : 'sqlite';
  if (m.database.dialect !== dialect) {
    throw new InvalidInputError(
      m.database.dialect === 'sqlite'
        ? `snapshot ${m.id} is of a SQLite database: restore it without DATABASE_URL, into a data folder`
        : `snapshot ${m.id} is of a PostgreSQL database: set DATABASE_URL to the (empty) database to restore it into`,
    );
  }

  await checkDataFolder(config.dataDir, m.id);
  let pgRestore = null;
  if (dialect === 'postgres') {
    const db = await createDataSource({ postgres: { url: config.databaseUrl!, poolSize: 1 }, migrate: false });
    try {
      if (!options.force && !(await db.isEmpty())) {
        throw new ConflictError('the database DATABASE_URL names is not empty: restore into a new database (createdb), or give --force to replace what is in it');
      }
    } finally {
      await db.close();
    }
    const dumpMajor = Number((m.database.pgDump ?? '0').split('.')[0]);
    pgRestore = choosePgTool('pg_restore', await findPgTools('pg_restore', options.pgTools), dumpMajor, `a dump made by pg_dump ${m.database.pgDump}`);
  }

  await mkdir(config.dataDir, { recursive: true });
  await writeFileDurably(join(config.dataDir, MARKER), `${JSON.stringify({ src, snapshot: m.id, since: new Date().toISOString() })}\n`);

  // The database is checked before anything else is spent on this snapshot.
  const dbFile = join(dir, m.database.file);
  const dump = await sha256OfFile(dbFile).catch(() => null);
  if (!dump || dump.sha256 !== m.database.sha256 || dump.size !== m.database.size) {
    throw new PalabreError('internal', `the database of snapshot ${m.id} is ${dump ? 'damaged' : 'missing'}: restore another snapshot (palabre backup list ${src})`);
  }
  const listHash = await sha256OfFile(join(dir, BLOB_LIST)).catch(() => null);
  if (!listHash || listHash.sha256 !== m.blobs.sha256) throw new PalabreError('internal', `the blob list of snapshot ${m.id} is damaged or missing`);

  say(`restoring snapshot ${m.id}: ${m.blobs.count} blobs`);
  const from = destBlobs(src);
  const into = Object.fromEntries(BLOB_FEATURES.map((f) => [f, createFsBlobStore(blobFolderIn(config.dataDir, f), { cacheBytes: 0 })])) as Record<BlobFeature, FsBlobStore>;
  const problems: string[] = [];
  let blobs = 0;
  let bytes = 0;
  await inParallel(
    readBlobList(join(dir, BLOB_LIST)),
    PARALLEL_COPIES,
    async (line): Promise<number | string> => {
      const there = await into[line.feature].stat(line.id);
      if (there && there.size === line.size) return there.size; // restored before an interruption
      let stream;
      try {
        stream = await from.get(line.id);
      } catch (error) {
        if (isPalabreError(error) && error.kind === 'not-found') return 'is missing from the backup';
        throw error;
      }
      try {
        return (await into[line.feature].put(stream, { expectedId: line.id })).size;
      } catch (error) {
        if (isPalabreError(error) && error.kind === 'invalid') return 'is damaged in the backup';
        throw error;
      } finally {
        stream.destroy();
      }
    },
    async (line, result) => {
      if (typeof result === 'string') {
        problems.push(`${line.feature} blob ${line.id} ${result}`);
        return;
      }
      blobs++;
      bytes += result;
    },
  );

  say(`restoring snapshot ${m.id}: the database`);
  if (dialect === 'sqlite') {
    const target = sqliteFileIn(config.dataDir);
    const tmp = `${target}.restoring`;
    await copyChecked(dbFile, tmp, m.database.sha256);
    await rename(tmp, target);
    await fsyncPath(config.dataDir);
  } else {
    const { dbname, env } = pgConnection(config.databaseUrl!);
    const args = ['--no-owner', '--no-acl', '--exit-on-error', '--single-transaction', '--no-password', `--dbname=${dbname}`];
    if (options.force) args.push('--clean', '--if-exists');
    await runPgTool(pgRestore!, [...args, dbFile], env);
  }
  await rm(join(config.dataDir, MARKER), { force: true });
  return { manifest: m, blobs, bytes, problems };
}

/**
 * The data folder must be new: absent, empty, or holding only a config file, or the folder of an
 * interrupted restore of this same snapshot (which this one then completes).
 */
async function checkDataFolder(dataDir: string, snapshot: string): Promise<void> {
  const entries = await readdir(dataDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  if (entries.includes(MARKER)) {
    const marker = await readFile(join(dataDir, MARKER), 'utf8')
      .then((t) => JSON.parse(t) as { snapshot?: string })
      .catch(() => ({}) as { snapshot?: string });
    if (marker.snapshot === snapshot) return;
    throw new ConflictError(`${dataDir} holds an interrupted restore of another snapshot (${marker.snapshot ?? 'unknown'}): remove the folder, or restore into a new one`);
  }
  const other = entries.filter((e) => !ALLOWED_BEFORE.has(e));
  if (other.length) throw new ConflictError(`the data folder ${dataDir} is not empty (${other.slice(0, 3).join(', ')}${other.length > 3 ? ', …' : ''}): restore into a new folder`);
}

/** Copy a file, fsync'd, failing if its bytes do not hash to `sha256` on the way. */
async function copyChecked(from: string, to: string, sha256: string): Promise<void> {
  const hash = createHash('sha256');
  const handle = await open(to, 'w', 0o600);
  try {
    for await (const chunk of createReadStream(from, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      await handle.write(chunk as Buffer);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (hash.digest('hex') !== sha256) {
    await rm(to, { force: true });
    throw new PalabreError('internal', `${from} changed while it was read: its SHA-256 differs from the manifest's`);
  }
}
