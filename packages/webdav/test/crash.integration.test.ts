import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCoreStores, createDataSource, createFsBlobStore, sqliteFileIn } from '@palabre/core/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectDriveGarbage } from '../src/index.js';
import { palabre, spawnPalabre } from './harness.js';

const GiB = 1024 ** 3;
const USER = 'crash@ms.gouv.test';
const PASS = 'Kill-Nine-Safe-2026';
const auth = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;

/** Peak resident set (VmHWM) of a process, in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** PUT `total` bytes of a repeating pattern; `onProgress` may kill the server (the upload then resolves 0). */
function upload(origin: string, name: string, total: number, onProgress?: (sent: number) => void): Promise<number> {
  const url = new URL(origin);
  const piece = Buffer.alloc(1024 * 1024, 'palabre ');
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'PUT', path: `/dav/files/${USER}/${name}`, headers: { authorization: auth, 'content-length': total } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', () => resolve(0));
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += piece.length;
        onProgress?.(sent);
        if (req.destroyed) return;
        if (!req.write(piece)) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

const stop = async (child: import('node:child_process').ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
};

describe('palabre serve: a 1 GiB upload, and kill -9 in the middle of one', () => {
  let data: string;
  beforeAll(async () => {
    data = await mkdtemp(join(tmpdir(), 'palabre-crash-'));
    await palabre(data, 'domain', 'add', 'ms.gouv.test');
    await palabre(data, 'user', 'add', USER, '--password', PASS);
  });
  afterAll(async () => rm(data, { recursive: true, force: true }));

  it('uploads 1 GiB in under 150 MiB of peak RSS', async () => {
    const server = await spawnPalabre(data);
    try {
      expect(await upload(server.origin, 'whole.bin', GiB)).toBe(201);
      const peak = await peakRss(server.child.pid!);
      console.log(`peak RSS of palabre serve through a 1 GiB upload: ${(peak / 1024 ** 2).toFixed(1)} MiB`);
      expect(peak).toBeLessThan(150 * 1024 ** 2);
      const head = await fetch(`${server.origin}/dav/files/${USER}/whole.bin`, { method: 'HEAD', headers: { authorization: auth } });
      expect(head.headers.get('content-length')).toBe(String(GiB));
    } finally {
      await stop(server.child);
    }
  });

  it('leaves no partial file and no metadata after kill -9, and its garbage is collected', async () => {
    const server = await spawnPalabre(data);
    let killed = false;
    const status = await upload(server.origin, 'interrupted.bin', GiB, (sent) => {
      if (!killed && sent >= 300 * 1024 ** 2) {
        killed = true;
        server.child.kill('SIGKILL');
      }
    });
    expect(killed).toBe(true);
    expect(status).toBe(0);
    if (server.child.exitCode === null && server.child.signalCode === null) await new Promise((resolve) => server.child.once('exit', resolve));
    const blobDir = join(data, 'blobs', 'drive');
    expect((await readdir(join(blobDir, '.tmp'))).length).toBeGreaterThan(0);
    // Bytes made durable by a writer that died before its metadata committed are garbage too.
    const blobs = createFsBlobStore(blobDir);
    const orphan = await blobs.put('bytes nobody references');

    const again = await spawnPalabre(data);
    try {
      expect((await fetch(`${again.origin}/dav/files/${USER}/interrupted.bin`, { headers: { authorization: auth } })).status).toBe(404);
      const listing = await (await fetch(`${again.origin}/dav/files/${USER}/`, { method: 'PROPFIND', headers: { authorization: auth, depth: '1' } })).text();
      expect(listing).not.toContain('interrupted.bin');
      expect(listing).toContain('whole.bin');
    } finally {
      await stop(again.child);
    }
    const db = await createDataSource({ sqlite: { file: sqliteFileIn(data) } });
    try {
      const stores = createCoreStores(db);
      const space = (await stores.drive.findSpace(USER))!;
      const tree = await stores.drive.descendants(space.rootId, 100);
      expect(tree !== 'too-many' && tree.map((e) => e.path.join('/'))).toEqual(['whole.bin']);
      // The server's hourly collection, run as it would an hour later: temp files and the orphan go.
      const gc = await collectDriveGarbage({ store: stores.drive, blobs, now: new Date(Date.now() + 2 * 3600_000) });
      expect(gc.tempFiles).toBeGreaterThanOrEqual(1);
      expect(gc.removed).toBe(1);
      expect(await readdir(join(blobDir, '.tmp'))).toEqual([]);
      expect(await blobs.stat(orphan.id)).toBeNull();
    } finally {
      await db.close();
    }
    // The complete upload survived the crash and the collection, byte for byte.
    const last = await spawnPalabre(data);
    try {
      const whole = await fetch(`${last.origin}/dav/files/${USER}/whole.bin`, { headers: { authorization: auth } });
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of whole.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.length;
      }
      expect(size).toBe(GiB);
      const expected = createHash('sha256');
      const piece = Buffer.alloc(1024 * 1024, 'palabre ');
      for (let i = 0; i < 1024; i++) expected.update(piece);
      expect(hash.digest('hex')).toBe(expected.digest('hex'));
    } finally {
      await stop(last.child);
    }
  }, 240_000);
});
