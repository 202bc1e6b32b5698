import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import BetterSqlite from 'better-sqlite3';
import { toStorageError } from './driver-errors.js';

/** The features that keep bytes in a blob store of their own (and the name of that store). */
export const BLOB_FEATURES = ['mail', 'drive'] as const;
export type BlobFeature = (typeof BLOB_FEATURES)[number];

/**
 * Every table whose `blob_id` column names a blob, by the feature whose store holds the bytes: what a
 * backup must copy along with the database. A test checks that every `blob_id` column of the schema
 * is listed here, so a feature that adds one cannot be left out of backups.
 */
export const BLOB_COLUMNS: readonly { readonly feature: BlobFeature; readonly table: string }[] = [
  { feature: 'drive', table: 'drive_nodes' },
  { feature: 'mail', table: 'mail_messages' },
  { feature: 'mail', table: 'outbound_messages' },
];

/** A point-in-time view of the database, for backups: what it refers to is read in that view. */
export interface DatabaseView {
  /** Distinct blob ids that the view's rows hold in the feature's blob store, in ascending order. */
  referencedBlobs(feature: BlobFeature): AsyncIterable<string>;
  close(): Promise<void>;
}

/** A view that PostgreSQL exported for `pg_dump --snapshot`: the dump and referencedBlobs() see the same rows. */
export interface ExportedView extends DatabaseView {
  /** The snapshot's name, valid until close(). */
  readonly name: string;
}

/** Rows of one query (with `?` placeholders) in the view. */
type ViewQuery = (sql: string, params: string[]) => Promise<{ blob_id: string }[]>;

/** Ids read per query: a mail server's millions of messages go through in pages, never all in memory. */
const PAGE = 5000;

/** referencedBlobs() for any view: keyset pages of the union of the feature's blob columns. */
export async function* blobIdsInView(query: ViewQuery, feature: BlobFeature, page = PAGE): AsyncIterable<string> {
  const tables = BLOB_COLUMNS.filter((c) => c.feature === feature).map((c) => c.table);
  // `> ?` also leaves out NULL (a folder's drive node has no blob); UNION removes ids held twice.
  const union = tables.map((table) => `SELECT blob_id FROM ${table} WHERE blob_id > ?`).join(' UNION ');
  const sql = `SELECT blob_id FROM (${union}) ids ORDER BY blob_id LIMIT ${page}`;
  let after = '';
  for (;;) {
    const rows = await query(sql, tables.map(() => after));
    for (const row of rows) yield row.blob_id;
    if (rows.length < page) return;
    after = rows[rows.length - 1]!.blob_id;
  }
}

/**
 * A consistent copy of a live SQLite database in `target` (which must not exist): VACUUM INTO reads in
 * one transaction, so the copy is one point in time, while the server's writers carry on (WAL). It
 * runs on a connection of its own in a worker thread: a large database takes minutes to copy, and the
 * caller's event loop keeps running meanwhile (a backup renews its blob holds on a timer).
 */
export async function vacuumInto(source: string, target: string): Promise<void> {
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const Sqlite = require(workerData.module);
     const db = new Sqlite(workerData.source, { fileMustExist: true, timeout: 15000 });
     try { db.prepare('VACUUM INTO ?').run(workerData.target); } finally { db.close(); }`,
    { eval: true, workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), source, target } },
  );
  await new Promise<void>((resolve, reject) => {
    let failed: unknown = null;
    worker.once('error', (error) => (failed = error));
    worker.once('exit', (code) => {
      if (failed || code !== 0) reject(toStorageError(failed ?? new Error(`snapshot worker exited with ${code}`), 'copying the database'));
      else resolve();
    });
  });
}

/** A view over a SQLite snapshot file (opened read-only: the file stays byte for byte as written). */
export function sqliteFileView(file: string): DatabaseView {
  const db = new BetterSqlite(file, { readonly: true, fileMustExist: true });
  return {
    referencedBlobs: (feature) => blobIdsInView(async (sql, params) => db.prepare(sql).all(...params) as { blob_id: string }[], feature),
    close: async () => {
      db.close();
    },
  };
}
