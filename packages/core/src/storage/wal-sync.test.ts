import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Database, WalSync } from './database.js';

/** A flush the test finishes by hand, recording the commit counter it started at. */
function manualFlushes(commits: () => number) {
  const started: { upTo: number; finish: (error?: Error) => void }[] = [];
  const sync = new WalSync(commits, () => {
    return new Promise<void>((resolve, reject) => {
      started.push({ upTo: commits(), finish: (error) => (error ? reject(error) : resolve()) });
    });
  });
  return { sync, started };
}

const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
};

describe('WalSync', () => {
  it('resolves a commit only after a flush that started once it was committed, and shares flushes', async () => {
    let commits = 0;
    const { sync, started } = manualFlushes(() => commits);
    commits = 1;
    const first = sync.waitFor(1);
    expect(started.map((f) => f.upTo)).toEqual([1]);
    // Commits 2 and 3 land while the first flush runs: they must not ride on it.
    commits = 3;
    const second = sync.waitFor(2);
    const third = sync.waitFor(3);
    expect(started.length).toBe(1);
    started[0]!.finish();
    await first;
    expect(await settled(second)).toBe(false);
    // One more flush, started after commit 3, serves both.
    await Promise.resolve();
    expect(started.map((f) => f.upTo)).toEqual([1, 3]);
    started[1]!.finish();
    await Promise.all([second, third]);
    // Already covered: no flush at all.
    await sync.waitFor(2);
    expect(started.length).toBe(2);
  });

  it('lets a failed flush fail its waiters and tries again for the next', async () => {
    let commits = 1;
    const { sync, started } = manualFlushes(() => commits);
    const failing = sync.waitFor(1);
    started[0]!.finish(new Error('EIO'));
    await expect(failing).rejects.toThrow('EIO');
    const retry = sync.waitFor(1);
    expect(started.length).toBe(2);
    started[1]!.finish();
    await retry;
    commits = 2;
    expect(await settled(sync.waitFor(2))).toBe(false);
    expect(started.length).toBe(3);
  });
});

describe('Database on SQLite', () => {
  it('keeps every concurrent commit, and reading needs no flush', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palabre-walsync-'));
    try {
      const file = join(dir, 'db.sqlite');
      let db = await Database.open({ sqlite: { file } });
      await db.run((m) => m.query('CREATE TABLE t (n INTEGER)'));
      await Promise.all(Array.from({ length: 50 }, (_, n) => db.transaction((m) => m.query('INSERT INTO t (n) VALUES (?)', [n]))));
      // NORMAL (1): COMMIT leaves the WAL flush to WalSync.
      const [pragma] = await db.run((m) => m.query('PRAGMA synchronous'));
      expect(pragma.synchronous).toBe(1);
      await db.close();
      db = await Database.open({ sqlite: { file } });
      const [{ c }] = await db.run((m) => m.query('SELECT COUNT(*) AS c FROM t'));
      expect(c).toBe(50);
      await db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
