import { describe, expect, it } from 'vitest';
import { rowBuilder, type Database } from '../src/storage/database.js';
import { createDataSource } from '../src/storage/index.js';
import { backends } from './harness.js';
import { createTestDatabase } from '../src/testing/postgres.js';

/** A select issued while a transaction holds uncommitted rows sees none of them (it waits on SQLite). */
async function selectBesideOpenTransaction(db: Database): Promise<unknown[]> {
  let inside!: () => void;
  const entered = new Promise<void>((resolve) => (inside = resolve));
  let finish!: () => void;
  const held = new Promise<void>((resolve) => (finish = resolve));
  const tx = db
    .transaction(async (m) => {
      await m.query(db.sql('INSERT INTO domains (id, name, created_at) VALUES (?, ?, ?)'), ['d-pending', 'pending.example', Date.now()]);
      inside();
      await held;
      throw new Error('roll back');
    })
    .catch(() => 'rolled back');
  await entered;
  const read = db.select('SELECT name FROM domains WHERE name = ?', ['pending.example']);
  finish();
  expect(await tx).toBe('rolled back');
  return read;
}

describe.each(backends)('Database.select on $name', (backend) => {
  it('reads rows with ? placeholders and maps driver errors', async () => {
    const { db, cleanup } = await backend.open();
    try {
      await db.run((m) => m.query(db.sql('INSERT INTO domains (id, name, created_at) VALUES (?, ?, ?)'), ['d-select', 'select.example', Date.now()]));
      const rows = await db.select<{ name: string }>('SELECT name FROM domains WHERE name = ?', ['select.example']);
      expect(rows.map((r) => r.name)).toEqual(['select.example']);
      expect(await db.select('SELECT name FROM domains WHERE name = ?', ['nothing.example'])).toEqual([]);
      await expect(db.select('SELECT nope FROM nowhere')).rejects.toMatchObject({ kind: 'unavailable' });
    } finally {
      await cleanup();
    }
  });

  it('never sees the writes of a transaction still open, nor runs a writing statement', async () => {
    const { db, cleanup } = await backend.open();
    try {
      expect(await selectBesideOpenTransaction(db)).toEqual([]);
      if (backend.name === 'sqlite') {
        await expect(db.select("DELETE FROM domains WHERE name = 'x'")).rejects.toThrow(/read-only/);
      }
    } finally {
      await cleanup();
    }
  });
});

describe.each(backends)('Database.select rows on $name', (backend) => {
  it('gives rows as the driver names their columns: odd names, NULLs, duplicates (the last wins), no __proto__', async () => {
    const { db, cleanup } = await backend.open();
    try {
      await db.run((m) => m.query(db.sql('INSERT INTO domains (id, name, created_at) VALUES (?, ?, ?)'), ['d-rows', 'rows.example', 1234]));
      const sql = `SELECT name, created_at AS "when", NULL AS "empty", 'x' AS "a""b", 'y' AS "c\\d\`e", id AS "name" FROM domains WHERE id = ?`;
      const rows = await db.select<Record<string, unknown>>(sql, ['d-rows']);
      expect(rows).toEqual([{ name: 'd-rows', when: 1234, empty: null, 'a"b': 'x', 'c\\d`e': 'y' }]);
      expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
      // the same statement again (cached) gives rows of the same shape
      expect(await db.select(sql, ['d-rows'])).toEqual(rows);
      if (backend.name === 'sqlite') {
        await expect(db.select('SELECT name AS "__proto__" FROM domains')).rejects.toThrow(/__proto__/);
      }
    } finally {
      await cleanup();
    }
  });
});

describe('rowBuilder', () => {
  it('builds the same rows compiled and without code generation', () => {
    const names = ['a', 'b"c', 'd\\e`f', 'a', 'constructor'];
    const values = [1, 'x', null, 4, 'y'];
    const compiled = rowBuilder(names)(values);
    expect(compiled).toEqual({ a: 4, 'b"c': 'x', 'd\\e`f': null, constructor: 'y' });
    expect(rowBuilder(names, false)(values)).toEqual(compiled);
    expect(Object.keys(compiled as object)).toEqual(['a', 'b"c', 'd\\e`f', 'constructor']);
    expect(() => rowBuilder(['x', '__proto__'])).toThrow(/__proto__/);
  });
});

describe('Database.select on an in-memory SQLite database', () => {
  it('takes turns with transactions on the one connection too', async () => {
    const db = await createDataSource({ sqlite: { file: ':memory:' } });
    try {
      expect(await selectBesideOpenTransaction(db)).toEqual([]);
      await expect(db.select("DELETE FROM domains WHERE name = 'x'")).rejects.toThrow(/read-only/);
    } finally {
      await db.close();
    }
  });
});

/** A job that runs until released, telling when it has started. */
function heldJob(): { started: Promise<void>; release: () => void; job: () => Promise<string> } {
  let started!: () => void;
  let release!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    started: startedP,
    release,
    job: async () => {
      started();
      await released;
      return 'done';
    },
  };
}

describe.each(backends)('Database.runExclusive on $name', (backend) => {
  it('runs one job of a name at a time in a process; other names run beside it; a failure frees it', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const held = heldJob();
      const first = db.runExclusive('gc', held.job);
      await held.started;
      expect(await db.runExclusive('gc', async () => 'second')).toEqual({ ran: false });
      expect(await db.runExclusive('other', async () => 'beside')).toEqual({ ran: true, value: 'beside' });
      held.release();
      expect(await first).toEqual({ ran: true, value: 'done' });
      await expect(db.runExclusive('gc', async () => Promise.reject(new Error('job failed')))).rejects.toThrow('job failed');
      expect(await db.runExclusive('gc', async () => 'again')).toEqual({ ran: true, value: 'again' });
    } finally {
      await cleanup();
    }
  });
});

describe.runIf(backends.some((b) => b.name === 'postgres'))('Database.runExclusive across nodes (PostgreSQL)', () => {
  it('runs a job on one node of the cluster; a node that loses its connection frees the job at once', async () => {
    const tdb = await createTestDatabase();
    const nodeA = await createDataSource({ postgres: { url: tdb.url, poolSize: 4 } });
    const nodeB = await createDataSource({ postgres: { url: tdb.url, poolSize: 4 } });
    try {
      const held = heldJob();
      const onA = nodeA.runExclusive('housekeeping', held.job);
      await held.started;
      expect(await nodeB.runExclusive('housekeeping', async () => 'B')).toEqual({ ran: false });
      expect(await nodeB.runExclusive('drive-gc', async () => 'B')).toEqual({ ran: true, value: 'B' });
      held.release();
      expect(await onA).toEqual({ ran: true, value: 'done' });
      expect(await nodeB.runExclusive('housekeeping', async () => 'B')).toEqual({ ran: true, value: 'B' });

      // Node A's lock connection dies (a node killed, a network cut): B takes the job without waiting.
      const stuck = heldJob();
      const dying = nodeA.runExclusive('housekeeping', stuck.job);
      await stuck.started;
      expect(await nodeB.runExclusive('housekeeping', async () => 'B')).toEqual({ ran: false });
      // pg_terminate_backend only signals (PostgreSQL 14+ can wait: the second argument); the lock goes
      // when the backend has exited, which is what B must see.
      await nodeB.run((m) => m.query("SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND pid <> pg_backend_pid()", [0x6a6f6273]));
      expect(await nodeB.runExclusive('housekeeping', async () => 'B after A died')).toEqual({ ran: true, value: 'B after A died' });
      stuck.release();
      expect(await dying).toEqual({ ran: true, value: 'done' });
    } finally {
      await nodeA.close();
      await nodeB.close();
      await tdb.drop();
    }
  });

  it('keeps deployments in different schemas of one database apart', async () => {
    const tdb = await createTestDatabase();
    const admin = await createDataSource({ postgres: { url: tdb.url, poolSize: 2 }, migrate: false });
    await admin.run((m) => m.query('CREATE SCHEMA ministry_one; CREATE SCHEMA ministry_two'));
    const inSchema = (schema: string) => `${tdb.url}${tdb.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const a = await createDataSource({ postgres: { url: inSchema('ministry_one'), poolSize: 4 } });
    const b = await createDataSource({ postgres: { url: inSchema('ministry_two'), poolSize: 4 } });
    try {
      await a.migrate();
      await b.migrate();
      const held = heldJob();
      const onA = a.runExclusive('housekeeping', held.job);
      await held.started;
      expect(await b.runExclusive('housekeeping', async () => 'other deployment')).toEqual({ ran: true, value: 'other deployment' });
      const a2 = await createDataSource({ postgres: { url: inSchema('ministry_one'), poolSize: 4 } });
      try {
        expect(await a2.runExclusive('housekeeping', async () => 'same deployment')).toEqual({ ran: false });
      } finally {
        await a2.close();
      }
      held.release();
      await onA;
    } finally {
      await a.close();
      await b.close();
      await admin.close();
      await tdb.drop();
    }
  });
});
