import { describe, expect, it } from 'vitest';
import { cachingResolver } from './dns-resolver.js';

describe('cachingResolver', () => {
  it('caches answers and "no such name", shares concurrent lookups, and forgets after the TTL', async () => {
    let now = 0;
    let calls = 0;
    const resolve = cachingResolver({
      ttlMs: 1000,
      negativeTtlMs: 500,
      now: () => now,
      resolve: async (name) => {
        calls++;
        if (name === 'missing.example') throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
        if (name === 'flaky.example') throw Object.assign(new Error('servfail'), { code: 'ESERVFAIL' });
        return [['v=spf1 -all']];
      },
    });
    await Promise.all([resolve('a.example', 'TXT'), resolve('A.example', 'TXT')]);
    expect(calls).toBe(1);
    await resolve('a.example', 'TXT');
    expect(calls).toBe(1);
    now = 1001;
    await resolve('a.example', 'TXT');
    expect(calls).toBe(2);
    await expect(resolve('missing.example', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolve('missing.example', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(calls).toBe(3);
    // A server failure is not remembered: the next message asks again.
    await expect(resolve('flaky.example', 'TXT')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    await expect(resolve('flaky.example', 'TXT')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    expect(calls).toBe(5);
  });

  it('gives up on a lookup that hangs', async () => {
    const resolve = cachingResolver({ timeoutMs: 20, resolve: () => new Promise(() => undefined) });
    await expect(resolve('slow.example', 'MX')).rejects.toMatchObject({ code: 'ETIMEOUT' });
  });
});
