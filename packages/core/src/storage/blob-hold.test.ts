import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectUnreferencedBlobs } from '../blob-gc.js';
import { HOLD_TTL_MS } from './blob-hold.js';
import { FsBlobStore } from './fs-blob-store.js';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString();
}

describe('FsBlobStore holds (what a backup takes before its database snapshot)', () => {
  let dir: string;
  let stores: FsBlobStore[];
  const open = () => {
    const store = new FsBlobStore(dir);
    stores.push(store);
    return store;
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palabre-hold-'));
    stores = [];
  });
  afterEach(async () => {
    for (const s of stores) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a blob deleted during the hold readable through it, and frees it on release', async () => {
    const store = open();
    const { id } = await store.put('a file deleted right after the snapshot');
    const hold = await store.hold('backup');
    await store.delete(id);
    // Gone for the server…
    expect(await store.stat(id)).toBeNull();
    await expect(store.get(id)).rejects.toMatchObject({ kind: 'not-found' });
    expect(await collectIds(store)).toEqual([]);
    // …but not for the backup.
    expect(await text(await hold.get(id))).toBe('a file deleted right after the snapshot');
    await hold.release();
    await expect(hold.get(id)).rejects.toMatchObject({ kind: 'not-found' });
    expect(await readdir(dir)).not.toContain('.held');
  });

  it('holds against another process’s garbage collection, even one that looked at the folder just before', async () => {
    const server = open(); // the server's store, in another process
    const { id } = await server.put('old bytes nothing refers to any more');
    const other = await server.put('another orphan');
    // The collector has just seen "no hold" (its view is cached for a second)…
    await server.delete(other.id);
    const backup = open();
    const hold = await backup.hold('backup');
    // …and runs again at once: the hold began after its look, and hold() waited that look out.
    const result = await collectUnreferencedBlobs({ blobs: server, references: [async () => new Set()], graceMs: 0, settleMs: 0, now: Date.now() + 1000 });
    expect(result.removed).toBe(1);
    expect(await server.stat(id)).toBeNull();
    expect(await text(await hold.get(id))).toBe('old bytes nothing refers to any more');
    await hold.release();
  });

  it('stops holding when its holder died (no renewal for ten minutes), and the next hold cleans up', async () => {
    const store = open();
    const { id } = await store.put('bytes');
    const dead = await store.hold('backup'); // killed with -9: never released, never renewed
    const holds = join(dir, '.holds');
    const [file] = await readdir(holds);
    const old = new Date(Date.now() - HOLD_TTL_MS - 1000);
    await utimes(join(holds, file!), old, old);
    const later = open(); // a fresh look at the folder
    await later.delete(id);
    expect(await dead.get(id).then(text, () => 'destroyed')).toBe('destroyed');
    const next = await later.hold('backup');
    expect(await readdir(holds)).toHaveLength(1);
    await next.release();
    expect(await readdir(holds)).toEqual([]);
  });

  it('stops holding at once when its holder on this machine was killed', async () => {
    const store = open();
    const { id } = await store.put('bytes');
    const dead = await store.hold('backup');
    // The hold file as a process that has since died wrote it.
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => child.once('exit', r));
    const holds = join(dir, '.holds');
    const [file] = await readdir(holds);
    await writeFile(join(holds, file!), `${JSON.stringify({ owner: 'backup', pid: child.pid, host: hostname(), since: new Date().toISOString() })}\n`);
    await open().delete(id);
    expect(await dead.get(id).then(text, () => 'destroyed')).toBe('destroyed');
    await dead.release();
  });

  it('leaves parked blobs alone while another hold is still live', async () => {
    const store = open();
    const { id } = await store.put('shared by two backups');
    const [a, b] = await Promise.all([store.hold('backup-a'), store.hold('backup-b')]);
    await store.delete(id);
    await a.release();
    expect(await text(await b.get(id))).toBe('shared by two backups');
    await b.release();
    await expect(b.get(id)).rejects.toMatchObject({ kind: 'not-found' });
  });
});

async function collectIds(store: FsBlobStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of store.list()) ids.push(e.id);
  return ids;
}
