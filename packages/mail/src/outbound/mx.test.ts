import { describe, expect, it } from 'vitest';
import { nextAttemptAt, RETRY_SCHEDULE_MS } from './backoff.js';
import { lookupMx } from './mx.js';

const dns = (records: Record<string, unknown[] | string>) => async (name: string, type: string) => {
  const r = records[`${type}:${name}`];
  if (typeof r === 'string') throw Object.assign(new Error(r), { code: r });
  if (!r) throw Object.assign(new Error('nodata'), { code: 'ENODATA' });
  return r as any[];
};

describe('lookupMx', () => {
  it('orders MX hosts by preference', async () => {
    const answer = await lookupMx('example.org', dns({ 'MX:example.org': [{ exchange: 'b.mx.example.org', priority: 20 }, { exchange: 'A.mx.example.org.', priority: 10 }] }));
    expect(answer).toEqual({ kind: 'hosts', hosts: [{ host: 'a.mx.example.org', priority: 10 }, { host: 'b.mx.example.org', priority: 20 }] });
  });

  it('treats a null MX as "never" (RFC 7505) and a missing domain likewise', async () => {
    expect((await lookupMx('example.org', dns({ 'MX:example.org': [{ exchange: '', priority: 0 }] }))).kind).toBe('none');
    expect((await lookupMx('gone.example', dns({ 'MX:gone.example': 'ENOTFOUND' }))).kind).toBe('none');
  });

  it('falls back to the address records (implicit MX), and defers on DNS trouble', async () => {
    expect(await lookupMx('small.example', dns({ 'A:small.example': ['192.0.2.7'] }))).toEqual({ kind: 'hosts', hosts: [{ host: 'small.example', priority: 0 }] });
    expect((await lookupMx('nothing.example', dns({}))).kind).toBe('none');
    expect((await lookupMx('broken.example', dns({ 'MX:broken.example': 'ESERVFAIL' }))).kind).toBe('temporary');
  });
});

describe('nextAttemptAt', () => {
  it('backs off along the schedule with bounded jitter, then stays at the longest step', () => {
    const now = new Date('2026-03-01T00:00:00Z');
    for (let attempts = 0; attempts < 12; attempts++) {
      const base = RETRY_SCHEDULE_MS[Math.min(attempts, RETRY_SCHEDULE_MS.length - 1)]!;
      for (const r of [0, 0.5, 1]) {
        const wait = nextAttemptAt(now, attempts, () => r).getTime() - now.getTime();
        expect(wait).toBeGreaterThanOrEqual(base * 0.9);
        expect(wait).toBeLessThanOrEqual(base * 1.1);
      }
    }
  });
});
