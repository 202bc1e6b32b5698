import { DirectorySearch1796000470000 } from '../src/storage/migrations/1796000470000-directory-search.js';
import { describe, expect, it } from 'vitest';
import { SqlDirectoryStore } from '../src/storage/index.js';
import { backends } from './harness.js';

describe.each(backends)('migrations on $name', (backend) => {
  it('produce exactly the schema the entities describe (nothing left for synchronize)', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const pending = await db.dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      expect(await db.hasPendingMigrations()).toBe(false);
    } finally {
      await cleanup();
    }
  });

  it('are idempotent and safe to run from several processes at once', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const again = await Promise.all([db.migrate(), db.migrate()]);
      expect(again).toEqual([[], []]);
    } finally {
      await cleanup();
    }
  });

  it('fill the directory search column of accounts that existed before it', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const store = new SqlDirectoryStore(db);
      const domain = await store.createDomain({ name: 'sante.gouv.tg' });
      await store.createAccount({ address: 'ek@sante.gouv.tg', displayName: 'Élodie Kpatcha' });
      // The directory search migration undone (the column gone) and run again fills it, whatever came after it.
      const migration = new DirectorySearch1796000470000();
      const runner = db.dataSource.createQueryRunner();
      try {
        await migration.down(runner);
        await migration.up(runner);
      } finally {
        await runner.release();
      }
      expect((await store.search(domain.id, 'elodie', 10)).map((a) => a.address)).toEqual(['ek@sante.gouv.tg']);
    } finally {
      await cleanup();
    }
  });
});
