import * as fs from 'node:fs';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import { DataSource, type EntityManager, type EntitySchema, type MigrationInterface } from 'typeorm';
import { PalabreError, UnavailableError } from '../errors.js';
import type { Logger } from '../ports/logger.js';
import { silentLogger } from '../ports/logger.js';
import { toStorageError } from './driver-errors.js';
import { blobIdsInView, sqliteFileView, vacuumInto, type DatabaseView, type ExportedView } from './database-view.js';
import { Mutex } from './mutex.js';
import { ALL_ENTITIES, ALL_MIGRATIONS } from './registry.js';

export type Dialect = 'sqlite' | 'postgres';

export type DatabaseOptions =
  | { sqlite: { file: string }; logger?: Logger }
  | { postgres: { url: string; poolSize?: number }; logger?: Logger };

export interface TransactionOptions {
  /** Names the operation in errors and logs. */
  what?: string;
  /** Retries on a retryable error (serialization failure, busy database). Default 3. */
  retries?: number;
  /**
   * Default true: resolve only once the commit is on disk. False lets a caller that acknowledges many
   * transactions together (group commit) start the next one at once and call durable() itself.
   */
  durable?: boolean;
}

/** The part of better-sqlite3 that select() uses. */
interface SqliteStatement {
  readonly readonly: boolean;
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  raw(on: boolean): SqliteStatement;
  columns(): { name: string }[];
}

/** A prepared read and the function that turns one of its rows (an array) into an object. */
interface SelectStatement {
  readonly statement: SqliteStatement;
  readonly toRow: (values: unknown[]) => unknown;
}

/**
 * A function building the row objects of one statement: every row gets the same properties in the
 * same order in one object literal. better-sqlite3 builds its row objects through V8's API one
 * property at a time, looking up each column name and the object's shape anew for every row, which
 * cost more than the query itself on the one-message reads of IMAP FETCH.
 */
export function rowBuilder(names: readonly string[], compile = true): (values: unknown[]) => unknown {
  // Column names come from our own SQL; a name literal can still not break out of its string.
  // "__proto__" in a literal would set the prototype instead of a property: refused.
  if (names.includes('__proto__')) throw new PalabreError('internal', 'select() column named __proto__');
  const fields = new Map<string, number>(); // the last of duplicate names wins, as with better-sqlite3
  names.forEach((name, i) => fields.set(name, i));
  const columns = [...fields];
  if (compile) {
    try {
      const body = columns.map(([name, i]) => `${JSON.stringify(name)}: v[${i}]`).join(', ');
      return new Function('v', `return { ${body} };`) as (values: unknown[]) => unknown;
    } catch {
      // Node run with --disallow-code-generation-from-strings: the same rows, built a property at a time.
    }
  }
  return (v) => {
    const row: Record<string, unknown> = {};
    for (const [name, i] of columns) row[name] = v[i];
    return row;
  };
}

interface SqliteConnection {
  prepare(sql: string): SqliteStatement & { pluck(): { get(): unknown } };
}

/** Prepared statements kept by select(): the few dozen distinct reads a server makes, with room. */
const MAX_STATEMENTS = 200;

// A fixed key so that concurrent `palabre serve` / `palabre migrate` processes migrate one at a time.
const MIGRATION_LOCK_KEY = 0x70616c61; // "pala"
/** First key of the two-key advisory locks of runExclusive(); the second is the job name's hash. */
const JOB_LOCK_SPACE = 0x6a6f6273; // "jobs"
const JOB_LOCK_KEY = "hashtext(current_schema() || ':' || $2)";

/**
 * One database, embedded (SQLite) or shared (PostgreSQL), with typed errors and safe transactions.
 * Repositories never touch TypeORM's DataSource directly: they go through run() and transaction(), so
 * SQLite's single connection is never used by two interleaved transactions and driver errors are
 * always translated.
 */
export class Database {
  private readonly mutex = new Mutex();
  private readonly walSync: WalSync | null;
  private readonly walFile: WalFile | null = null;
  /** SQLite: this connection's writing commits so far, the numbers WalSync flushes up to. */
  private commits = 0;
  /** SQLite's total_changes(): rows this connection changed, to tell a writing commit from a reading one. */
  private readonly totalChanges: () => number;
  /** SQLite: the connection itself, for select()'s prepared statements. */
  private readonly sqlite: SqliteConnection | null = null;
  /** SQL text → prepared statement, least recently used first (select() only). */
  private readonly statements = new Map<string, SelectStatement>();
  /** runExclusive() names running in this process. */
  private readonly exclusive = new Set<string>();

  private constructor(
    readonly dataSource: DataSource,
    readonly dialect: Dialect,
    private readonly log: Logger,
    private readonly sqliteFile?: string,
  ) {
    if (dialect === 'sqlite') {
      const raw = (dataSource.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
      this.sqlite = raw;
      const statement = raw.prepare('SELECT total_changes()').pluck();
      this.totalChanges = () => Number(statement.get());
      // An in-memory database has no WAL to flush.
      const wal = sqliteFile && sqliteFile !== ':memory:' ? new WalFile(`${sqliteFile}-wal`) : null;
      this.walFile = wal;
      this.walSync = wal
        ? new WalSync(
            () => this.commits,
            () => wal.datasync(),
          )
        : null;
    } else {
      this.walSync = null;
      this.totalChanges = () => 0;
    }
  }

  static async open(options: DatabaseOptions): Promise<Database> {
    const log = options.logger ?? silentLogger;
    const common = {
      entities: ALL_ENTITIES as EntitySchema[],
      migrations: ALL_MIGRATIONS as (new () => MigrationInterface)[],
      migrationsTableName: 'palabre_migrations',
      migrationsTransactionMode: 'each' as const,
      synchronize: false,
      logging: false,
    };
    let dataSource: DataSource;
    let dialect: Dialect;
    if ('sqlite' in options) {
      const file = options.sqlite.file;
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      dialect = 'sqlite';
      dataSource = new DataSource({
        ...common,
        type: 'better-sqlite3',
        database: file,
        enableWAL: file !== ':memory:',
        timeout: 15_000,
        prepareDatabase: (db: { pragma(s: string): unknown }) => {
          // NORMAL: SQLite does not fsync the WAL inside COMMIT, which would stall the event loop for
          // the length of a disk flush; transaction() and run() flush it from libuv's pool instead
          // (WalSync) before they return, so a commit still survives power loss before 250/201.
          db.pragma('synchronous = NORMAL');
          db.pragma('busy_timeout = 15000');
          // Up to 64 MiB of pages in the process (SQLite's default is 2 MiB): a mailbox's rows stay at
          // hand between one client's commands instead of being read again from the file each time.
          // Memory is taken only as pages are used.
          db.pragma('cache_size = -65536');
        },
      });
    } else {
      dialect = 'postgres';
      dataSource = new DataSource({
        ...common,
        type: 'postgres',
        url: options.postgres.url,
        poolSize: options.postgres.poolSize ?? 10,
        extra: { types: pgTypes, connectionTimeoutMillis: 10_000 },
      });
    }
    try {
      await dataSource.initialize();
    } catch (error) {
      throw toStorageError(error, 'opening the database');
    }
    if (dialect === 'postgres') guardPoolClients(dataSource, log);
    return new Database(dataSource, dialect, log.child({ component: 'storage' }), 'sqlite' in options ? options.sqlite.file : undefined);
  }

  /** A statement or a few reads outside a transaction. */
  async run<T>(fn: (manager: EntityManager) => Promise<T>, what = 'storage operation'): Promise<T> {
    const exec = async (): Promise<T> => {
      try {
        return await fn(this.dataSource.manager);
      } catch (error) {
        throw toStorageError(error, what);
      }
    };
    if (this.dialect !== 'sqlite') return exec();
    let commit = 0;
    const result = await this.mutex.run(async () => {
      const before = this.totalChanges();
      try {
        return await exec();
      } finally {
        if (this.totalChanges() !== before) commit = ++this.commits;
      }
    });
    if (commit) await this.flushed(commit);
    return result;
  }

  /**
   * Rows of one read-only statement (`?` placeholders), outside any transaction. On SQLite it runs a
   * cached prepared statement at once when no transaction holds the connection, without TypeORM's
   * per-query bookkeeping: the hot reads of a session (a message row per FETCH) cost a few
   * microseconds instead of tens. A statement that could write is refused.
   */
  select<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = [], what = 'storage read'): Promise<T[]> {
    if (!this.sqlite) {
      return this.dataSource.query(this.sql(sql), params as unknown[]).catch((error: unknown) => {
        throw toStorageError(error, what);
      });
    }
    if (this.mutex.free) {
      try {
        return Promise.resolve(this.selectNow<T>(sql, params));
      } catch (error) {
        return Promise.reject(toStorageError(error, what));
      }
    }
    return this.mutex
      .run(async () => this.selectNow<T>(sql, params))
      .catch((error: unknown) => {
        throw toStorageError(error, what);
      });
  }

  private selectNow<T>(sql: string, params: readonly unknown[]): T[] {
    let entry = this.statements.get(sql);
    if (entry) {
      this.statements.delete(sql);
    } else {
      const statement = this.sqlite!.prepare(sql);
      if (!statement.readonly || !statement.reader) throw new PalabreError('internal', 'select() takes read-only statements');
      entry = { statement: statement.raw(true), toRow: rowBuilder(statement.columns().map((c) => c.name)) };
      if (this.statements.size >= MAX_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(sql, entry);
    // better-sqlite3 binds no booleans (as TypeORM's runner, which turns them into 0 and 1).
    const values = entry.statement.all(...params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p))) as unknown[][];
    const rows = new Array<T>(values.length);
    for (let i = 0; i < values.length; i++) rows[i] = entry.toRow(values[i]!) as T;
    return rows;
  }

  /** All of fn or nothing; retried on serialization failures and busy databases. */
  async transaction<T>(fn: (manager: EntityManager) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const what = options.what ?? 'storage transaction';
    const retries = options.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      let result: T;
      let commit = 0;
      try {
        if (this.dialect === 'sqlite') {
          [result, commit] = await this.mutex.run(() => this.sqliteTransaction(fn));
        } else {
          result = await this.dataSource.transaction(fn);
        }
      } catch (error) {
        const typed = toStorageError(error, what);
        if (typed.retryable && attempt < retries) {
          this.log.debug({ what, attempt, kind: typed.kind }, 'storage.retry');
          await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt + Math.random() * 10));
          continue;
        }
        throw typed;
      }
      // Outside the retry: the transaction is committed, only its flush to disk can still fail.
      if (commit && options.durable !== false) await this.flushed(commit);
      return result;
    }
  }

  /**
   * Resolves once every commit made so far is on disk. PostgreSQL's COMMIT already waits for its WAL;
   * SQLite's WAL is flushed off the event loop, and one flush serves every commit before it.
   */
  durable(): Promise<void> {
    return this.flushed(this.commits);
  }

  private async flushed(commit: number): Promise<void> {
    if (!this.walSync) return;
    try {
      await this.walSync.waitFor(commit);
    } catch (error) {
      throw new UnavailableError('could not flush the database to disk', { cause: error });
    }
  }

  // BEGIN IMMEDIATE takes the write lock up front, so a second process (the CLI beside the server)
  // waits on busy_timeout instead of failing when a deferred transaction tries to upgrade its lock.
  // Returns the commit's number when it changed something (0 for a reading transaction).
  private async sqliteTransaction<T>(fn: (manager: EntityManager) => Promise<T>): Promise<[T, number]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.query('BEGIN IMMEDIATE');
      const before = this.totalChanges();
      let result: T;
      try {
        result = await fn(runner.manager);
      } catch (error) {
        await runner.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      const wrote = this.totalChanges() !== before;
      await runner.query('COMMIT');
      return [result, wrote ? ++this.commits : 0];
    } finally {
      await runner.release();
    }
  }

  /** Apply pending migrations; returns their names. Safe to call from several nodes at once. */
  async migrate(): Promise<string[]> {
    const apply = async (): Promise<string[]> => (await this.dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
    try {
      if (this.dialect === 'sqlite') {
        const applied = await this.mutex.run(apply);
        this.commits++; // DDL does not count in total_changes()
        await this.durable();
        return applied;
      }
      const runner = this.dataSource.createQueryRunner();
      await runner.connect();
      try {
        await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        try {
          return await apply();
        } finally {
          await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
        }
      } finally {
        await runner.release();
      }
    } catch (error) {
      throw error instanceof PalabreError ? error : toStorageError(error, 'migrating the database');
    }
  }

  /**
   * Runs `fn` unless a run of the same name holds it, here or on another node sharing this database;
   * resolves `{ ran: false }` at once when it does (background jobs run once per cluster, not once per
   * node). PostgreSQL: a session advisory lock on a connection of its own, so a node that dies or loses
   * its connection frees it at once, with no lease to expire and no home-made election; the key holds
   * the schema, so deployments sharing one database in schemas of their own do not block each other. SQLite is one
   * node: the names running in this process.
   */
  async runExclusive<T>(name: string, fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.exclusive.has(name)) return { ran: false };
    this.exclusive.add(name);
    try {
      if (this.dialect === 'sqlite') return { ran: true, value: await fn() };
      const runner = this.dataSource.createQueryRunner();
      try {
        let locked: boolean;
        try {
          await runner.connect();
          const [row] = (await runner.query(`SELECT pg_try_advisory_lock($1, ${JOB_LOCK_KEY}) AS locked`, [JOB_LOCK_SPACE, name])) as { locked: boolean }[];
          locked = row?.locked === true;
        } catch (error) {
          throw toStorageError(error, `taking the lock of ${name}`);
        }
        if (!locked) return { ran: false };
        try {
          return { ran: true, value: await fn() };
        } finally {
          // A lost connection has freed the lock already.
          await runner.query(`SELECT pg_advisory_unlock($1, ${JOB_LOCK_KEY})`, [JOB_LOCK_SPACE, name]).catch(() => undefined);
        }
      } finally {
        await runner.release().catch(() => undefined);
      }
    } finally {
      this.exclusive.delete(name);
    }
  }

  async hasPendingMigrations(): Promise<boolean> {
    return this.run(() => this.dataSource.showMigrations(), 'checking migrations');
  }

  /**
   * SQLite: a consistent copy of the whole database written to `file` (which must not exist) while
   * writers carry on, and a view over that copy (see vacuumInto). For backups.
   */
  async snapshotInto(file: string): Promise<DatabaseView> {
    if (this.dialect !== 'sqlite' || !this.sqliteFile || this.sqliteFile === ':memory:') {
      throw new PalabreError('internal', 'snapshotInto() copies a SQLite database file; PostgreSQL exports a snapshot');
    }
    await vacuumInto(this.sqliteFile, file);
    return sqliteFileView(file);
  }

  /**
   * PostgreSQL: a read-only REPEATABLE READ transaction on a connection of its own, its snapshot
   * exported for `pg_dump --snapshot`; the view reads in that same snapshot until close(). For backups.
   */
  async exportSnapshot(): Promise<ExportedView> {
    if (this.dialect !== 'postgres') throw new PalabreError('internal', 'exportSnapshot() is for PostgreSQL; SQLite copies with snapshotInto()');
    const runner = this.dataSource.createQueryRunner();
    let name: string;
    try {
      await runner.connect();
      await runner.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      name = ((await runner.query('SELECT pg_export_snapshot() AS name')) as { name: string }[])[0]!.name;
    } catch (error) {
      await runner.release().catch(() => undefined);
      throw toStorageError(error, 'exporting a database snapshot');
    }
    return {
      name,
      referencedBlobs: (feature) =>
        blobIdsInView(async (sql, params) => {
          try {
            return await runner.query(this.sql(sql), params);
          } catch (error) {
            throw toStorageError(error, 'listing the blobs of a snapshot');
          }
        }, feature),
      close: async () => {
        await runner.query('COMMIT').catch(() => undefined);
        await runner.release();
      },
    };
  }

  /** Whether the database holds no table at all (where a restore may go). */
  async isEmpty(): Promise<boolean> {
    const sql =
      this.dialect === 'sqlite'
        ? "SELECT COUNT(*) AS n FROM sqlite_master WHERE type IN ('table', 'view')"
        : `SELECT COUNT(*) AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND s.nspname <> 'information_schema' AND s.nspname NOT LIKE 'pg$_%' ESCAPE '$'`;
    const rows = await this.select<{ n: number | string }>(sql, [], 'checking whether the database is empty');
    return Number(rows[0]!.n) === 0;
  }

  /** The database engine's version and major number: the PostgreSQL server's (pg_dump must be as recent), or SQLite's library. */
  async serverVersion(): Promise<{ text: string; major: number }> {
    if (this.dialect === 'sqlite') {
      const text = String((await this.select<{ v: string }>('SELECT sqlite_version() AS v'))[0]!.v);
      return { text, major: Number(text.split('.')[0]) };
    }
    const rows = await this.select<{ v: string; n: string }>("SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n");
    return { text: rows[0]!.v, major: Math.floor(Number(rows[0]!.n) / 10_000) };
  }

  /** `?` placeholders become `$1…` on PostgreSQL, so hot-path SQL is written once. */
  sql(text: string): string {
    if (this.dialect === 'sqlite') return text;
    let n = 0;
    return text.replace(/\?/g, () => `$${++n}`);
  }

  async close(): Promise<void> {
    this.statements.clear();
    await this.walFile?.close();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * fdatasync of SQLite's WAL file from libuv's thread pool, coalesced: a commit waits for the first
 * flush that started after it, and one flush serves every commit before it.
 */
export class WalSync {
  /** Commits (Database's counter) covered by the last flush that completed. */
  private flushed = 0;
  private running: { upTo: number; done: Promise<void> } | null = null;
  private next: Promise<void> | null = null;

  constructor(
    private readonly commits: () => number,
    private readonly flush: () => Promise<void>,
  ) {}

  waitFor(commit: number): Promise<void> {
    if (commit <= this.flushed) return Promise.resolve();
    if (!this.running) return this.start();
    if (this.running.upTo >= commit) return this.running.done;
    this.next ??= this.running.done.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  private start(): Promise<void> {
    this.next = null;
    const upTo = this.commits();
    const done = this.flush().then(() => {
      this.flushed = Math.max(this.flushed, upTo);
    });
    const entry = { upTo, done };
    this.running = entry;
    void done.catch(() => undefined).finally(() => {
      if (this.running === entry) this.running = null;
    });
    return done;
  }
}

/**
 * SQLite's WAL file, flushed through one descriptor kept open: opening and closing it around each
 * flush were two more trips through libuv's pool per group of commits. The descriptor stays valid:
 * SQLite rewinds or truncates its WAL in place, and removes it only when the last connection closes,
 * which is never while this one is open (close() lets the descriptor go first).
 */
export class WalFile {
  private fd: Promise<number | null> | null = null;

  constructor(private readonly path: string) {}

  async datasync(): Promise<void> {
    this.fd ??= openForSync(this.path).catch((error: unknown) => {
      this.fd = null;
      throw error;
    });
    const fd = await this.fd;
    // No WAL file yet: nothing was written since the last checkpoint, which SQLite synced itself.
    if (fd === null) {
      this.fd = null;
      return;
    }
    await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  }

  async close(): Promise<void> {
    const fd = await this.fd?.catch(() => null);
    this.fd = null;
    if (fd !== null && fd !== undefined) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  }
}

function openForSync(path: string): Promise<number | null> {
  return new Promise((resolve, reject) =>
    fs.open(path, 'r', (error, fd) => {
      if (!error) return resolve(fd);
      if (error.code === 'ENOENT') return resolve(null);
      reject(error);
    }),
  );
}

// BIGINT (int8) and COUNT(*) come back from pg as strings; every such value of ours fits in 2^53.
const INT8 = 20;
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

interface PgClientLike {
  on(event: 'error', listener: (error: Error) => void): unknown;
}
interface PgPoolLike {
  on(event: 'connect', listener: (client: PgClientLike) => void): unknown;
  _clients?: PgClientLike[];
}

/**
 * pg's pool listens for errors only on idle clients: a client checked out and between queries (an
 * advisory lock held through a job, a transaction while its caller computes) that the server drops
 * (a restart: FATAL 57P01) emits 'error' with nobody listening, and Node ends the process. Every client
 * gets a listener of its own; the client is then unusable, its next query fails with a storage error
 * (503/451 to the user) and the pool replaces it on release.
 */
function guardPoolClients(dataSource: DataSource, log: Logger): void {
  const pool = (dataSource.driver as unknown as { master?: PgPoolLike }).master;
  if (!pool) return;
  const guard = (client: PgClientLike) => {
    client.on('error', (error) => log.warn({ err: error.message }, 'storage.connection-lost'));
  };
  for (const client of pool._clients ?? []) guard(client);
  pool.on('connect', guard);
}
