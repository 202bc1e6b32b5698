import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@palabre/core';
import { basicRequest, manualClock, type ManualClock } from '@palabre/core/testing';
import { startServer, type RunningServer } from '../src/commands/serve.js';
import { loadConfig } from '../src/config.js';
import { openContext, type Context } from '../src/context.js';
import { capture, freePort, makeSite, siteKinds, type Site } from './helpers.js';
import { imapLogin, smtpAuth } from './raw-login.js';

/**
 * Login throttling of a whole `palabre serve` from the attacker's side (issue 11, defects 6 and 7):
 * raw IMAP and SMTP sockets and HTTP Basic, from several loopback addresses, with the throttle's clock
 * in the test's hands (the attacks last hours).
 */
const PASSWORD = 'Le soleil de Lomé 2026';

describe.each(siteKinds)('palabre serve login throttling on %s', (kind) => {
  let site: Site;
  let ctx: Context;
  let server: RunningServer;
  let clock: ManualClock;
  let ports: { http: number; submission: number; imap: number };
  let appPassword: string;

  beforeEach(async () => {
    site = await makeSite(kind);
    ports = { http: await freePort(), submission: await freePort(), imap: await freePort() };
    const config = loadConfig({
      data: site.dataDir,
      env: site.env,
      overrides: { hostname: 'mail.sante.gouv.tg', ports: { ...ports, smtp: 0 } },
    });
    clock = manualClock('2026-06-01T18:00:00Z');
    ctx = await openContext(config, silentLogger, { clock });
    await ctx.stores.directory.createDomain({ name: 'sante.gouv.tg' });
    const alice = await ctx.stores.directory.createAccount({
      address: 'alice@sante.gouv.tg',
      passwordHash: await ctx.credentials.hashNewPassword(PASSWORD, 'alice@sante.gouv.tg'),
    });
    appPassword = (await ctx.credentials.issueAppPassword(alice.id, 'phone')).secret;
    server = await startServer(ctx, capture());
  });
  afterEach(async () => {
    await server.stop();
    await ctx.close();
    await site.cleanup();
  });

  it('answers a run of wrong passwords byte for byte the same for an existing and an unknown account, on HTTP, SMTP and IMAP', async () => {
    const attempts: [string, (from: string, user: string, password: string) => Promise<string>][] = [
      ['http', async (from, user, password) => (await basicRequest({ port: ports.http, from, path: '/dav/files/', user, password })).text],
      ['smtp', (from, user, password) => smtpAuth(ports.submission, from, user, password)],
      ['imap', (from, user, password) => imapLogin(ports.imap, from, user, password)],
    ];
    for (const [i, [protocol, attempt]] of attempts.entries()) {
      const run = async (user: string, from: string) => {
        const answers: string[] = [];
        for (let n = 0; n < 10; n++) {
          answers.push(await attempt(from, user, `wrong password ${n}`));
          clock.advance(700);
        }
        clock.advance(2 * 3600_000); // every counter of this run forgotten
        return answers;
      };
      const existing = await run('alice@sante.gouv.tg', `127.0.${i + 2}.5`);
      const unknown = await run('nobody@sante.gouv.tg', `127.0.${i + 2}.6`);
      expect(existing.filter((a) => /HTTP 429|^454 4\.7\.0|NO \[UNAVAILABLE\]/m.test(a)).length, protocol).toBeGreaterThan(0);
      expect(unknown, protocol).toEqual(existing);
    }
  });

  it("one wrong password every few minutes from elsewhere does not lock alice out of her known address nor her app password", async () => {
    expect(await imapLogin(ports.imap, '127.0.0.1', 'alice@sante.gouv.tg', PASSWORD)).toMatch(/^a OK /m);
    // Overnight: one guess every six minutes from 127.0.0.2, eight hours long.
    const attacker: string[] = [];
    for (let n = 0; n < 80; n++) {
      clock.advance(6 * 60_000);
      attacker.push(await imapLogin(ports.imap, '127.0.0.2', 'alice@sante.gouv.tg', `guess ${n}`));
    }
    expect(attacker.slice(-10).filter((a) => a.startsWith('a NO [UNAVAILABLE]')).length).toBeGreaterThan(0);
    // Morning: her desk signs in, her phone sends mail with its app password, from a new address.
    expect(await imapLogin(ports.imap, '127.0.0.1', 'alice@sante.gouv.tg', PASSWORD)).toMatch(/^a OK /m);
    expect(await smtpAuth(ports.submission, '127.0.0.3', 'alice@sante.gouv.tg', appPassword)).toMatch(/^235 /);
    // A device she never used gets nowhere, even with the right password: the guessing is locked out.
    expect(await imapLogin(ports.imap, '127.0.0.4', 'alice@sante.gouv.tg', PASSWORD)).toMatch(/^a NO \[UNAVAILABLE\]/);
    expect(await smtpAuth(ports.submission, '127.0.0.4', 'alice@sante.gouv.tg', PASSWORD)).toMatch(/^454 4\.7\.0 /);
    const audit = await ctx.stores.audit.list({ actor: 'alice@sante.gouv.tg', limit: 1000 });
    expect(new Set(audit.map((e) => e.type))).toEqual(new Set(['auth.success', 'auth.failure', 'auth.throttled', 'auth.locked']));
    expect(JSON.stringify(audit)).not.toContain('guess');
  });

  it('a success answered from the decision cache resets the counters of that address', async () => {
    expect(await imapLogin(ports.imap, '127.0.0.7', 'alice@sante.gouv.tg', PASSWORD)).toMatch(/^a OK /m);
    const wrong: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < 4; n++) wrong.push(await imapLogin(ports.imap, '127.0.0.7', 'alice@sante.gouv.tg', 'last year password'));
      expect(await imapLogin(ports.imap, '127.0.0.7', 'alice@sante.gouv.tg', PASSWORD)).toMatch(/^a OK /m);
    }
    expect(wrong).toEqual(Array(12).fill('a NO [AUTHENTICATIONFAILED] Authentication failed'));
  });
});
