import { describe, expect, it } from 'vitest';
import { rowBuilder, type Database } from '../src/storage/database.js';
import { createDataSource } from '../src/storage/index.js';
import { backends } from './harness.js';

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
