import { createHash } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { collectUnreferencedBlobs, isPalabreError } from '@palabre/core';
import { blobStoreContract, skipWithout, startSwift, SWIFT_PROGRAMS, type Swift } from '@palabre/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../src/index.js';
import { adminClient, freshStore, makeBucket } from './swift.js';

const MiB = 1024 * 1024;
const BUCKET = 'palabre-test';

/** `count` MiB of bytes that differ from one MiB to the next, made as they are read (never held whole). */
async function* megabytes(count: number, onMiB: (i: number) => Promise<void> | void = () => undefined): AsyncIterable<Buffer> {
  const chunk = Buffer.alloc(MiB);
  for (let i = 0; i < count; i++) {
    await onMiB(i);
    for (let at = 0; at < MiB; at += 4) chunk.writeUInt32LE((i * 2654435761 + at) >>> 0, at);
    yield chunk;
  }
}

/** What megabytes(count) yields, whole (made after any memory measurement). */
function expectedOf(count: number): { id: string; bytes: (start: number, end: number) => Buffer } {
  const chunk = Buffer.alloc(MiB);
  const whole: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    for (let at = 0; at < MiB; at += 4) chunk.writeUInt32LE((i * 2654435761 + at) >>> 0, at);
    whole.push(Buffer.from(chunk));
  }
  const data = Buffer.concat(whole);
  return { id: createHash('sha256').update(data).digest('hex'), bytes: (start, end) => data.subarray(start, end + 1) };
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function sha(stream: AsyncIterable<Uint8Array>): Promise<{ id: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { id: hash.digest('hex'), size };
}

async function keysUnder(client: S3Client, prefix: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key!);
}

describe.skipIf(skipWithout(...SWIFT_PROGRAMS))('S3BlobStore on OpenStack Swift with s3api', () => {
  let swift: Swift;
  let admin: S3Client;
  const stores: S3BlobStore[] = [];
  const store = (extra?: Parameters<typeof freshStore>[2]) => {
    const s = freshStore(swift, BUCKET, extra);
    stores.push(s);
    return s;
  };

  beforeAll(async () => {
    swift = await startSwift();
    admin = adminClient(swift);
    await makeBucket(swift, BUCKET);
  }, 120_000);

  afterAll(async () => {
    for (const s of stores) await s.close();
    admin?.destroy();
    await swift?.close();
  });

  blobStoreContract('S3 (Swift s3api)', {
    make: async () => {
      const subject = store();
      return {
        subject,
        cleanup: async () => undefined,
        // Damage from outside: other bytes written under the same key, as a faulty disk or operator would.
        corrupt: async (id: string) => {
          await admin.send(
            new PutObjectCommand({ Bucket: BUCKET, Key: `${subject.prefix}${id}`, Body: Buffer.from('not what was stored') }),
          );
        },
      };
    },
  });

  it('streams a 64 MiB blob in as a multipart upload with bounded memory, and reads ranges across part boundaries', async () => {
    const s = store();
    const before = process.memoryUsage.rss();
    let peak = before;
    const info = await s.put(
      megabytes(64, () => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }),
    );
    const growth = peak - before;
    // Two 8 MiB parts and the first part's gathered pieces, plus the SDK's own (about 28 MiB here):
    // below the 64 MiB that holding the blob whole would take.
    expect(growth).toBeLessThan(48 * MiB);
    const expected = expectedOf(64);
    expect(info).toEqual({ id: expected.id, size: 64 * MiB });
    expect(await s.stat(info.id)).toEqual(info);
    expect(await sha(await s.get(info.id))).toEqual({ id: info.id, size: 64 * MiB });
    // The first part ends at 8 MiB - 1: a range across it, and one across two boundaries.
    for (const [start, end] of [
      [8 * MiB - 10, 8 * MiB + 9],
      [8 * MiB - 1, 24 * MiB],
      [64 * MiB - 5, 64 * MiB - 1],
    ] as const) {
      expect((await collect(await s.get(info.id, { start, end }))).equals(expected.bytes(start, end))).toBe(true);
    }
    // Only the blob is left: the temp object is deleted, no upload left open.
    expect(await keysUnder(admin, s.prefix)).toEqual([`${s.prefix}${info.id}`]);
    expect(await s.unfinishedUploads()).toBe(0);
  }, 180_000);

  it('copies a large blob part by part (UploadPartCopy) when it is over the single-copy limit', async () => {
    const s = store({ singleCopyMaxBytes: 5 * MiB, copyPartBytes: 5 * MiB });
    const info = await s.put(megabytes(12));
    expect(info).toEqual({ id: expectedOf(12).id, size: 12 * MiB });
    expect(await sha(await s.get(info.id))).toEqual({ id: info.id, size: 12 * MiB });
    expect(await s.unfinishedUploads()).toBe(0);
  }, 120_000);

  it('notices a large blob overwritten behind its back, and refuses a stream whose digest differs without leaving parts', async () => {
    const s = store();
    const info = await s.put(megabytes(10));
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${s.prefix}${info.id}`, Body: Buffer.alloc(10 * MiB, 1) }));
    await expect(s.read(info.id)).rejects.toThrow(/damaged/);
    await expect(sha(await s.get(info.id))).rejects.toThrow(/damaged/);

    const wrong = await s.put(megabytes(10), { expectedId: 'f'.repeat(64) }).catch((e: unknown) => e);
    expect(isPalabreError(wrong, 'invalid')).toBe(true);
    const tooLarge = await s.put(megabytes(20), { maxBytes: 12 * MiB }).catch((e: unknown) => e);
    expect(isPalabreError(tooLarge, 'too-large')).toBe(true);
    expect(await keysUnder(admin, s.prefix)).toEqual([`${s.prefix}${info.id}`]);
    expect(await s.unfinishedUploads()).toBe(0);
  }, 120_000);

  it('fails a put clearly when Swift stops mid-upload, leaves no blob, and sweepTemp removes the orphaned parts', async () => {
    const s = store({ maxAttempts: 2 });
    let stopped = false;
    const error = await s
      .put(
        megabytes(40, async (i) => {
          if (i === 20) {
            await swift.stopProxy();
            stopped = true;
          }
        }),
      )
      .catch((e: unknown) => e);
    expect(stopped).toBe(true);
    expect(isPalabreError(error, 'unavailable')).toBe(true);
    expect((error as Error).message).toMatch(/blob store unreachable/);
    expect((error as Error).message).not.toContain(swift.secretAccessKey);
    await swift.startProxy();
    const listed: string[] = [];
    for await (const entry of s.list()) listed.push(entry.id);
    expect(listed).toEqual([]);
    expect(await s.stat(expectedOf(40).id)).toBeNull();
    // The abort could not reach Swift: the upload is still open until the sweep (a crashed writer's too).
    expect(await s.sweepTemp(60 * 60_000)).toBe(0); // younger than the grace: a live upload is never touched
    expect(await s.sweepTemp(0, Date.now() + 1000)).toBeGreaterThanOrEqual(1);
    expect(await s.unfinishedUploads()).toBe(0);
    expect(await keysUnder(admin, s.prefix)).toEqual([]);
  }, 180_000);

  it('is collected by the garbage collection the features share (core collectUnreferencedBlobs)', async () => {
    const s = store();
    const kept = await s.put('still in a mailbox');
    const gone = await s.put('expunged long ago');
    const large = await s.put(megabytes(9));
    const now = Date.now();
    // Within the grace period nothing goes: the metadata of a blob just written may not be committed yet.
    expect(await collectUnreferencedBlobs({ blobs: s, references: [async () => new Set()], graceMs: 60 * 60_000, now })).toEqual({ examined: 3, trashed: 0, restored: 0, removed: 0, bytes: 0 });
    // Trashed first (a server-side copy aside, then the live key deleted), destroyed once settled.
    const references = [async (ids: readonly string[]) => new Set(ids.filter((id) => id === kept.id))];
    const result = await collectUnreferencedBlobs({ blobs: s, references, graceMs: 60_000, settleMs: 60_000, now: now + 10 * 60_000 });
    expect(result).toEqual({ examined: 3, trashed: 2, restored: 0, removed: 2, bytes: gone.size + large.size });
    expect(await keysUnder(admin, `${s.prefix}.trash/`)).toEqual([]);
    expect(await s.stat(kept.id)).toEqual(kept);
    expect(await s.stat(gone.id)).toBeNull();
    expect(await s.stat(large.id)).toBeNull();
  }, 120_000);

  it('keeps the stores of one bucket apart by prefix (mail never sees drive blobs)', async () => {
    const mail = store();
    const drive = store();
    const a = await mail.put('a message');
    const b = await drive.put('a file');
    const ids = async (s: S3BlobStore) => {
      const out: string[] = [];
      for await (const e of s.list()) out.push(e.id);
      return out;
    };
    expect(await ids(mail)).toEqual([a.id]);
    expect(await ids(drive)).toEqual([b.id]);
    expect(await drive.stat(a.id)).toBeNull();
  });

  it('lists page after page of ListObjectsV2', async () => {
    const s = store({ listPageSize: 10 });
    await Promise.all(Array.from({ length: 25 }, (_, i) => s.put(`blob ${i}`)));
    let count = 0;
    for await (const entry of s.list()) {
      expect(entry.modifiedAt.getTime()).toBeGreaterThan(0);
      count++;
    }
    expect(count).toBe(25);
  }, 180_000);

  it('asks for server-side encryption on every write (SSE-S3 on Swift with keymaster); one the store cannot do is refused clearly', async () => {
    // s3api accepts AES256 only where Swift encrypts at rest, and does not echo the header back: what
    // shows the header is sent is that the one it cannot honour (aws:kms) is refused, small or streamed.
    const s = store({ sse: { algorithm: 'AES256' } });
    const small = await s.put('sealed at rest');
    const large = await s.put(megabytes(9));
    expect((await s.read(small.id)).toString()).toBe('sealed at rest');
    expect(await sha(await s.get(large.id))).toEqual({ id: large.id, size: 9 * MiB });
    const kms = store({ sse: { algorithm: 'aws:kms', kmsKeyId: 'palabre' } });
    for (const source of ['x', megabytes(9)]) {
      const refused = await kms.put(source).catch((e: unknown) => e);
      expect(isPalabreError(refused, 'unavailable')).toBe(true);
      expect((refused as PalabreErrorLike).retryable).toBe(false);
      expect((refused as Error).message).toMatch(/refused/);
    }
    expect(await kms.unfinishedUploads()).toBe(0);
  }, 120_000);

  it('probes the bucket: reachable, missing, wrong credentials', async () => {
    await expect(store().probe()).resolves.toBeUndefined();
    const missing = await freshStore(swift, 'no-such-bucket-here')
      .probe()
      .catch((e: unknown) => e);
    expect(isPalabreError(missing, 'unavailable')).toBe(true);
    expect((missing as Error).message).toMatch(/no-such-bucket-here/);
    const wrong = await freshStore(swift, BUCKET, { secretAccessKey: 'not-the-key', maxAttempts: 1 })
      .probe()
      .catch((e: unknown) => e);
    expect(isPalabreError(wrong, 'unavailable')).toBe(true);
    expect((wrong as Error).message).not.toContain('not-the-key');
  });
});

interface PalabreErrorLike {
  retryable: boolean;
}
