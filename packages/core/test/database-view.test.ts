import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import type { EntitySchema } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { BLOB_COLUMNS, blobIdsInView, type DatabaseView } from '../src/storage/database-view.js';
import { ALL_ENTITIES, createCoreStores, createDataSource, type Database } from '../src/storage/index.js';
import { backends } from './harness.js';

const blob = (text: string) => createHash('sha256').update(text).digest('hex');

const all = async (view: DatabaseView, feature: 'mail' | 'drive') => {
  const ids: string[] = [];
  for await (const id of view.referencedBlobs(feature)) ids.push(id);
  return ids;
};

describe('blobs a backup copies', () => {
  it('lists every blob_id column of the schema, so a feature adding one is backed up too', () => {
    const holders = new Set<string>();
    for (const entity of ALL_ENTITIES as EntitySchema[]) {
      const columns = Object.values(entity.options.columns) as { name?: string }[];
      if (columns.some((c) => c.name === 'blob_id' || c.name === 'blobId')) holders.add(entity.options.tableName!);
    }
    expect(holders.size).toBeGreaterThan(0);
    expect(new Set(BLOB_COLUMNS.map((c) => c.table))).toEqual(holders);
  });

  it('pages through the union of a feature’s columns: each id once, in order, NULLs left out', async () => {
    const db = new BetterSqlite(':memory:');
    try {
      for (const { table } of BLOB_COLUMNS) db.exec(`CREATE TABLE ${table} (blob_id TEXT)`);
      const ids = Array.from({ length: 11 }, (_, i) => blob(`m${i}`));
      const put = (table: string, id: string | null) => db.prepare(`INSERT INTO ${table} VALUES (?)`).run(id);
      ids.forEach((id, i) => put(i % 2 ? 'mail_messages' : 'outbound_messages', id));
      for (const id of ids.slice(0, 4)) put('mail_messages', id); // a message delivered to many, COPY…
      put('drive_nodes', null);
      put('drive_nodes', blob('file'));
      const query = async (sql: string, params: string[]) => db.prepare(sql).all(...params) as { blob_id: string }[];
      const listed: string[] = [];
      for await (const id of blobIdsInView(query, 'mail', 3)) listed.push(id);
      expect(listed).toEqual([...ids].sort());
      const drive: string[] = [];
      for await (const id of blobIdsInView(query, 'drive', 3)) drive.push(id);
      expect(drive).toEqual([blob('file')]);
    } finally {
      db.close();
    }
  });
});

/** A drive file named `name` holding the blob of that name, in one account's home. */
async function addFile(db: Database, name: string): Promise<string> {
  const stores = createCoreStores(db);
  let account = await stores.directory.findAccount('view@ms.example.tg');
  if (!account) {
    await stores.directory.createDomain({ name: 'ms.example.tg' });
    account = await stores.directory.createAccount({ address: 'view@ms.example.tg', displayName: 'View' });
  }
  const home = await stores.drive.ensureHome(account);
  await stores.drive.writeFile(home.rootId, name, { blobId: blob(name), size: name.length });
  return blob(name);
}

describe.each(backends)('a point-in-time view of the database on $name', (backend) => {
  it('refers to the blobs of its instant, not to those written or removed after it', async () => {
    const { db, cleanup } = await backend.open();
    const dir = await mkdtemp(join(tmpdir(), 'palabre-view-'));
    try {
      const before = await addFile(db, 'before.txt');
      const gone = await addFile(db, 'deleted-after.txt');
      const view = db.dialect === 'sqlite' ? await db.snapshotInto(join(dir, 'copy.sqlite')) : await db.exportSnapshot();
      try {
        await addFile(db, 'after.txt');
        const drive = createCoreStores(db).drive;
        const home = (await drive.findSpace('view@ms.example.tg'))!;
        const node = (await drive.resolve(home.rootId, ['deleted-after.txt'])).at(-1)!;
        await drive.remove(node.id);
        expect(await all(view, 'drive')).toEqual([before, gone].sort());
        expect(await all(view, 'mail')).toEqual([]);
      } finally {
        await view.close();
      }
      if (db.dialect === 'sqlite') {
        // The copy is a whole database of its own, as of the snapshot.
        const copy = await createDataSource({ sqlite: { file: join(dir, 'copy.sqlite') }, migrate: false });
        try {
          expect(await copy.hasPendingMigrations()).toBe(false);
          expect((await copy.select<{ name: string }>('SELECT name FROM drive_nodes WHERE blob_id IS NOT NULL ORDER BY name')).map((r) => r.name)).toEqual([
            'before.txt',
            'deleted-after.txt',
          ]);
        } finally {
          await copy.close();
        }
      }
    } finally {
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says whether a database is empty, and which engine version it runs', async () => {
    const { db, cleanup } = await backend.open();
    try {
      expect(await db.isEmpty()).toBe(false);
      const version = await db.serverVersion();
      expect(version.major).toBeGreaterThanOrEqual(3);
      expect(version.text).toMatch(/^\d+\.\d+/);
    } finally {
      await cleanup();
    }
    if (backend.name === 'sqlite') {
      const dir = await mkdtemp(join(tmpdir(), 'palabre-view-'));
      const empty = await createDataSource({ sqlite: { file: join(dir, 'empty.sqlite') }, migrate: false });
      try {
        expect(await empty.isEmpty()).toBe(true);
      } finally {
        await empty.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
});
