import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient, type FileStat } from 'webdav';
import { skipWithout } from '@palabre/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, PASSWORDS, startServer, type TestServer } from './harness.js';

const run = promisify(execFile);

describe('real clients against a listening server', () => {
  let t: TestServer;
  let work: string;
  beforeAll(async () => {
    t = await startServer('sqlite');
    work = await mkdtemp(join(tmpdir(), 'palabre-clients-'));
  });
  afterAll(async () => {
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  it('the webdav npm client: folders, files, stat, copy, move, locks, quota, delete', async () => {
    const client = createClient(t.url, { username: ALICE, password: PASSWORDS[ALICE] });
    await client.createDirectory('/npm/sub', { recursive: true });
    await client.putFileContents('/npm/sub/a.txt', 'contents of a');
    await client.putFileContents('/npm/b.bin', Buffer.from([0, 1, 2, 255]));
    const listing = (await client.getDirectoryContents('/npm', { deep: true })) as FileStat[];
    expect(listing.map((f) => `${f.type}:${f.filename}`).sort()).toEqual(['directory:/npm/sub', 'file:/npm/b.bin', 'file:/npm/sub/a.txt']);
    const a = (await client.stat('/npm/sub/a.txt')) as FileStat;
    expect(a).toMatchObject({ size: 13, type: 'file', mime: 'text/plain' });
    expect(a.etag).toBeTruthy();
    await client.copyFile('/npm/sub/a.txt', '/npm/copy.txt');
    await client.moveFile('/npm/b.bin', '/npm/sub/moved.bin');
    expect(await client.getFileContents('/npm/copy.txt', { format: 'text' })).toBe('contents of a');
    expect(Buffer.from((await client.getFileContents('/npm/sub/moved.bin')) as ArrayBuffer)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await client.exists('/npm/b.bin')).toBe(false);
    const lock = await client.lock('/npm/copy.txt');
    expect(lock.token).toMatch(/^opaquelocktoken:/);
    await expect(client.putFileContents('/npm/copy.txt', 'no token')).rejects.toMatchObject({ status: 423 });
    await client.unlock('/npm/copy.txt', lock.token);
    await client.putFileContents('/npm/copy.txt', 'after unlock');
    const alice = (await t.stores.directory.findAccount(ALICE))!;
    await t.stores.directory.updateAccount(alice.id, { quotaBytes: 1_000_000 });
    const quota = (await client.getQuota()) as { used: number; available: number };
    expect(quota.used).toBeGreaterThan(0);
    expect(quota.used + quota.available).toBe(1_000_000);
    await t.stores.directory.updateAccount(alice.id, { quotaBytes: null });
    await client.deleteFile('/npm');
    expect(await client.exists('/npm')).toBe(false);
  });

  it.skipIf(skipWithout('rclone'))('rclone copies 1,000 files up and down with mtimes kept, and a second sync transfers nothing', async () => {
    const local = join(work, 'tree');
    const back = join(work, 'back');
    const base = new Date('2021-03-04T05:06:07Z').getTime();
    for (let d = 0; d < 10; d++) {
      await mkdir(join(local, `dir-${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) {
        const file = join(local, `dir-${d}`, `file ${f}é.txt`);
        await writeFile(file, `file ${d}/${f}\n`.repeat(f + 1));
        const when = new Date(base + (d * 100 + f) * 3_600_000);
        await utimes(file, when, when);
      }
    }
    const { stdout: pass } = await run('rclone', ['obscure', PASSWORDS[ALICE]!]);
    const remote = [`--webdav-url=${t.url}`, `--webdav-user=${ALICE}`, `--webdav-pass=${pass.trim()}`, '--webdav-vendor=owncloud'];
    const common = ['--config', join(work, 'rclone.conf'), '--transfers', '8', '--checkers', '8', '-v'];
    await run('rclone', ['copy', local, ':webdav:rclone', ...remote, ...common], { timeout: 300_000 });
    await run('rclone', ['copy', ':webdav:rclone', back, ...remote, ...common], { timeout: 300_000 });
    for (const [d, f] of [
      [0, 0],
      [4, 57],
      [9, 99],
    ] as const) {
      const name = join(`dir-${d}`, `file ${f}é.txt`);
      expect(await readFile(join(back, name), 'utf8')).toBe(await readFile(join(local, name), 'utf8'));
      expect(Math.floor((await stat(join(back, name))).mtimeMs / 1000)).toBe(Math.floor((await stat(join(local, name))).mtimeMs / 1000));
    }
    const again = await run('rclone', ['sync', local, ':webdav:rclone', ...remote, ...common], { timeout: 300_000 });
    expect(again.stderr).not.toMatch(/Copied \(|Updated modification time|Deleted/);
    expect(again.stderr).toMatch(/There was nothing to transfer|Transferred:\s+0 B/);
    const down = await run('rclone', ['sync', ':webdav:rclone', back, ...remote, ...common], { timeout: 300_000 });
    expect(down.stderr).not.toMatch(/Copied \(|Updated modification time|Deleted/);
    const check = await run('rclone', ['check', local, ':webdav:rclone', ...remote, ...common], { timeout: 300_000 });
    expect(check.stderr).toMatch(/0 differences found/);
  });

  it.skipIf(skipWithout('cadaver'))('a cadaver script: mkcol, put, propset/propget, lock/unlock, copy, move, get, delete', async () => {
    const home = join(work, 'cadaver-home');
    await mkdir(home, { recursive: true });
    await writeFile(join(home, '.netrc'), `machine 127.0.0.1 login ${ALICE} password ${PASSWORDS[ALICE]}\n`, { mode: 0o600 });
    await writeFile(join(work, 'up.txt'), 'uploaded by cadaver\n');
    const script = [
      'mkcol cad',
      `put ${join(work, 'up.txt')} cad/up.txt`,
      'propset cad/up.txt colour blue',
      'propget cad/up.txt colour',
      'lock cad/up.txt',
      'discover cad/up.txt',
      'unlock cad/up.txt',
      'copy cad/up.txt cad/copy.txt',
      'move cad/copy.txt cad/moved.txt',
      `get cad/moved.txt ${join(work, 'down.txt')}`,
      'ls cad',
      'delete cad/up.txt',
      'quit',
    ].join('\n');
    const child = execFile('cadaver', [t.url], { env: { ...process.env, HOME: home }, timeout: 60_000 });
    child.stdin!.end(`${script}\n`);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    expect(out).toContain('Value of colour is: blue');
    expect(out).toMatch(/Locking `cad\/up.txt': succeeded/);
    expect(out).toMatch(/Unlocking `cad\/up.txt': succeeded/);
    expect(out).toContain('moved.txt');
    expect(out).not.toMatch(/failed/i);
    expect(await readFile(join(work, 'down.txt'), 'utf8')).toBe('uploaded by cadaver\n');
    expect((await t.dav('GET', `/dav/files/${ALICE}/cad/up.txt`)).status).toBe(404);
    expect(await (await t.dav('GET', `/dav/files/${ALICE}/cad/moved.txt`)).text()).toBe('uploaded by cadaver\n');
  });
});
