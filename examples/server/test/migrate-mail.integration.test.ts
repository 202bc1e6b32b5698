import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { silentLogger } from '@palabre/core';
import { clientsRequired, skipWithout } from '@palabre/core/testing';
import { SqlMailMigrationStore, SqlMailStore } from '@palabre/core/storage';
import { startServer, type RunningServer } from '../src/commands/serve.js';
import { loadConfig } from '../src/config.js';
import { openContext, type Context } from '../src/context.js';
import { parseSource } from '../src/migrate-mail/legacy-source.js';
import { runMailMigration } from '../src/migrate-mail/run-migration.js';
import { capture, freePort, makeSite, siteKinds, type Site } from './helpers.js';
import { dovecotImapDir, startLegacyDovecot, type LegacyDovecot } from './legacy-dovecot.js';
import { countMessages, listAccount, OUR_NAME, seedAccount, type FolderListing } from './legacy-mail.js';
import { startHostileProxy, type HostileProxy } from './hostile-imap-proxy.js';

/**
 * `palabre migrate mail` from a real Dovecot (the anchor's configuration) started by the test: every
 * folder, flag, keyword, internal date and byte arrives, listed through IMAP on both sides; a re-run
 * copies nothing; bad input fails one account and a re-run finishes it. PALABRE_MIGRATION_MESSAGES
 * sets the size (the CI check runs 10,000).
 */
const TOTAL = Number(process.env.PALABRE_MIGRATION_MESSAGES ?? 240);
const PASS = 'Mot de passe Palabre 2026';
const DOMAIN = 'sante.gouv.tg';
const AGENTS = ['awa', 'kofi', 'yao', 'ama'].map((n) => ({ address: `${n}@${DOMAIN}`, password: `legacy-${n}-secret` }));
const PER_ACCOUNT = Math.ceil(TOTAL / AGENTS.length);

interface Palabre {
  site: Site;
  ctx: Context;
  server: RunningServer;
  imap: number;
}

async function palabre(kind: 'sqlite' | 'postgres'): Promise<Palabre> {
  const site = await makeSite(kind);
  const imap = await freePort();
  const config = loadConfig({
    data: site.dataDir,
    env: site.env,
    overrides: { hostname: 'mail.sante.gouv.tg', ports: { http: await freePort(), imap, smtp: 0, submission: 0 } },
  });
  const ctx = await openContext(config, silentLogger);
  await ctx.stores.directory.createDomain({ name: DOMAIN });
  for (const a of AGENTS)
    await ctx.stores.directory.createAccount({ address: a.address, passwordHash: await ctx.credentials.hashNewPassword(PASS, a.address) });
  const server = await startServer(ctx, capture(), { background: false, quiet: true });
  return { site, ctx, server, imap };
}

const ours = (p: Palabre, user: string) => {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: p.imap,
    secure: false,
    auth: { user, pass: PASS },
    logger: false,
    disableAutoIdle: true,
    tls: { rejectUnauthorized: false },
  });
  c.on('error', () => undefined);
  return c;
};
const theirs = (legacy: LegacyDovecot, a: { address: string; password: string }) => {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: legacy.imapPort,
    secure: false,
    doSTARTTLS: false,
    auth: { user: a.address, pass: a.password },
    logger: false,
    disableAutoIdle: true,
  });
  c.on('error', () => undefined);
  return c;
};

/** Both sides listed through IMAP: the differences, as lines (none expected). */
async function differences(
  p: Palabre,
  legacy: LegacyDovecot,
  a: { address: string; password: string },
): Promise<{ diff: string[]; count: number }> {
  const before = await listAccount(theirs(legacy, a), OUR_NAME);
  const after = await listAccount(ours(p, a.address));
  const diff: string[] = [];
  const show = (f?: FolderListing) => (f ? `${f.messages.length} messages, ${f.subscribed ? '' : 'not '}subscribed` : 'missing');
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const x = before.get(name);
    const y = after.get(name);
    if (!x || !y || x.subscribed !== y.subscribed) {
      diff.push(`${name}: legacy ${show(x)}, palabre ${show(y)}`);
      continue;
    }
    const ys = new Set(y.messages);
    const xs = new Set(x.messages);
    for (const m of x.messages) if (!ys.has(m)) diff.push(`${name}: missing ${m}`);
    for (const m of y.messages) if (!xs.has(m)) diff.push(`${name}: extra ${m}`);
    if (x.messages.length !== y.messages.length) diff.push(`${name}: ${x.messages.length} legacy, ${y.messages.length} palabre`);
  }
  return { diff, count: countMessages(before) };
}

// Dovecot's IMAP daemon is a package of its own (dovecot-imapd), which cyrus-imapd displaces.
const noDovecot = skipWithout('dovecot', 'doveadm', 'openssl') || (!dovecotImapDir() && !clientsRequired());

describe.skipIf(noDovecot)('palabre migrate mail from a real Dovecot', () => {
  let legacy: LegacyDovecot;
  /** `palabre migrate mail` from the legacy server's TLS port, trusting its certificate. */
  const migrate = (p: Palabre, csv: string, ...extra: string[]) =>
    p.site.run('migrate', 'mail', '--from', `imaps://127.0.0.1:${legacy.imapsPort}`, '--csv', csv, '--tls-ca', legacy.caFile, ...extra);
  beforeAll(async () => {
    legacy = await startLegacyDovecot(AGENTS);
    await Promise.all(AGENTS.map((a) => seedAccount(legacy.imapPort, a.address, a.password, PER_ACCOUNT)));
  }, 600_000);
  afterAll(async () => legacy?.stop());

  describe.each(siteKinds)('into %s', (kind) => {
    let p: Palabre;
    beforeAll(async () => {
      p = await palabre(kind);
    }, 120_000);
    afterAll(async () => {
      await p?.server.stop();
      await p?.ctx.close();
      await p?.site.cleanup();
    });

    it('copies every folder, flag, keyword, internal date and byte; a second run copies nothing', async () => {
      const csv = join(p.site.dataDir, 'agents.csv');
      await writeFile(
        csv,
        `adresse;identifiant;mot de passe\n${AGENTS.slice(0, 3)
          .map((a) => `${a.address};${a.address};${a.password}`)
          .join('\n')}\n`,
      );
      const report = join(p.site.dataDir, 'report.json');
      const first = await migrate(p, csv, '--jobs', '2', '--report', report);
      expect(first.err).toBe('');
      expect(first.code).toBe(0);
      const written = JSON.parse(await readFile(report, 'utf8')) as {
        accounts: { address: string; status: string; copied: number; folders: { legacy: string; target: string }[]; errors: string[] }[];
      };
      expect(written.accounts.map((a) => [a.address, a.status, a.errors])).toEqual(AGENTS.slice(0, 3).map((a) => [a.address, 'ok', []]));
      expect(written.accounts[0]!.folders.find((f) => f.legacy === 'Sent Messages')!.target).toBe('Sent');
      let total = 0;
      for (const a of AGENTS.slice(0, 3)) {
        const { diff, count } = await differences(p, legacy, a);
        expect(diff).toEqual([]);
        expect(count).toBe(PER_ACCOUNT + 2);
        total += count;
      }
      expect(written.accounts.reduce((n, a) => n + a.copied, 0)).toBe(total);

      const second = await migrate(p, csv);
      expect(second.code).toBe(0);
      expect(second.out).toContain('0 message(s) copied, 0 already there, flags brought over for 0');

      // Agents keep reading on the legacy server until the cutover: the next run brings the flags over.
      const c = theirs(legacy, AGENTS[1]!);
      await c.connect();
      let changed = 0;
      // (Each database's run toggles them the other way: the legacy server is shared.)
      const on = ['\\Seen', 'Traite_OK'];
      const off = ['\\Seen', '$Label1'];
      const edits: [string, string[], string[]][] =
        kind === 'sqlite'
          ? [
              ['INBOX', on, []],
              ['Projets/2024/Q1', [], off],
            ]
          : [
              ['INBOX', [], on],
              ['Projets/2024/Q1', off, []],
            ];
      for (const [folder, add, remove] of edits) {
        const lock = await c.getMailboxLock(folder);
        try {
          const before = await c.fetchAll('1:*', { uid: true, flags: true });
          changed += before.filter((m) => add.some((f) => !m.flags!.has(f)) || remove.some((f) => m.flags!.has(f))).length;
          if (add.length) await c.messageFlagsAdd('1:*', add);
          if (remove.length) await c.messageFlagsRemove('1:*', remove);
        } finally {
          lock.release();
        }
      }
      await c.logout();
      expect(changed).toBeGreaterThan(5);
      const synced = await migrate(p, csv);
      expect(synced.code).toBe(0);
      expect(synced.out).toContain(`0 message(s) copied, 0 already there, flags brought over for ${changed}`);
      expect((await differences(p, legacy, AGENTS[1]!)).diff).toEqual([]);

      // A run that died between APPEND and its cursor write (here: cursors forgotten) copies nothing twice.
      const migrations = new SqlMailMigrationStore(p.ctx.db);
      const awa = (await p.ctx.stores.directory.findAccount(AGENTS[0]!.address))!;
      expect(await migrations.forget(awa.id)).toBeGreaterThan(5);
      const third = await migrate(p, csv);
      expect(third.code).toBe(0);
      expect(third.out).toContain(`0 message(s) copied, ${PER_ACCOUNT + 2} already there`);
      expect((await differences(p, legacy, AGENTS[0]!)).diff).toEqual([]);
    }, 600_000);

    it('signs in as a Dovecot master user when the CSV has no passwords; the password never goes on the command line', async () => {
      const csv = join(p.site.dataDir, 'master.csv');
      await writeFile(csv, `${AGENTS[3]!.address};${AGENTS[3]!.address};\n`);
      const secret = join(p.site.dataDir, 'master-password');
      await writeFile(secret, `${legacy.masterPassword}\n`);
      const refused = await migrate(p, csv);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain('no legacy password');
      const run = await migrate(p, csv, '--master-user', legacy.masterUser, '--master-password-file', secret);
      expect(run.err).toBe('');
      expect(run.code).toBe(0);
      expect((await differences(p, legacy, AGENTS[3]!)).diff).toEqual([]);
    }, 600_000);
  });

  describe('bad input', () => {
    let p: Palabre;
    let proxy: HostileProxy | null = null;
    beforeAll(async () => {
      p = await palabre('sqlite');
    }, 120_000);
    afterAll(async () => {
      await proxy?.close();
      await p?.server.stop();
      await p?.ctx.close();
      await p?.site.cleanup();
    });
    const deps = () => ({
      directory: p.ctx.stores.directory,
      mail: new SqlMailStore(p.ctx.db, { blobs: p.ctx.blobs.mail, usage: p.ctx.stores.usage }),
      migrations: new SqlMailMigrationStore(p.ctx.db),
      blobs: p.ctx.blobs.mail,
    });

    it('a wrong password, a refused folder and a connection dropped mid-copy fail their account only; a re-run finishes them', async () => {
      const [awa, kofi, yao, ama] = AGENTS as [(typeof AGENTS)[0], (typeof AGENTS)[0], (typeof AGENTS)[0], (typeof AGENTS)[0]];
      const refused = legacy.maildir(yao.address, 'Refusé'.normalize('NFC'));
      // Dovecot stores the name in modified UTF-7 on disk.
      const onDisk = join(refused, '..', '.Refus&AOk-');
      await chmod(onDisk, 0o000);
      let kicked = false;
      let seen = 0;
      const run = await runMailMigration(
        deps(),
        [
          { address: awa.address, login: awa.address, password: awa.password },
          { address: kofi.address, login: kofi.address, password: 'not the password' },
          { address: yao.address, login: yao.address, password: yao.password },
          { address: ama.address, login: ama.address, password: ama.password },
        ],
        {
          source: parseSource(`imaps://127.0.0.1:${legacy.imapsPort}`),
          ca: await readFile(legacy.caFile),
          jobs: 4,
          maxMessageBytes: 10 * 1024 * 1024,
          // Small windows: a folder is read and copied in several rounds, the kick lands mid-window.
          window: 7,
          onMessage: (address) => {
            if (address === ama.address && ++seen === 10 && !kicked) {
              kicked = true;
              void legacy.kick(ama.address);
            }
          },
        },
      );
      await chmod(onDisk, 0o700);
      const by = new Map(run.accounts.map((a) => [a.address, a]));
      expect(by.get(awa.address)).toMatchObject({ status: 'ok', errors: [] });
      expect(by.get(kofi.address)!.status).toBe('failed');
      expect(by.get(kofi.address)!.errors.join()).toMatch(/refused the login/);
      expect(by.get(yao.address)!.status).toBe('failed');
      expect(by.get(yao.address)!.folders.find((f) => f.legacy === 'Refusé')!.error).toBeTruthy();
      // The other folders of that account were copied.
      expect(by.get(yao.address)!.folders.find((f) => f.legacy === 'INBOX')!.copied).toBeGreaterThan(0);
      expect(kicked).toBe(true);
      expect(by.get(ama.address)!.status).toBe('failed');
      expect(by.get(ama.address)!.copied).toBeGreaterThanOrEqual(10);
      expect(run.failed).toBe(3);
      expect((await differences(p, legacy, awa)).diff).toEqual([]);

      // Fixed input: the same command again finishes every account, with nothing twice.
      const csv = join(p.site.dataDir, 'agents.csv');
      await writeFile(csv, AGENTS.map((a) => `${a.address},${a.address},${a.password}`).join('\r\n'));
      const again = await migrate(p, csv);
      expect(again.err).toBe('');
      expect(again.code).toBe(0);
      for (const a of AGENTS) expect((await differences(p, legacy, a)).diff).toEqual([]);
    }, 600_000);

    it('a legacy server sending an oversized or malformed literal fails that account, not the run', async () => {
      for (const attack of ['oversized-literal', 'malformed-fetch'] as const) {
        proxy = await startHostileProxy({
          upstreamPort: legacy.imapPort,
          cert: join(legacy.dir, 'cert.pem'),
          key: join(legacy.dir, 'key.pem'),
          attack,
          connections: [1],
        });
        const before = await p.ctx.stores.directory.findAccount(AGENTS[0]!.address);
        const mail = new SqlMailStore(p.ctx.db, { blobs: p.ctx.blobs.mail, usage: p.ctx.stores.usage });
        // The folder copied first, whose first message the attacker corrupts.
        const archive = (await mail.ensureMailboxes(before!.id)).find((m) => m.name === 'Archive');
        const uidNext = archive!.uidNext;
        await new SqlMailMigrationStore(p.ctx.db).forget(before!.id);
        const csv = join(p.site.dataDir, 'hostile.csv');
        await writeFile(
          csv,
          `${AGENTS[0]!.address};${AGENTS[0]!.address};${AGENTS[0]!.password}\n${AGENTS[1]!.address};${AGENTS[1]!.address};${AGENTS[1]!.password}\n`,
        );
        const report = join(p.site.dataDir, 'hostile.json');
        const run = await p.site.run(
          'migrate',
          'mail',
          '--from',
          `imaps://127.0.0.1:${proxy.port}`,
          '--csv',
          csv,
          '--tls-ca',
          legacy.caFile,
          '--jobs',
          '1',
          '--report',
          report,
          '--max-message-size',
          '1M',
        );
        expect(run.code).toBe(1);
        const accounts = (
          JSON.parse(await readFile(report, 'utf8')) as { accounts: { address: string; status: string; errors: string[] }[] }
        ).accounts;
        expect(accounts[0], JSON.stringify(accounts[0])).toMatchObject({ address: AGENTS[0]!.address, status: 'failed' });
        expect(proxy.attacked, JSON.stringify(accounts[0])).toBe(1);
        expect(accounts[0]!.errors.join()).not.toBe('');
        expect(accounts[1]).toMatchObject({ address: AGENTS[1]!.address, status: 'ok' });
        expect(accounts[0]!.errors.join()).toMatch(
          attack === 'oversized-literal' ? /Literal size 200000000 exceeds maximum allowed size of 1048576/ : /did not send message UID 1/,
        );
        // Nothing was stored from the corrupted response.
        expect((await mail.getMailbox(before!.id, 'Archive'))!.uidNext).toBe(uidNext);
        await proxy.close();
        proxy = null;
      }
      // Straight to the legacy server, the same command finishes the account.
      const csv = join(p.site.dataDir, 'again.csv');
      await writeFile(csv, `${AGENTS[0]!.address};${AGENTS[0]!.address};${AGENTS[0]!.password}\n`);
      const again = await migrate(p, csv);
      expect(again.code).toBe(0);
      expect((await differences(p, legacy, AGENTS[0]!)).diff).toEqual([]);
    }, 600_000);
  });
});
