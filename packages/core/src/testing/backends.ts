import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataSource, type Database } from '../storage/index.js';
import { createTestDatabase, postgresAvailable } from './postgres.js';

/** A database kind tests run against: each `open()` gives a fresh, migrated, empty database. */
export interface TestBackend {
  readonly name: 'sqlite' | 'postgres';
  open(): Promise<{ db: Database; cleanup: () => Promise<void> }>;
}

export const sqliteBackend: TestBackend = {
  name: 'sqlite',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'palabre-test-'));
    const db = await createDataSource({ sqlite: { file: join(dir, 'test.sqlite') } });
    return {
      db,
      cleanup: async () => {
        await db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

export const postgresBackend: TestBackend = {
  name: 'postgres',
  async open() {
    const tdb = await createTestDatabase();
    const db = await createDataSource({ postgres: { url: tdb.url, poolSize: 12 } });
    return {
      db,
      cleanup: async () => {
        await db.close();
        await tdb.drop();
      },
    };
  },
};

/** SQLite always; PostgreSQL when it answers (and always under PALABRE_REQUIRE_PG=1). */
export async function testBackends(): Promise<TestBackend[]> {
  return [sqliteBackend, ...((await postgresAvailable()) ? [postgresBackend] : [])];
}
