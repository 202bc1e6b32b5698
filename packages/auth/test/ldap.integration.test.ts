import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAuditLog, MemoryDirectoryStore, MemoryThrottleStore, skipWithout } from '@palabre/core/testing';
import { createAuthenticator, escapeDnValue, escapeFilterValue, LdapPasswordSource } from '../src/index.js';
import { startSlapd, type Slapd } from './slapd.js';

const secure = { protocol: 'imap' as const, ip: '192.0.2.10', secure: true };

describe.skipIf(skipWithout('slapd', 'slapadd', 'slappasswd'))('LDAP bind against a real slapd', () => {
  let slapd: Slapd;

  beforeAll(async () => {
    slapd = await startSlapd([
      { uid: 'awa', mail: 'awa@sante.gouv.tg', password: 'correct horse battery' },
      { uid: 'kofi', mail: 'kofi@sante.gouv.tg', password: 'another long secret' },
      { uid: 'evil*', mail: 'evil*@sante.gouv.tg', password: 'star password' },
    ]);
  }, 30_000);
  afterAll(async () => slapd?.stop());

  /** Find the user by mail as the service account, as a ministry directory would be set up. */
  const serviceSearch = () => ({
    url: slapd.url,
    bindDn: slapd.adminDn,
    bindPassword: slapd.adminPassword,
    searchBase: `ou=people,${slapd.suffix}`,
    searchFilter: '(mail={address})',
    startTls: false,
    timeoutMs: 3000,
    tlsInsecure: false,
  });

  it('binds as the user found by a service-account search', async () => {
    const source = new LdapPasswordSource(serviceSearch());
    expect(await source.verify('awa@sante.gouv.tg', 'correct horse battery')).toBe('ok');
    expect(await source.verify('awa@sante.gouv.tg', 'wrong')).toBe('invalid');
    expect(await source.verify('nobody@sante.gouv.tg', 'correct horse battery')).toBe('invalid');
    // An empty password would be an "unauthenticated bind" that many servers accept: refused first.
    expect(await source.verify('awa@sante.gouv.tg', '')).toBe('invalid');
    // Filter injection: a wildcard in the address must not match someone else.
    expect(await source.verify('*@sante.gouv.tg', 'correct horse battery')).toBe('invalid');
    expect(await source.verify('aw*', 'correct horse battery')).toBe('invalid');
  });

  it('binds straight to a DN template, with DN escaping', async () => {
    const source = new LdapPasswordSource({
      url: slapd.url,
      searchBase: slapd.suffix,
      searchFilter: '(mail={address})',
      userDnTemplate: `uid={local},ou=people,${slapd.suffix}`,
      startTls: false,
      timeoutMs: 3000,
      tlsInsecure: false,
    });
    expect(await source.verify('kofi@sante.gouv.tg', 'another long secret')).toBe('ok');
    expect(await source.verify('kofi@sante.gouv.tg', 'nope')).toBe('invalid');
    expect(await source.verify('kofi,ou=people@sante.gouv.tg', 'another long secret')).toBe('invalid');
  });

  it('reports an unreachable directory as unavailable, not as a wrong password', async () => {
    const source = new LdapPasswordSource({
      url: 'ldap://127.0.0.1:9',
      searchBase: slapd.suffix,
      searchFilter: '(mail={address})',
      startTls: false,
      timeoutMs: 1000,
      tlsInsecure: false,
    });
    expect(await source.verify('awa@sante.gouv.tg', 'correct horse battery')).toBe('unavailable');
  });

  it('is used by the authenticator for domains configured with it', async () => {
    const directory = new MemoryDirectoryStore();
    await directory.createDomain({ name: 'sante.gouv.tg' });
    await directory.createAccount({ address: 'awa@sante.gouv.tg' });
    const audit = new MemoryAuditLog();
    const auth = createAuthenticator({
      directory,
      audit,
      throttle: new MemoryThrottleStore(),
      ldap: { 'sante.gouv.tg': serviceSearch() },
    });
    const ok = await auth.verifyPassword('awa@sante.gouv.tg', 'correct horse battery', secure);
    expect(ok).toMatchObject({ ok: true, method: 'ldap' });
    expect(await auth.verifyPassword('awa@sante.gouv.tg', 'wrong', secure)).toMatchObject({ ok: false, reason: 'invalid-credentials' });
    expect((await audit.list()).map((e) => e.type)).toEqual(['auth.failure', 'auth.success']);
  });
});

describe('LDAP escaping', () => {
  it('escapes filter and DN values per RFC 4515 and RFC 4514', () => {
    expect(escapeFilterValue('a*b(c)d\\e\u0000')).toBe('a\\2ab\\28c\\29d\\5ce\\00');
    expect(escapeDnValue('a,b+c"d\\e<f>g;h=i')).toBe('a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i');
    expect(escapeDnValue('#x ')).toBe('\\#x\\ ');
  });
});
