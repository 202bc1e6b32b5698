import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { createTestDatabase, type TestDatabase } from '@palabre/core/testing';
import { createCoreStores, createDataSource, createFsBlobStore, sqliteFileIn, type Database } from '@palabre/core/storage';
import { collectDriveGarbage } from '@palabre/webdav';
import { createBackup } from '../src/backup/create.js';
import { loadConfig } from '../src/config.js';
import { blobFolderIn } from '../src/context.js';
import { BIN, freePort, makeSite, runBin, siteKinds, waitForLine, type Site } from './helpers.js';

const PASS = 'Une phrase de passe solide';
const AWA = 'awa@sante.gouv.tg';
const KOFI = 'kofi@sante.gouv.tg';
const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

interface Server {
  readonly child: ChildProcess;
  readonly http: number;
  readonly smtp: number;
  readonly imap: number;
  stop(): Promise<void>;
}

async function serve(dataDir: string, env: NodeJS.ProcessEnv): Promise<Server> {
  const [http, smtp, imap] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data', dataDir, '--http-port', String(http), '--smtp-port', String(smtp), '--submission-port', '0', '--imap-port', String(imap), '--sieve-port', '0', '--admin-port', '0'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.resume();
  await waitForLine(child, /Palabre is running/);
  return {
    child,
    http,
    smtp,
    imap,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

const basic = (user: string) => `Basic ${Buffer.from(`${user}:${PASS}`).toString('base64')}`;
const fileUrl = (s: Server, user: string, name: string) => `http://127.0.0.1:${s.http}/dav/files/${user}/${name}`;

/** Every message of a user's INBOX over IMAP: subject → SHA-256 of its bytes. */
async function mailbox(s: Server, user: string): Promise<Map<string, string>> {
  const client = new ImapFlow({ host: '127.0.0.1', port: s.imap, secure: false, auth: { user, pass: PASS }, logger: false, tls: { rejectUnauthorized: false } });
  await client.connect();
  const found = new Map<string, string>();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      if ((client.mailbox as { exists: number }).exists > 0) {
        for await (const m of client.fetch('1:*', { envelope: true, source: true })) found.set(m.envelope!.subject!, sha(m.source!));
      }
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
  return found;
}

/** The names in a user's drive home, by a PROPFIND Depth 1. */
async function driveNames(s: Server, user: string): Promise<string[]> {
  const res = await fetch(fileUrl(s, user, ''), { method: 'PROPFIND', headers: { authorization: basic(user), depth: '1' } });
  expect(res.status).toBe(207);
  const xml = await res.text();
  return [...xml.matchAll(/<[a-z]*:?href>([^<]+)<\/[a-z]*:?href>/gi)].map((m) => decodeURIComponent(m[1]!).split('/').filter(Boolean).pop()!);
}

/** Every file under `dir`, recursively (the blobs of a backup folder). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

const blobFiles = async (dest: string) => (await filesUnder(join(dest, 'blobs'))).filter((p) => /\/[0-9a-f]{64}$/.test(p));

async function snapshotIds(dest: string): Promise<string[]> {
  return (await readdir(join(dest, 'snapshots')).catch(() => [] as string[])).sort();
}

async function blobList(dest: string, id: string): Promise<Set<string>> {
  const text = await readFile(join(dest, 'snapshots', id, 'blobs.txt'), 'utf8');
  return new Set(text.split('\n').filter(Boolean).map((l) => l.split(' ')[1]!));
}

describe.each(siteKinds)('palabre backup and restore on %s', (kind) => {
  let site: Site;
  let work: string;
  let extra: TestDatabase | null;
  beforeEach(async () => {
    site = await makeSite(kind);
    work = await mkdtemp(join(tmpdir(), 'palabre-backup-'));
    extra = null;
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('user', 'add', AWA, '--password', PASS);
  });
  afterEach(async () => {
    await extra?.drop();
    await site.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it('backs up while SMTP and WebDAV loads run; the restore serves every message, file and account acknowledged before', async () => {
    const server = await serve(site.dataDir, site.env);
    const dest = join(work, 'dest');
    const messages: { subject: string; to: string }[] = [];
    const files: { name: string; sha256: string }[] = [];
    let stop = false;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.smtp, secure: false, tls: { rejectUnauthorized: false }, pool: true, maxConnections: 2 });
    const smtpLoad = (async () => {
      for (let n = 0; !stop; n++) {
        const to = n % 3 === 0 ? KOFI : AWA;
        const subject = `load ${n} ${randomBytes(4).toString('hex')}`;
        try {
          await transport.sendMail({ from: 'ama@example.org', to, subject, text: `message ${n}\n${randomBytes(200 + (n % 7) * 900).toString('base64')}` });
          messages.push({ subject, to });
        } catch {
          // kofi does not exist until the CLI adds him: those are refused, never acknowledged.
        }
      }
    })();
    const davLoad = (async () => {
      for (let n = 0; !stop; n++) {
        const body = randomBytes(1000 + (n % 5) * 40_000);
        const res = await fetch(fileUrl(server, AWA, `load-${n}.bin`), { method: 'PUT', body, headers: { authorization: basic(AWA) } });
        if (res.status === 201) files.push({ name: `load-${n}.bin`, sha256: sha(body) });
        else throw new Error(`PUT answered ${res.status}`);
      }
    })();
    try {
      // An account made while the loads run, before the backup starts.
      expect((await runBin(['--data', site.dataDir, 'user', 'add', KOFI, '--password', PASS], { env: site.env })).code).toBe(0);
      while (messages.length < 15 || files.length < 10) await new Promise((r) => setTimeout(r, 50));
      // What was acknowledged before the backup started.
      const ackedMessages = [...messages];
      const ackedFiles = [...files];
      const first = await runBin(['--data', site.dataDir, 'backup', dest], { env: site.env });
      expect(first.err).not.toMatch(/palabre:/);
      expect(first.code).toBe(0);
      const moreBy = messages.length + 5;
      const moreFiles = files.length + 3;
      while (messages.length < moreBy || files.length < moreFiles) await new Promise((r) => setTimeout(r, 50));
      const second = await runBin(['--data', site.dataDir, 'backup', dest], { env: site.env });
      expect(second.code).toBe(0);
      stop = true;
      await Promise.all([smtpLoad, davLoad]);

      // The second backup copied exactly the blobs the first did not have.
      const [id1, id2] = await snapshotIds(dest);
      const [set1, set2] = [await blobList(dest, id1!), await blobList(dest, id2!)];
      const fresh = [...set2].filter((id) => !set1.has(id)).length;
      expect(fresh).toBeGreaterThan(0);
      expect(second.out).toMatch(new RegExp(`; ${fresh} copied \\(.*\\), ${set2.size - fresh} already there`));
      expect((await blobFiles(dest)).length).toBe(new Set([...set1, ...set2]).size);
      expect((await runBin(['backup', 'verify', dest], { env: site.env })).code).toBe(0);

      // What the server holds for those acknowledged messages and files, to compare byte for byte.
      const sourceMail = new Map([...(await mailbox(server, AWA)), ...(await mailbox(server, KOFI))]);
      await server.stop();

      // Restore the first backup into a new place.
      const restored = join(work, 'restored');
      let env = { ...site.env };
      if (kind === 'postgres') {
        extra = await createTestDatabase();
        env = { ...site.env, DATABASE_URL: extra.url };
      }
      const restore = await runBin(['restore', dest, '--snapshot', id1!, '--data', restored], { env });
      expect(restore.err).not.toMatch(/palabre:/);
      expect(restore.code).toBe(0);
      expect(restore.out).toContain(`restored snapshot ${id1}`);

      const again = await serve(restored, env);
      try {
        const awaMail = await mailbox(again, AWA); // the accounts log in with their passwords
        const kofiMail = await mailbox(again, KOFI);
        for (const m of ackedMessages) {
          const got = (m.to === AWA ? awaMail : kofiMail).get(m.subject);
          expect(got, m.subject).toBeDefined();
          expect(got).toBe(sourceMail.get(m.subject));
        }
        const names = await driveNames(again, AWA);
        for (const f of ackedFiles) {
          expect(names).toContain(f.name);
          const res = await fetch(fileUrl(again, AWA, f.name), { headers: { authorization: basic(AWA) } });
          expect(res.status).toBe(200);
          expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(f.sha256);
        }
      } finally {
        await again.stop();
      }
    } finally {
      stop = true;
      transport.close();
      await Promise.allSettled([smtpLoad, davLoad]);
      await server.stop();
    }
  }, 180_000);
});

/** The site's database and drive, opened in this process (as a second node or the CLI would). */
async function openSite(site: Site): Promise<{ db: Database; home: string; put(name: string, bytes: Buffer): Promise<string>; close(): Promise<void> }> {
  const db = await createDataSource(site.env.DATABASE_URL ? { postgres: { url: site.env.DATABASE_URL } } : { sqlite: { file: sqliteFileIn(site.dataDir) } });
  const stores = createCoreStores(db);
  const blobs = createFsBlobStore(blobFolderIn(site.dataDir, 'drive'));
  const home = await stores.drive.ensureHome((await stores.directory.findAccount(AWA))!);
  return {
    db,
    home: home.rootId,
    async put(name, bytes) {
      const { id, size } = await blobs.put(bytes);
      await stores.drive.writeFile(home.rootId, name, { blobId: id, size });
      return id;
    },
    async close() {
      await blobs.close();
      await db.close();
    },
  };
}

/** Start `palabre backup DEST` and kill it with -9 once `when` holds (polled). */
async function killBackupWhen(site: Site, dest: string, when: () => Promise<boolean>): Promise<void> {
  const child = spawn(process.execPath, [BIN, '--data', site.dataDir, 'backup', dest], { env: site.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  child.stderr!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !(await when())) await new Promise((r) => setTimeout(r, 5));
  expect(done, 'the backup finished before it could be killed').toBe(false);
  child.kill('SIGKILL');
  await exited;
}

describe.each(siteKinds)('backups that go wrong on %s', (kind) => {
  let site: Site;
  let work: string;
  beforeEach(async () => {
    site = await makeSite(kind);
    work = await mkdtemp(join(tmpdir(), 'palabre-backup-'));
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('user', 'add', AWA, '--password', PASS);
  });
  afterEach(async () => {
    await site.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it('a kill -9 mid-copy or mid-dump never damages the previous backup, and the next one completes; verify finds a damaged and a missing blob', async () => {
    const dest = join(work, 'dest');
    const data = await openSite(site);
    try {
      for (let i = 0; i < 60; i++) await data.put(`first-${i}.bin`, randomBytes(32 * 1024));
    } finally {
      await data.close();
    }
    const first = await runBin(['--data', site.dataDir, 'backup', dest], { env: site.env });
    expect(first.code).toBe(0);
    const [firstId] = await snapshotIds(dest);
    const data2 = await openSite(site);
    try {
      for (let i = 0; i < 400; i++) await data2.put(`second-${i}.bin`, randomBytes(32 * 1024));
    } finally {
      await data2.close();
    }

    // Killed while it copies blobs…
    const before = (await blobFiles(dest)).length;
    await killBackupWhen(site, dest, async () => (await blobFiles(dest)).length > before + 20);
    expect(await snapshotIds(dest)).toHaveLength(2);
    let check = await runBin(['backup', 'verify', dest, '--snapshot', firstId!], { env: site.env });
    expect(check.out).toContain(`${firstId}: ok (database and 60 blobs`);
    expect(check.code).toBe(0);
    check = await runBin(['backup', 'verify', dest], { env: site.env });
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/incomplete \(a backup that did not finish\), ignored/);

    // …and while it dumps the database.
    const dumpFile = kind === 'postgres' ? 'database.pgdump' : 'database.sqlite';
    const known = new Set(await snapshotIds(dest));
    await killBackupWhen(site, dest, async () => {
      for (const id of await snapshotIds(dest)) {
        if (known.has(id)) continue;
        if ((await readdir(join(dest, 'snapshots', id)).catch(() => [] as string[])).includes(dumpFile)) return true;
      }
      return false;
    });
    check = await runBin(['backup', 'verify', dest, '--snapshot', firstId!], { env: site.env });
    expect(check.code).toBe(0);

    // The next backup takes over the dead one's lock, removes what it left, and completes.
    const next = await runBin(['--data', site.dataDir, 'backup', dest], { env: site.env });
    expect(next.err).toMatch(/removed \d incomplete snapshot/);
    expect(next.code).toBe(0);
    expect(next.out).toMatch(/460 blobs/);
    const ids = await snapshotIds(dest);
    expect(ids).toHaveLength(2);
    check = await runBin(['backup', 'verify', dest], { env: site.env });
    expect(check.code).toBe(0);
    expect(check.out).not.toMatch(/incomplete/);

    // A flipped byte and a lost file are both found, and named.
    const [damaged, lost] = (await blobFiles(dest)).slice(0, 2);
    const bytes = await readFile(damaged!);
    bytes[100] = bytes[100]! ^ 0x40;
    await writeFile(damaged!, bytes);
    await unlink(lost!);
    const dumpPath = join(dest, 'snapshots', firstId!, dumpFile);
    const dump = await readFile(dumpPath);
    dump[dump.length - 10] = dump[dump.length - 10]! ^ 1;
    await writeFile(dumpPath, dump);
    check = await runBin(['backup', 'verify', dest], { env: site.env });
    expect(check.code).toBe(1);
    const name = (p: string) => p.split('/').pop()!;
    expect(check.out).toMatch(new RegExp(`drive blob ${name(damaged!)} is damaged`));
    expect(check.out).toMatch(new RegExp(`drive blob ${name(lost!)} is missing`));
    expect(check.out).toContain(`database ${dumpFile} is damaged`);
    // A restore refuses the damaged database rather than serving it.
    const refused = await runBin(['restore', dest, '--snapshot', firstId!, '--data', join(work, 'r')], { env: { ...site.env, DATABASE_URL: kind === 'postgres' ? site.env.DATABASE_URL : '' } });
    expect(refused.code).toBe(1);
  }, 180_000);

  it('copies a blob whose file is deleted and collected right after the database snapshot', async () => {
    const dest = join(work, 'dest');
    const data = await openSite(site);
    let blobId: string;
    try {
      blobId = await data.put('deleted-after-snapshot.txt', Buffer.from('the bytes of a file deleted while the backup runs'));
      // Older than the collector's grace period: nothing but a reference would keep it.
      const old = new Date(Date.now() - 3 * 3600_000);
      const path = join(blobFolderIn(site.dataDir, 'drive'), blobId.slice(0, 2), blobId.slice(2, 4), blobId);
      await utimes(path, old, old);
    } finally {
      await data.close();
    }
    const config = loadConfig({ data: site.dataDir, env: site.env });
    let collected = -1;
    const result = await createBackup({
      config,
      dest,
      afterSnapshot: async () => {
        // The server, in its own process: the file is deleted, and its garbage collection runs.
        const server = await openSite(site);
        const serverBlobs = createFsBlobStore(blobFolderIn(site.dataDir, 'drive'));
        try {
          const stores = createCoreStores(server.db);
          const node = (await stores.drive.resolve(server.home, ['deleted-after-snapshot.txt'])).at(-1)!;
          await stores.drive.remove(node.id);
          // settleMs 0: trashed and destroyed in this one run, as a run an hour later would.
          collected = (await collectDriveGarbage({ store: stores.drive, blobs: serverBlobs, settleMs: 0 })).removed;
          expect(await serverBlobs.stat(blobId)).toBeNull();
        } finally {
          await serverBlobs.close();
          await server.close();
        }
      },
    });
    expect(collected).toBe(1);
    expect(result.manifest.unavailable).toEqual([]);
    expect(await blobList(dest, result.manifest.id)).toEqual(new Set([blobId]));
    expect((await runBin(['backup', 'verify', dest], { env: site.env })).code).toBe(0);
    // Once the backup let go, the collected blob is gone from the server's folder for good.
    expect((await filesUnder(blobFolderIn(site.dataDir, 'drive'))).filter((p) => p.endsWith(blobId))).toEqual([]);
  }, 120_000);
});
