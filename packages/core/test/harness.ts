import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataSource, type Database } from '../src/storage/index.js';
import { createTestDatabase, postgresAvailable } from '../src/testing/postgres.js';

export interface Backend {
  readonly name: 'sqlite' | 'postgres';
  open(): Promise<{ db: Database; cleanup: () => Promise<void> }>;
}

export const sqliteBackend: Backend = {
  name: 'sqlite',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'palabre-core-'));
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

export const postgresBackend: Backend = {
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
export const backends: Backend[] = [sqliteBackend, ...((await postgresAvailable()) ? [postgresBackend] : [])];
