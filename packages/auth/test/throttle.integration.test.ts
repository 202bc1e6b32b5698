import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditLog, DirectoryStore } from '@palabre/core';
import { createCoreStores } from '@palabre/core/storage';
import { basicRequest, manualClock, testBackends, type BasicAnswer, type ManualClock } from '@palabre/core/testing';
import { createAuthenticator, createCredentialService, createHttpAuthenticator, hashPassword } from '../src/index.js';
import { startGuardedServer } from './http-server.js';

/**
 * Login throttling from the attacker's side, over HTTP Basic against a listening server, with the
 * counters in SQLite and PostgreSQL and a manual clock (the attacks span hours).
 */
const PASSWORD = 'Correct horse battery staple';
const weak = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

describe.each(await testBackends())('login throttling over HTTP Basic on $name', (backend) => {
  let clock: ManualClock;
  let port: number;
  let directory: DirectoryStore;
  let audit: AuditLog;
  let appPassword: string;
  let stop: () => Promise<void>;

  beforeEach(async () => {
    const { db, cleanup } = await backend.open();
    const stores = createCoreStores(db);
    directory = stores.directory;
    audit = stores.audit;
    clock = manualClock('2026-06-01T08:00:00Z');
    await directory.createDomain({ name: 'sante.gouv.tg' });
    await directory.addDomainAlias('sante.gouv.tg', 'ms.gouv.tg');
    const alice = await directory.createAccount({ address: 'alice@sante.gouv.tg', passwordHash: await hashPassword(PASSWORD, weak) });
    appPassword = (await createCredentialService({ directory, audit, argon2: weak }).issueAppPassword(alice.id, 'phone')).secret;
    const auth = createAuthenticator({ directory, audit, throttle: stores.throttle, clock, argon2: weak });
    const server = await startGuardedServer(createHttpAuthenticator(auth));
    port = server.port;
    stop = async () => {
      await server.close();
      await cleanup();
    };
  });
  afterEach(async () => stop());

  const login = (from: string, user: string, password: string) => basicRequest({ port, from, user, password });

  // Dozens of argon2id checks: minutes on a loaded two-core machine, so a guard longer than the default.
  it('one wrong password every few minutes from elsewhere never locks alice out of her known address or her app password', async () => {
    // Alice's desk computer has signed in before; her phone uses an app password.
    expect((await login('127.0.0.1', 'alice@sante.gouv.tg', PASSWORD)).status).toBe(200);
    const attacker: number[] = [];
    const guess = async () => attacker.push((await login('127.0.0.2', 'alice@sante.gouv.tg', `guess number ${attacker.length}`)).status);
    // Overnight, while alice sleeps: one guess every three minutes, twelve hours long.
    for (let i = 0; i < 240; i++) {
      clock.advance(3 * 60_000);
      await guess();
    }
    // The attacker's own address was throttled, then locked.
    expect(attacker.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(attacker.slice(-20).filter((s) => s === 429).length).toBeGreaterThan(10);
    // The morning, and the day: the guessing goes on, alice works undisturbed.
    for (let i = 0; i < 60; i++) {
      clock.advance(3 * 60_000);
      await guess();
      expect((await login('127.0.0.1', 'alice@sante.gouv.tg', PASSWORD)).status, `alice at her desk, round ${i}`).toBe(200);
      // The app password works from anywhere, even an address never seen before.
      expect((await login(`127.0.1.${i + 1}`, 'alice@sante.gouv.tg', appPassword)).status, `alice's phone, round ${i}`).toBe(200);
    }
    // Distributed guessing still meets the lock: an address alice never used gets nowhere, even with
    // her right password (it is not even checked).
    clock.advance(20 * 60_000);
    expect((await login('127.0.0.2', 'alice@sante.gouv.tg', 'one more guess')).status).toBe(401);
    expect((await login('127.0.0.4', 'alice@sante.gouv.tg', PASSWORD)).status).toBe(429);
    expect((await login('127.0.0.1', 'alice@sante.gouv.tg', PASSWORD)).status).toBe(200);
    const types = new Set((await audit.list({ limit: 1000 })).map((e) => e.type));
    expect(types).toEqual(new Set(['credential.created', 'auth.success', 'auth.failure', 'auth.throttled', 'auth.locked']));
  }, 180_000);

  it('a run of wrong passwords answers byte for byte the same for an existing and an unknown account', async () => {
    const run = async (from: string, user: string, alias: string) => {
      const answers: BasicAnswer[] = [];
      for (let i = 0; i < 14; i++) {
        answers.push(await login(from, user, `wrong password ${i}`));
        clock.advance(700);
      }
      // The same name through a domain alias shares the counter whether or not the account exists.
      answers.push(await login(from, alias, 'wrong again'));
      return answers.map((a) => a.text);
    };
    const existing = await run('127.0.0.5', 'alice@sante.gouv.tg', 'ALICE@ms.gouv.tg');
    clock.advance(2 * 60 * 60_000);
    const unknown = await run('127.0.0.6', 'nobody@sante.gouv.tg', 'NOBODY@ms.gouv.tg');
    expect(existing.some((t) => t.startsWith('HTTP 429'))).toBe(true);
    expect(existing.some((t) => /retry-after: [2-9]/.test(t))).toBe(true);
    expect(unknown).toEqual(existing);
  });

  it('hostile names are throttled like any other, tell nothing, and break nothing', async () => {
    const variants: ((base: string) => string)[] = [
      (b) => `${b}\u0000`,
      (b) => `  ${b.toUpperCase()}.  `,
      (b) => `${b}|ip:127.0.0.1`,
      (b) => `from:127.0.0.1|${b}`,
      (b) => `${b}${'x'.repeat(400)}`,
      (b) => `${b.replace('@', '\u0000@')}`,
      (b) => `${b}\ud800`,
      (b) => b.replace('sante', 'SANTÉ'),
    ];
    let host = 10;
    for (const variant of variants) {
      const run = async (base: string) => {
        const from = `127.0.2.${host++}`;
        const out: string[] = [];
        for (let n = 0; n < 8; n++) {
          out.push((await login(from, variant(base), `wrong ${n}`)).text);
          clock.advance(700);
        }
        clock.advance(2 * 3600_000);
        return out;
      };
      const existing = await run('alice@sante.gouv.tg');
      expect(await run('nobody@sante.gouv.tg'), JSON.stringify(variant('alice@sante.gouv.tg')).slice(0, 40)).toEqual(existing);
      expect(existing.every((t) => /^HTTP (401|429)/.test(t))).toBe(true);
    }
    expect((await login('127.0.0.1', 'alice@sante.gouv.tg', PASSWORD)).status).toBe(200);
  });

  it('a success served from the decision cache resets the counters of that address', async () => {
    expect((await login('127.0.0.7', 'alice@sante.gouv.tg', PASSWORD)).status).toBe(200);
    const seen: number[] = [];
    for (let round = 0; round < 3; round++) {
      // An old password left in a second client on the same machine…
      for (let i = 0; i < 4; i++) seen.push((await login('127.0.0.7', 'alice@sante.gouv.tg', 'last year password')).status);
      // …while the first client goes on, answered from the cached decision (same instant).
      expect((await login('127.0.0.7', 'alice@sante.gouv.tg', PASSWORD)).status).toBe(200);
    }
    expect(seen).toEqual(Array(12).fill(401));
  });
});
