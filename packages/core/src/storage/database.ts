import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import { DataSource, type EntityManager, type EntitySchema, type MigrationInterface } from 'typeorm';
import { PalabreError } from '../errors.js';
import type { Logger } from '../ports/logger.js';
import { silentLogger } from '../ports/logger.js';
import { toStorageError } from './driver-errors.js';
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
}

// A fixed key so that concurrent `palabre serve` / `palabre migrate` processes migrate one at a time.
const MIGRATION_LOCK_KEY = 0x70616c61; // "pala"

/**
 * One database, embedded (SQLite) or shared (PostgreSQL), with typed errors and safe transactions.
 * Repositories never touch TypeORM's DataSource directly: they go through run() and transaction(), so
 * SQLite's single connection is never used by two interleaved transactions and driver errors are
 * always translated.
 */
export class Database {
  private readonly mutex = new Mutex();

  private constructor(
    readonly dataSource: DataSource,
    readonly dialect: Dialect,
    private readonly log: Logger,
  ) {}

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
          // FULL: a commit survives power loss, not only a crash (we promise durability before 250/201).
          db.pragma('synchronous = FULL');
          db.pragma('busy_timeout = 15000');
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
    return new Database(dataSource, dialect, log.child({ component: 'storage' }));
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
    return this.dialect === 'sqlite' ? this.mutex.run(exec) : exec();
  }

  /** All of fn or nothing; retried on serialization failures and busy databases. */
  async transaction<T>(fn: (manager: EntityManager) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const what = options.what ?? 'storage transaction';
    const retries = options.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        return this.dialect === 'sqlite' ? await this.mutex.run(() => this.sqliteTransaction(fn)) : await this.dataSource.transaction(fn);
      } catch (error) {
        const typed = toStorageError(error, what);
        if (typed.retryable && attempt < retries) {
          this.log.debug({ what, attempt, kind: typed.kind }, 'storage.retry');
          await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt + Math.random() * 10));
          continue;
        }
        throw typed;
      }
    }
  }

  // BEGIN IMMEDIATE takes the write lock up front, so a second process (the CLI beside the server)
  // waits on busy_timeout instead of failing when a deferred transaction tries to upgrade its lock.
  private async sqliteTransaction<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.query('BEGIN IMMEDIATE');
      let result: T;
      try {
        result = await fn(runner.manager);
      } catch (error) {
        await runner.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      await runner.query('COMMIT');
      return result;
    } finally {
      await runner.release();
    }
  }

  /** Apply pending migrations; returns their names. Safe to call from several nodes at once. */
  async migrate(): Promise<string[]> {
    const apply = async (): Promise<string[]> => (await this.dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
    try {
      if (this.dialect === 'sqlite') return await this.mutex.run(apply);
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

  async hasPendingMigrations(): Promise<boolean> {
    return this.run(() => this.dataSource.showMigrations(), 'checking migrations');
  }

  /** `?` placeholders become `$1…` on PostgreSQL, so hot-path SQL is written once. */
  sql(text: string): string {
    if (this.dialect === 'sqlite') return text;
    let n = 0;
    return text.replace(/\?/g, () => `$${++n}`);
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

// BIGINT (int8) and COUNT(*) come back from pg as strings; every such value of ours fits in 2^53.
const INT8 = 20;
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};
