import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isPalabreError } from '@palabre/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../src/index.js';

/**
 * The attacker's side, with no object store needed: ids that try to reach another key, and a
 * bucket or endpoint that would send requests (and credentials) somewhere else, are refused before
 * any request leaves. A real HTTP server listens where the store points and counts what reaches it.
 */
describe('S3BlobStore refuses hostile input before any request', () => {
  let server: Server;
  let requests = 0;
  let status = 500;
  let endpoint = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      req.resume();
      res
        .writeHead(status, { 'content-type': 'application/xml' })
        .end(`<?xml version="1.0"?><Error><Code>${status === 403 ? 'AccessDenied' : 'InternalError'}</Code><Message>m</Message></Error>`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const store = () =>
    new S3BlobStore({
      endpoint,
      bucket: 'palabre',
      region: 'us-east-1',
      accessKeyId: 'k',
      secretAccessKey: 's',
      prefix: 'mail/',
      maxAttempts: 1,
    });

  it('refuses blob ids with path characters, encoded or not, in every call', async () => {
    const s = store();
    const hostile = [
      '../drive/' + 'a'.repeat(55),
      '%2F..%2F' + 'a'.repeat(56),
      `${'a'.repeat(63)}/`,
      `${'a'.repeat(62)}%2F`,
      `${'a'.repeat(63)}\u0000`,
      'A'.repeat(64),
      `${'a'.repeat(64)}?versionId=1`,
      '',
    ];
    for (const id of hostile) {
      for (const call of [() => s.get(id), () => s.get(id, { start: 0, end: 1 }), () => s.read(id), () => s.stat(id), () => s.delete(id)]) {
        const error = await call().catch((e: unknown) => e);
        expect(isPalabreError(error, 'invalid')).toBe(true);
      }
    }
    const bad = await s.get('a'.repeat(64), { start: 10, end: 2 }).catch((e: unknown) => e);
    expect(isPalabreError(bad, 'invalid')).toBe(true);
    expect(requests).toBe(0);
    await s.close();
  });

  it('refuses a bucket, endpoint, region or prefix that is not one', () => {
    const base = { endpoint: 'http://127.0.0.1:9', bucket: 'palabre', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's' };
    for (const [field, value, message] of [
      ['bucket', '../etc', /bucket/],
      ['bucket', 'Palabre', /bucket/],
      ['bucket', 'a', /bucket/],
      ['bucket', 'pal..abre', /bucket/],
      ['bucket', '192.168.1.1', /bucket/],
      ['bucket', 'palabre/mail', /bucket/],
      ['endpoint', 'ftp://store.example', /endpoint/],
      ['endpoint', 'http://user:secret@store.example', /credentials/],
      ['endpoint', 'https://store.example/bucket?x=1', /endpoint/],
      ['endpoint', 'not a url', /endpoint/],
      ['region', 'us east', /region/],
      ['prefix', '../', /prefix/],
      ['prefix', 'mail', /prefix/],
    ] as const) {
      expect(() => new S3BlobStore({ ...base, [field]: value })).toThrow(message);
    }
    expect(requests).toBe(0);
  });

  it('retries a 5xx with back-off up to maxAttempts, then fails as unavailable and retryable; a 403 is not retried', async () => {
    const s = new S3BlobStore({
      endpoint,
      bucket: 'palabre',
      region: 'us-east-1',
      accessKeyId: 'k',
      secretAccessKey: 'the-secret',
      maxAttempts: 3,
    });
    requests = 0;
    status = 503;
    const down = await s.put('bytes').catch((e: unknown) => e);
    expect(isPalabreError(down, 'unavailable')).toBe(true);
    expect((down as { retryable: boolean }).retryable).toBe(true);
    expect(requests).toBe(3);
    requests = 0;
    status = 403;
    const refused = await s.stat('a'.repeat(64)).catch((e: unknown) => e);
    expect(isPalabreError(refused, 'unavailable')).toBe(true);
    expect((refused as { retryable: boolean }).retryable).toBe(false);
    expect((refused as Error).message).toMatch(/refused access to bucket palabre/);
    expect((refused as Error).message).not.toContain('the-secret');
    expect(requests).toBe(1);
    await s.close();
    status = 500;
  });
});
