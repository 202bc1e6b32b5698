import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditLog, DirectoryStore, ThrottleStore } from '@palabre/core';
import { createCoreStores } from '@palabre/core/storage';
import {
  MemoryAuditLog,
  MemoryDirectoryStore,
  MemoryThrottleStore,
  manualClock,
  memoryLogger,
  memoryMetrics,
  testBackends,
  type ManualClock,
  type MemoryLogger,
} from '@palabre/core/testing';
import { createAuthenticator, createCredentialService, hashPassword, type PalabreAuthenticator, type ThrottlePolicy } from './index.js';

const PASSWORD = 'Correct horse battery staple';
const weak = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

interface Fixture {
  directory: DirectoryStore;
  audit: AuditLog;
  throttle: ThrottleStore;
  cleanup: () => Promise<void>;
}

const fixtures: [string, () => Promise<Fixture>][] = [
  ['memory', async () => ({ directory: new MemoryDirectoryStore(), audit: new MemoryAuditLog(), throttle: new MemoryThrottleStore(), cleanup: async () => {} })],
  ...(await testBackends()).map((b): [string, () => Promise<Fixture>] => [
    b.name,
    async () => {
      const { db, cleanup } = await b.open();
      const stores = createCoreStores(db);
      return { directory: stores.directory, audit: stores.audit, throttle: stores.throttle, cleanup };
    },
  ]),
];

describe.each(fixtures)('authenticator on %s', (_name, make) => {
  let f: Fixture;
  let clock: ManualClock;
  let log: MemoryLogger;
  let auth: PalabreAuthenticator;
  let accountId: string;
  const ctx = { protocol: 'imap' as const, ip: '192.0.2.1', secure: true, mechanism: 'PLAIN' };

  beforeEach(async () => {
    f = await make();
    clock = manualClock('2026-06-01T08:00:00Z');
    log = memoryLogger();
    await f.directory.createDomain({ name: 'sante.gouv.tg' });
    await f.directory.addDomainAlias('sante.gouv.tg', 'ms.gouv.tg');
    const account = await f.directory.createAccount({ address: 'awa@sante.gouv.tg', passwordHash: await hashPassword(PASSWORD, weak) });
    accountId = account.id;
    auth = createAuthenticator({ directory: f.directory, audit: f.audit, throttle: f.throttle, clock, logger: log, argon2: weak });
  });
  afterEach(async () => f.cleanup());

  const types = async () => (await f.audit.list({ limit: 1000 })).map((e) => e.type).reverse();
  /** Another node (or this one restarted) on the same stores, with its own throttling policy. */
  const withPolicy = (throttlePolicy: Partial<ThrottlePolicy>, metrics = memoryMetrics()) =>
    createAuthenticator({ directory: f.directory, audit: f.audit, throttle: f.throttle, clock, argon2: weak, throttlePolicy, metrics });

  it('accepts the right password (any case, domain alias), records the login and audits it', async () => {
    const r = await auth.verifyPassword('AWA@ms.gouv.tg', PASSWORD, ctx);
    expect(r).toMatchObject({ ok: true, method: 'password', principal: { accountId, address: 'awa@sante.gouv.tg' } });
    expect((await f.directory.getAccount(accountId)).lastLoginAt?.toISOString()).toBe('2026-06-01T08:00:00.000Z');
    const [event] = await f.audit.list();
    expect(event).toMatchObject({ type: 'auth.success', actor: 'awa@sante.gouv.tg', ip: '192.0.2.1', protocol: 'imap' });
  });

  it('writes a success down once per address and protocol within the cache period, not per request', async () => {
    for (let i = 0; i < 5; i++) expect((await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, protocol: 'dav' })).ok).toBe(true);
    expect(await types()).toEqual(['auth.success']);
    await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, protocol: 'dav', ip: '198.51.100.7' });
    await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, protocol: 'imap' });
    expect(await types()).toEqual(['auth.success', 'auth.success', 'auth.success']);
    clock.advance(6 * 60_000);
    await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, protocol: 'dav' });
    expect(await types()).toHaveLength(4);
    // Failures are always recorded.
    await auth.verifyPassword('awa@sante.gouv.tg', 'wrong guess', { ...ctx, protocol: 'dav' });
    await auth.verifyPassword('awa@sante.gouv.tg', 'wrong guess', { ...ctx, protocol: 'dav' });
    expect((await types()).filter((t) => t === 'auth.failure')).toHaveLength(2);
  });

  it('reuses a decision for 30 s without touching the database, then checks again (suspension bites)', async () => {
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx)).toMatchObject({ ok: true });
    await f.directory.updateAccount(accountId, { status: 'suspended' });
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx)).toMatchObject({ ok: true });
    clock.advance(30_001);
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx)).toEqual({ ok: false, reason: 'account-suspended' });
    // A different password never hits the cached decision.
    await f.directory.updateAccount(accountId, { status: 'active' });
    expect(await auth.verifyPassword('awa@sante.gouv.tg', `${PASSWORD}!`, ctx)).toMatchObject({ ok: false });
    // Nor does an insecure channel.
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, secure: false })).toMatchObject({ ok: false, reason: 'insecure-channel' });
  });

  it('refuses a wrong password and an unknown user identically', async () => {
    const wrong = await auth.verifyPassword('awa@sante.gouv.tg', 'not the password', ctx);
    const unknown = await auth.verifyPassword('nobody@sante.gouv.tg', PASSWORD, ctx);
    expect(wrong).toEqual({ ok: false, reason: 'invalid-credentials' });
    expect(unknown).toEqual({ ok: false, reason: 'invalid-credentials' });
    expect(await types()).toEqual(['auth.failure', 'auth.failure']);
  });

  it('refuses passwords over an insecure channel without checking them', async () => {
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, secure: false })).toEqual({ ok: false, reason: 'insecure-channel' });
    const [event] = await f.audit.list();
    expect(event?.detail).toContain('insecure-channel');
  });

  it('refuses empty, oversized and malformed input quickly and safely', async () => {
    for (const [user, pass] of [
      ['awa@sante.gouv.tg', ''],
      ['', PASSWORD],
      ['awa@sante.gouv.tg', 'x'.repeat(1_000_000)],
      ['x'.repeat(1_000_000), PASSWORD],
      ['awa@sante.gouv.tg\u0000', PASSWORD],
      [42 as unknown as string, PASSWORD],
    ] as [string, string][]) {
      const started = Date.now();
      expect((await auth.verifyPassword(user, pass, ctx)).ok).toBe(false);
      expect(Date.now() - started).toBeLessThan(5000);
    }
    const events = await f.audit.list({ limit: 100 });
    expect(events.every((e) => (e.actor ?? '').length <= 320)).toBe(true);
  });

  it('tells a suspended account apart only once the password is right', async () => {
    await f.directory.updateAccount(accountId, { status: 'suspended' });
    expect(await auth.verifyPassword('awa@sante.gouv.tg', 'wrong one', ctx)).toEqual({ ok: false, reason: 'invalid-credentials' });
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx)).toEqual({ ok: false, reason: 'account-suspended' });
  });

  it('backs off exponentially per account and address, then locks, and unlocks after the lockout', async () => {
    const metrics = memoryMetrics();
    auth = withPolicy({ accountFreeFailures: 3, accountLockoutFailures: 6, lockoutMs: 600_000, baseDelayMs: 1000, ipFreeFailures: 1000, ipBlockFailures: 1000 }, metrics);
    for (let i = 0; i < 3; i++) expect((await auth.verifyPassword('awa@sante.gouv.tg', 'guess', ctx)).ok).toBe(false);
    // 4th attempt straight away: must wait 1 s; even the right password is not checked.
    const throttled = await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx);
    expect(throttled).toMatchObject({ ok: false, reason: 'throttled' });
    expect((throttled as { retryAfterMs: number }).retryAfterMs).toBe(1000);
    clock.advance(1000);
    expect(await auth.verifyPassword('awa@sante.gouv.tg', 'guess', ctx)).toMatchObject({ reason: 'invalid-credentials' });
    const second = await auth.verifyPassword('awa@sante.gouv.tg', 'guess', ctx);
    expect((second as { retryAfterMs: number }).retryAfterMs).toBe(2000);
    clock.advance(2000);
    await auth.verifyPassword('awa@sante.gouv.tg', 'guess', ctx);
    clock.advance(4000);
    await auth.verifyPassword('awa@sante.gouv.tg', 'guess', ctx); // 6th failure: locked
    expect(await types()).toContain('auth.locked');
    // Measured as it is audited: 6 wrong passwords, 2 throttled attempts, one lockout, by protocol.
    expect(metrics.value('palabre_auth_failures_total', { protocol: 'imap', reason: 'invalid-credentials' })).toBe(6);
    expect(metrics.value('palabre_auth_failures_total', { protocol: 'imap', reason: 'throttled' })).toBe(2);
    expect(metrics.value('palabre_auth_lockouts_total', { protocol: 'imap' })).toBe(1);
    clock.advance(60_000);
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx)).toMatchObject({ ok: false, reason: 'throttled' });
    clock.advance(600_000);
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx)).toMatchObject({ ok: true });
    // Success resets this address's counter for the account.
    expect(await auth.verifyPassword('awa@sante.gouv.tg', 'guess', ctx)).toMatchObject({ reason: 'invalid-credentials' });
  });

  it('guessing from many addresses locks the devices the account never used, not its known ones, across restarts and nodes', async () => {
    const policy = { accountFreeFailures: 3, accountLockoutFailures: 6, lockoutMs: 600_000, baseDelayMs: 1000 };
    const node = () => withPolicy(policy);
    const service = createCredentialService({ directory: f.directory, audit: f.audit, argon2: weak });
    const phone = await service.issueAppPassword(accountId, 'phone');
    expect(await node().verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, ip: '2001:db8:aa:1::10' })).toMatchObject({ ok: true });
    // Six addresses, one guess each: no address reaches its own allowance, the account does.
    for (let i = 0; i < 6; i++) {
      clock.advance(60_000);
      expect(await node().verifyPassword('awa@sante.gouv.tg', 'guess', { ...ctx, ip: `198.51.100.${i}` })).toMatchObject({ reason: 'invalid-credentials' });
    }
    expect(await types()).toContain('auth.locked');
    // Another node, or this one after a restart: the right password from a new address is not checked…
    const other = node();
    expect(await other.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, ip: '203.0.113.9' })).toMatchObject({ ok: false, reason: 'throttled' });
    // …but the desk (same IPv6 /64, the interface identifier changed) and the app password pass.
    expect(await other.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, ip: '2001:db8:aa:1:5c3e:1ff:fe22:9' })).toMatchObject({ ok: true });
    expect(await other.verifyPassword('awa@sante.gouv.tg', phone.secret, { ...ctx, ip: '203.0.113.10' })).toMatchObject({ ok: true, method: 'app-password' });
    // A guessed "app password" gets no such pass.
    expect(await other.verifyPassword('awa@sante.gouv.tg', 'abcd-efgh-ijkl-mnop-qrst', { ...ctx, ip: '203.0.113.11' })).toMatchObject({ reason: 'throttled' });
    // The owner signing in does not reset the guessers' account-wide count.
    expect(await other.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, ip: '203.0.113.12' })).toMatchObject({ reason: 'throttled' });
  });

  it('counts an unknown name, in any spelling, exactly like an existing one', async () => {
    auth = withPolicy({ accountFreeFailures: 2, accountLockoutFailures: 4, lockoutMs: 600_000, ipFreeFailures: 1000, ipBlockFailures: 1000 });
    const run = async (spellings: string[], ip: string) => {
      const out: string[] = [];
      for (const name of spellings) {
        out.push(JSON.stringify(await auth.verifyPassword(name, 'wrong password', { ...ctx, ip })));
        clock.advance(2500);
      }
      return out;
    };
    const existing = await run(['awa@sante.gouv.tg', 'AWA@ms.gouv.tg', ' Awa@Sante.Gouv.Tg. ', 'awa@sante.gouv.tg', 'awa@ms.gouv.tg', 'awa@sante.gouv.tg'], '192.0.2.50');
    clock.advance(2 * 3600_000);
    const unknown = await run(['ama@sante.gouv.tg', 'AMA@ms.gouv.tg', ' Ama@Sante.Gouv.Tg. ', 'ama@sante.gouv.tg', 'ama@ms.gouv.tg', 'ama@sante.gouv.tg'], '192.0.2.51');
    expect(existing.filter((r) => r.includes('throttled')).length).toBeGreaterThan(0);
    expect(unknown).toEqual(existing);
    // The audit trail tells the administrator the same story for both, the lock included.
    const audit = (await f.audit.list({ limit: 100 })).reverse();
    const story = (ip: string) => audit.filter((e) => e.ip === ip).map((e) => `${e.type} ${e.detail}`);
    expect(story('192.0.2.51')).toEqual(story('192.0.2.50'));
    expect(story('192.0.2.50')).toContain('auth.locked locked for 10 min (PLAIN)');
  });

  it('blocks a client address that sprays many accounts', async () => {
    auth = withPolicy({ ipFreeFailures: 5, ipBlockFailures: 8, lockoutMs: 60_000, accountFreeFailures: 100, accountLockoutFailures: 1000 });
    for (let i = 0; i < 5; i++) await auth.verifyPassword(`user${i}@sante.gouv.tg`, 'Password123!', ctx);
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx)).toMatchObject({ reason: 'throttled' });
    // Another address is not affected.
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, { ...ctx, ip: '198.51.100.9' })).toMatchObject({ ok: true });
  });

  it('accepts app passwords (dashes and case optional), touches them, forgets revoked ones', async () => {
    const service = createCredentialService({ directory: f.directory, audit: f.audit, argon2: weak });
    const issued = await service.issueAppPassword(accountId, 'iPhone');
    expect(issued.secret).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){4}$/);
    expect(await auth.verifyPassword('awa@sante.gouv.tg', issued.secret, ctx)).toMatchObject({ ok: true, method: 'app-password' });
    expect(await auth.verifyPassword('awa@sante.gouv.tg', issued.secret.replace(/-/g, '').toUpperCase(), ctx)).toMatchObject({ ok: true });
    expect((await f.directory.listCredentials(accountId))[0]!.lastUsedAt).not.toBeNull();
    // Another user's app password does not open this account.
    const other = await f.directory.createAccount({ address: 'kofi@sante.gouv.tg' });
    const foreign = await service.issueAppPassword(other.id, 'laptop');
    expect(await auth.verifyPassword('awa@sante.gouv.tg', foreign.secret, ctx)).toMatchObject({ ok: false });
    await service.revoke(accountId, 'iPhone');
    // Devices already signed in keep their decision for at most 30 s; then the revocation bites.
    expect(await auth.verifyPassword('awa@sante.gouv.tg', issued.secret, ctx)).toMatchObject({ ok: true });
    clock.advance(30_001);
    expect(await auth.verifyPassword('awa@sante.gouv.tg', issued.secret, ctx)).toMatchObject({ ok: false, reason: 'invalid-credentials' });
    expect(await types()).toEqual(expect.arrayContaining(['credential.created', 'credential.revoked']));
  });

  it('accepts bearer tokens until revoked or expired', async () => {
    const service = createCredentialService({ directory: f.directory, audit: f.audit, argon2: weak });
    const token = await service.issueToken(accountId, 'sync', new Date('2026-06-02T00:00:00Z'));
    expect(token.secret).toMatch(/^plb_/);
    expect(await auth.verifyBearer(token.secret, { ...ctx, protocol: 'dav' })).toMatchObject({ ok: true, method: 'token' });
    expect(await auth.verifyBearer(`${token.secret.slice(0, -1)}x`, ctx)).toMatchObject({ ok: false });
    expect(await auth.verifyBearer('garbage', ctx)).toMatchObject({ ok: false });
    clock.set('2026-06-02T00:00:01Z');
    expect(await auth.verifyBearer(token.secret, ctx)).toMatchObject({ ok: false, reason: 'invalid-credentials' });
  });

  it('enforces the password policy when setting a password, and rehashes weaker hashes on login', async () => {
    const service = createCredentialService({ directory: f.directory, audit: f.audit, argon2: weak });
    await expect(service.setPassword(accountId, 'short')).rejects.toMatchObject({ kind: 'invalid' });
    await expect(service.setPassword(accountId, 'x'.repeat(2000))).rejects.toMatchObject({ kind: 'invalid' });
    await expect(service.setPassword(accountId, 'awa-is-my-password')).rejects.toMatchObject({ kind: 'invalid' });
    await service.setPassword(accountId, 'A much better passphrase');
    expect(await auth.verifyPassword('awa@sante.gouv.tg', 'A much better passphrase', ctx)).toMatchObject({ ok: true });
    expect(await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx)).toMatchObject({ ok: false });
    // Stronger parameters configured: the stored hash is upgraded at the next login.
    const stronger = createAuthenticator({ directory: f.directory, audit: f.audit, throttle: f.throttle, clock, argon2: { memoryKiB: 19456, iterations: 3, parallelism: 1 } });
    expect(await stronger.verifyPassword('awa@sante.gouv.tg', 'A much better passphrase', ctx)).toMatchObject({ ok: true });
    expect(await f.directory.getPasswordHash(accountId)).toContain('t=3');
  });

  it('never writes a password into logs or audit events', async () => {
    await auth.verifyPassword('awa@sante.gouv.tg', 'Sup3r-Secret-Guess', ctx);
    await auth.verifyPassword('awa@sante.gouv.tg', PASSWORD, ctx);
    const audit = JSON.stringify(await f.audit.list({ limit: 100 }));
    for (const secret of ['Sup3r-Secret-Guess', PASSWORD]) {
      expect(log.text()).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
  });
});
