import { describe, expect, it } from 'vitest';
import type { AuthResult, Authenticator } from '@palabre/core';
import { createHttpAuthenticator, parseBasic, parseBearer } from './http.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('HTTP Basic and Bearer parsing', () => {
  it('parses Basic per RFC 7617, UTF-8 and colons in passwords included', () => {
    expect(parseBasic(`Basic ${b64('awa@sante.gouv.tg:pa:ss word')}`)).toEqual({ username: 'awa@sante.gouv.tg', password: 'pa:ss word' });
    expect(parseBasic(`basic ${b64('élodie@éducation.tg:mot-de-passe-é')}`)).toEqual({ username: 'élodie@éducation.tg', password: 'mot-de-passe-é' });
  });

  it('refuses malformed Basic credentials', () => {
    for (const bad of ['Basic', 'Basic !!!!', `Basic ${b64('nocolon')}`, `Basic ${b64(':nouser')}`, `Digest ${b64('a:b')}`, `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x61]).toString('base64')}`]) {
      expect(parseBasic(bad)).toBeNull();
    }
  });

  it('parses Bearer per RFC 6750', () => {
    expect(parseBearer('Bearer plb_abc-DEF_123')).toBe('plb_abc-DEF_123');
    expect(parseBearer('Bearer two words')).toBeNull();
  });
});

describe('createHttpAuthenticator', () => {
  const calls: string[] = [];
  const fake = (result: AuthResult): Authenticator => ({
    verifyPassword: async (u, p, c) => {
      calls.push(`pw ${u} ${c.mechanism} ${c.protocol}`);
      return result;
    },
    verifyBearer: async (t, c) => {
      calls.push(`bearer ${t} ${c.mechanism}`);
      return result;
    },
  });
  const principal = { accountId: 'id', address: 'a@b.tg', displayName: 'A', domainId: 'd' };
  const req = (authorization?: string) => ({ authorization, ip: '192.0.2.1', secure: true });

  it('maps outcomes to HTTP statuses', async () => {
    expect(await createHttpAuthenticator(fake({ ok: true, principal, method: 'password' })).authenticate(req(`Basic ${b64('a@b.tg:x')}`))).toEqual({ ok: true, principal });
    expect(await createHttpAuthenticator(fake({ ok: false, reason: 'invalid-credentials' })).authenticate(req(`Basic ${b64('a@b.tg:x')}`))).toMatchObject({ status: 401 });
    expect(await createHttpAuthenticator(fake({ ok: false, reason: 'throttled', retryAfterMs: 4000 })).authenticate(req(`Basic ${b64('a@b.tg:x')}`))).toMatchObject({ status: 429, retryAfterMs: 4000 });
    expect(await createHttpAuthenticator(fake({ ok: false, reason: 'insecure-channel' })).authenticate(req(`Basic ${b64('a@b.tg:x')}`))).toMatchObject({ status: 403 });
    expect(await createHttpAuthenticator(fake({ ok: false, reason: 'unavailable' })).authenticate(req(`Basic ${b64('a@b.tg:x')}`))).toMatchObject({ status: 503 });
    expect(await createHttpAuthenticator(fake({ ok: false, reason: 'account-suspended' })).authenticate(req(`Basic ${b64('a@b.tg:x')}`))).toMatchObject({ status: 401 });
  });

  it('asks for credentials when none or garbage are sent, without calling the authenticator', async () => {
    calls.length = 0;
    const http = createHttpAuthenticator(fake({ ok: true, principal, method: 'password' }));
    expect(await http.authenticate(req())).toMatchObject({ ok: false, status: 401, reason: 'missing' });
    expect(await http.authenticate(req('Negotiate abc'))).toMatchObject({ ok: false, status: 401 });
    expect(await http.authenticate(req(`Basic ${'A'.repeat(100_000)}`))).toMatchObject({ ok: false, status: 401 });
    expect(calls).toEqual([]);
    expect(http.challenges()).toEqual(['Basic realm="Palabre", charset="UTF-8"', 'Bearer realm="Palabre"']);
  });

  it('routes Bearer tokens to verifyBearer', async () => {
    calls.length = 0;
    await createHttpAuthenticator(fake({ ok: true, principal, method: 'token' })).authenticate(req('Bearer plb_x'));
    expect(calls).toEqual(['bearer plb_x Bearer']);
  });
});
