import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoreStores, createDataSource, createFsBlobStore, sqliteFileIn } from '@palabre/core/storage';
import { createTestDatabase, type TestDatabase } from '@palabre/core/testing';
import { blobFolderIn } from '../src/context.js';
import { capture, makeSite, siteKinds, type Site } from './helpers.js';
import { main } from '../src/cli.js';

const AWA = 'awa@sante.gouv.tg';
const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Drive files for awa, written as the server would (blob first, then the row). */
async function addFiles(site: Site, names: string[]): Promise<string[]> {
  const db = await createDataSource(site.env.DATABASE_URL ? { postgres: { url: site.env.DATABASE_URL } } : { sqlite: { file: sqliteFileIn(site.dataDir) } });
  const blobs = createFsBlobStore(blobFolderIn(site.dataDir, 'drive'));
  try {
    const stores = createCoreStores(db);
    const home = await stores.drive.ensureHome((await stores.directory.findAccount(AWA))!);
    const ids: string[] = [];
    for (const name of names) {
      const { id, size } = await blobs.put(randomBytes(2000));
      await stores.drive.writeFile(home.rootId, name, { blobId: id, size });
      ids.push(id);
    }
    return ids;
  } finally {
    await blobs.close();
    await db.close();
  }
}

const run = async (env: NodeJS.ProcessEnv, ...argv: string[]) => {
  const io = capture();
  const code = await main(argv, io, env);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
};

describe.each(siteKinds)('palabre backup and restore commands on %s', (kind) => {
  let site: Site;
  let work: string;
  let dest: string;
  let others: TestDatabase[];
  beforeEach(async () => {
    site = await makeSite(kind);
    work = await mkdtemp(join(tmpdir(), 'palabre-backup-cmd-'));
    dest = join(work, 'dest');
    others = [];
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('user', 'add', AWA, '--password', 'Une phrase de passe solide');
  });
  afterEach(async () => {
    for (const db of others) await db.drop();
    await site.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  /** Where a restore may go: a new folder and, on PostgreSQL, a new database. */
  const target = async (): Promise<{ dir: string; env: NodeJS.ProcessEnv }> => {
    const dir = join(work, `restore-${randomBytes(3).toString('hex')}`);
    if (kind === 'sqlite') return { dir, env: { ...site.env, DATABASE_URL: '' } };
    const db = await createTestDatabase();
    others.push(db);
    return { dir, env: { ...site.env, DATABASE_URL: db.url } };
  };

  it('keeps the newest N snapshots with --keep, and only the blobs they use', async () => {
    const [a] = await addFiles(site, ['a.bin']);
    expect((await site.run('backup', dest)).code).toBe(0);
    const [b] = await addFiles(site, ['b.bin']);
    // a.bin is deleted: the newer snapshots no longer need its blob.
    const db = await createDataSource(site.env.DATABASE_URL ? { postgres: { url: site.env.DATABASE_URL } } : { sqlite: { file: sqliteFileIn(site.dataDir) } });
    try {
      const stores = createCoreStores(db);
      const home = (await stores.drive.findSpace(AWA))!;
      await stores.drive.remove((await stores.drive.resolve(home.rootId, ['a.bin'])).at(-1)!.id);
    } finally {
      await db.close();
    }
    expect((await site.run('backup', dest)).code).toBe(0);
    const third = await site.run('backup', dest, '--keep', '2');
    expect(third.code).toBe(0);
    expect(third.out).toMatch(/removed 1 old snapshot\(s\) .* and 1 blobs no kept snapshot uses/);
    const list = await site.run('backup', 'list', dest);
    expect(list.out.split('\n').filter((l) => /^\d{8}T/.test(l))).toHaveLength(2);
    const present = async (id: string) => (await readdir(join(dest, 'blobs', id.slice(0, 2), id.slice(2, 4))).catch(() => [] as string[])).includes(id);
    expect(await present(a!)).toBe(false);
    expect(await present(b!)).toBe(true);
    expect((await site.run('backup', 'verify', dest)).code).toBe(0);
  });

  it('restores only into an empty place, and only the kind of database it holds', async () => {
    await addFiles(site, ['kept.bin']);
    expect((await site.run('backup', dest)).code).toBe(0);

    // A data folder already in use is left untouched.
    const unsaid = await run({ ...site.env, PALABRE_DATA: '' }, 'restore', dest);
    expect(unsaid.code).toBe(2); // no --data: where to restore must be said
    expect(unsaid.err).toMatch(/say where to restore with --data DIR/);
    const busy = await run(site.env, 'restore', dest, '--data', site.dataDir);
    expect(await readdir(site.dataDir)).not.toContain('.restore-in-progress');
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/is not empty \(.*\): restore into a new folder/);

    // The other kind of database is refused, saying what to do.
    const wrong = await run(kind === 'sqlite' ? { ...site.env, DATABASE_URL: site.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/nowhere' } : { ...site.env, DATABASE_URL: '' }, 'restore', dest, '--data', join(work, 'wrong'));
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(kind === 'sqlite' ? /is of a SQLite database: restore it without DATABASE_URL/ : /is of a PostgreSQL database: set DATABASE_URL/);

    if (kind === 'postgres') {
      // A database with tables is refused without --force, and replaced with it.
      const full = await target();
      const filled = await createDataSource({ postgres: { url: full.env.DATABASE_URL! } });
      await filled.close();
      const refused = await run(full.env, 'restore', dest, '--data', full.dir);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/is not empty: restore into a new database .* or give --force/);
      const forced = await run(full.env, 'restore', dest, '--data', full.dir, '--force');
      expect(forced.err).not.toMatch(/palabre:/);
      expect(forced.code).toBe(0);
      expect((await run(full.env, '--data', full.dir, 'user', 'list')).out).toContain(AWA);
    }

    // A restore that was interrupted (its marker left) runs again to the end.
    const t = await target();
    await mkdir(t.dir, { recursive: true });
    const id = (await readdir(join(dest, 'snapshots')))[0]!;
    await writeFile(join(t.dir, '.restore-in-progress'), JSON.stringify({ snapshot: id }));
    const resumed = await run(t.env, 'restore', dest, '--data', t.dir);
    expect(resumed.code).toBe(0);
    expect(await readdir(t.dir)).not.toContain('.restore-in-progress');
    expect((await run(t.env, '--data', t.dir, 'user', 'list')).out).toContain(AWA);
  });

  it('refuses a second backup into the same folder while one runs', async () => {
    await mkdir(dest, { recursive: true });
    await writeFile(join(dest, 'lock'), JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
    const r = await site.run('backup', dest);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`another backup is writing to .* \\(process ${process.pid} on`));
    expect(await readdir(dest)).toEqual(['lock']);
  });
});

describe('palabre backup and restore, given hostile input', () => {
  let site: Site;
  let work: string;
  beforeEach(async () => {
    site = await makeSite('sqlite');
    work = await mkdtemp(join(tmpdir(), 'palabre-backup-cmd-'));
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('user', 'add', AWA, '--password', 'Une phrase de passe solide');
  });
  afterEach(async () => {
    await site.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it('takes only snapshot names, never paths, and says how the commands are called', async () => {
    const dest = join(work, 'dest');
    expect((await site.run('backup', dest)).code).toBe(0);
    for (const bad of ['../../etc', '/tmp', '20250101T000000Z/../x', '']) {
      const r = await run(site.env, 'restore', dest, '--snapshot', bad, '--data', join(work, 'r'));
      expect(r.code, bad).toBe(2);
      const v = await site.run('backup', 'verify', dest, '--snapshot', bad);
      expect(v.code, bad).toBe(2);
    }
    expect((await site.run('backup')).code).toBe(2);
    expect((await site.run('backup', dest, '--keep', '0')).code).toBe(2);
    expect((await site.run('backup', dest, 'extra')).code).toBe(2);
    expect((await site.run('backup', '--help')).out).toContain('palabre backup verify DEST');
  });

  it('refuses a snapshot whose blob list names a path instead of a blob, even with matching hashes, and writes nothing outside the data folder', async () => {
    const dest = join(work, 'dest');
    expect((await site.run('backup', dest)).code).toBe(0);
    const id = (await readdir(join(dest, 'snapshots')))[0]!;
    const dir = join(dest, 'snapshots', id);
    // The attacker rewrites the list and the manifest's hash of it so that both agree.
    const evil = `drive ../../../../${'a'.repeat(58)} 5\n`;
    await writeFile(join(dir, 'blobs.txt'), evil);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    manifest.blobs.sha256 = sha(evil);
    manifest.blobs.count = 1;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const into = join(work, 'r');
    const r = await run(site.env, 'restore', dest, '--data', into);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/line 1 is not "<feature> <sha256> <size>"/);
    expect((await readdir(work, { recursive: true })).filter((p) => p.includes('aaaaaaaa'))).toEqual([]);
    expect(await readdir(into)).not.toContain('palabre.sqlite');
    const v = await site.run('backup', 'verify', dest);
    expect(v.code).toBe(1);
  });

  it('treats a manifest that was tampered with as no snapshot', async () => {
    const dest = join(work, 'dest');
    expect((await site.run('backup', dest)).code).toBe(0);
    const id = (await readdir(join(dest, 'snapshots')))[0]!;
    const file = join(dest, 'snapshots', id, 'manifest.json');
    const manifest = JSON.parse(await readFile(file, 'utf8'));
    for (const change of [
      (m: Record<string, any>) => (m.database.file = '../../../etc/passwd'),
      (m: Record<string, any>) => (m.id = '20000101T000000Z'),
      (m: Record<string, any>) => (m.format = 2),
    ]) {
      const copy = structuredClone(manifest);
      change(copy);
      await writeFile(file, JSON.stringify(copy));
      const v = await site.run('backup', 'verify', dest);
      expect(v.code).toBe(1);
      expect(v.out).toMatch(/manifest unreadable/);
      const r = await run(site.env, 'restore', dest, '--data', join(work, 'r'));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/no complete snapshot/);
    }
    await writeFile(file, '{"format": 1, "id": ');
    expect((await site.run('backup', 'list', dest)).out).toMatch(/manifest unreadable/);
  });
});
