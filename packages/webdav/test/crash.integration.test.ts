import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsBlobStore } from '@palabre/core/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, PASSWORDS, spawnServer } from './harness.js';

const GiB = 1024 ** 3;
const auth = `Basic ${Buffer.from(`${ALICE}:${PASSWORDS[ALICE]}`).toString('base64')}`;

/** Peak resident set (VmHWM) of a process, in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/**
 * PUT `total` bytes of a repeating pattern; `onProgress` sees the bytes sent so far and may stop the upload
 * (resolving with status 0) by killing the server.
 */
function upload(origin: string, name: string, total: number, onProgress?: (sent: number) => void): Promise<number> {
  const url = new URL(origin);
  const piece = Buffer.alloc(1024 * 1024, 'palabre ');
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'PUT', path: `/dav/files/${ALICE}/${name}`, headers: { authorization: auth, 'content-length': total } },
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

describe('crash safety and memory of a 1 GiB upload', () => {
  let data: string;
  beforeAll(async () => {
    data = await mkdtemp(join(tmpdir(), 'palabre-crash-'));
  });
  afterAll(async () => rm(data, { recursive: true, force: true }));

  it('uploads 1 GiB in under 150 MiB of peak RSS', async () => {
    const server = await spawnServer(data);
    try {
      const status = await upload(server.origin, 'whole.bin', GiB);
      expect(status).toBe(201);
      const peak = await peakRss(server.child.pid!);
      console.log(`peak RSS of the server during a 1 GiB upload: ${(peak / 1024 ** 2).toFixed(1)} MiB`);
      expect(peak).toBeLessThan(150 * 1024 ** 2);
      const head = await fetch(`${server.origin}/dav/files/${ALICE}/whole.bin`, { method: 'HEAD', headers: { authorization: auth } });
      expect(head.headers.get('content-length')).toBe(String(GiB));
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
    }
  });

  it('kill -9 during a 1 GiB PUT leaves no partial file, no metadata, and the garbage is collected', async () => {
    const server = await spawnServer(data);
    let killed = false;
    const status = await upload(server.origin, 'interrupted.bin', GiB, (sent) => {
      if (!killed && sent >= 300 * 1024 ** 2) {
        killed = true;
        server.child.kill('SIGKILL');
      }
    });
    expect(killed).toBe(true);
    expect(status).toBe(0);
    await new Promise((resolve) => (server.child.exitCode !== null || server.child.signalCode !== null ? resolve(null) : server.child.once('exit', resolve)));
    const tmp = join(data, 'drive-blobs', '.tmp');
    expect((await readdir(tmp)).length).toBeGreaterThan(0);

    // A blob made durable by a writer that died before its metadata committed: garbage too.
    const blobs = createFsBlobStore(join(data, 'drive-blobs'));
    const orphan = await blobs.put('bytes nobody references');

    const again = await spawnServer(data);
    try {
      const gc = JSON.parse(/gc (\{.*\})/.exec(again.output())![1]!);
      expect(gc.tempFiles).toBeGreaterThanOrEqual(1);
      expect(gc.removed).toBe(1);
      expect(await readdir(tmp)).toEqual([]);
      expect(await blobs.stat(orphan.id)).toBeNull();
      const gone = await fetch(`${again.origin}/dav/files/${ALICE}/interrupted.bin`, { headers: { authorization: auth } });
      expect(gone.status).toBe(404);
      const listing = await (
        await fetch(`${again.origin}/dav/files/${ALICE}/`, { method: 'PROPFIND', headers: { authorization: auth, depth: '1' } })
      ).text();
      expect(listing).not.toContain('interrupted.bin');
      expect(listing).toContain('whole.bin');
      // The complete upload survived both the crash and the collection, byte for byte.
      const whole = await fetch(`${again.origin}/dav/files/${ALICE}/whole.bin`, { headers: { authorization: auth } });
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
      again.child.kill('SIGTERM');
      await new Promise((resolve) => again.child.once('exit', resolve));
    }
  }, 180_000);
});
