import { describe, expect, it } from 'vitest';
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
});
