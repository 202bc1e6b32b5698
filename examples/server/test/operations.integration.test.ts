import type { ChildProcess } from 'node:child_process';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { sqliteFileIn } from '@palabre/core/storage';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '@palabre/core/testing';
import { freePort, makeSite, spawnServe, waitForLine, type Site } from './helpers.js';
import { parsePrometheusText, sampleSum } from './prometheus-text.js';

const USER = 'awa@sante.gouv.tg';
const PASS = 'Une phrase de passe solide';

interface Ports {
  http: number;
  smtp: number;
  submission: number;
  imap: number;
  admin: number;
}

async function serve(
  site: Site,
  env: NodeJS.ProcessEnv,
  extra: string[] = [],
): Promise<{ child: ChildProcess; ports: Ports; banner: string }> {
  const ports: Ports = {
    http: await freePort(),
    smtp: await freePort(),
    submission: await freePort(),
    imap: await freePort(),
    admin: await freePort(),
  };
  const child = spawnServe(site.dataDir, ports, env, extra);
  const banner = await waitForLine(child, /server\.started/);
  return { child, ports, banner };
}

const scrape = async (ports: Ports) => {
  const r = await fetch(`http://127.0.0.1:${ports.admin}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await r.text());
};

const kinds: ('sqlite' | 'postgres')[] = ['sqlite', ...((await postgresAvailable()) ? (['postgres'] as const) : [])];

describe.each(kinds)('the admin listener on %s', (kind) => {
  let site: Site;
  let db: TestDatabase | null = null;
  let child: ChildProcess | null = null;

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await db?.drop();
    await site.cleanup();
  });

  it('serves Prometheus text that counts HTTP, IMAP, SMTP, deliveries and auth failures; /readyz says when the database or blobs are gone', async () => {
    site = await makeSite('sqlite');
    db = kind === 'postgres' ? await createTestDatabase() : null;
    const env = { ...site.env, DATABASE_URL: db?.url ?? '', PALABRE_LOG_FORMAT: 'json' };
    const run = (...argv: string[]) =>
      import('../src/cli.js').then(({ main }) =>
        main(['--data', site.dataDir, ...argv], { interactive: false, out: () => {}, err: () => {} }, env),
      );
    expect(await run('domain', 'add', 'sante.gouv.tg')).toBe(0);
    expect(await run('user', 'add', USER, '--password', PASS)).toBe(0);
    const served = await serve(site, env);
    child = served.child;
    const { ports } = served;
    expect(served.banner).toContain(`admin:     http://127.0.0.1:${ports.admin}/metrics`);
    // No spam nor antivirus in the config: the banner says that nothing scans, so nobody assumes it does.
    expect(served.banner).toContain('spam:      no scanning (give spam.rspamd in the config)');
    expect(served.banner).toContain('malware:   no scanning (give antivirus.clamd in the config)');
    const admin = `http://127.0.0.1:${ports.admin}`;
    expect(await fetch(`${admin}/healthz`).then((r) => r.status)).toBe(200);
    const ready = await fetch(`${admin}/readyz`);
    expect(await ready.text()).toBe('database: ok\nblobs-mail: ok\nblobs-drive: ok\n');
    expect(ready.status).toBe(200);
    // Not on the users' port, and nothing but GET/HEAD.
    const usersPort = await fetch(`http://127.0.0.1:${ports.http}/metrics`);
    expect(usersPort.status).toBe(404);
    // Plain HTTP on loopback development: no HSTS (RFC 6797 §7.2, and it would lock browsers out).
    expect(usersPort.headers.get('strict-transport-security')).toBeNull();
    expect((await fetch(`${admin}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);

    // Hostile bytes on the admin port: a precise 400/431, and the listener keeps answering.
    const raw = async (bytes: string) => {
      const socket = (await import('node:net')).connect(ports.admin, '127.0.0.1');
      socket.on('error', () => undefined);
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      socket.write(bytes);
      await new Promise((r) => socket.once('close', r));
      return answer;
    };
    expect(await raw('\x00\xff GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect((await fetch(`${admin}/metrics/../../etc/passwd`)).status).toBe(404);

    const before = await scrape(ports);
    expect(before.get('palabre_http_requests_total')?.type).toBe('counter');
    expect(before.get('palabre_imap_connections')?.type).toBe('gauge');

    // HTTP and DAV: a PROPFIND that succeeds, one refused, a GET not found.
    const auth = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
    const dav = `http://127.0.0.1:${ports.http}/dav/files/${USER}/`;
    expect((await fetch(dav, { method: 'PROPFIND', headers: { authorization: auth, depth: '0' } })).status).toBe(207);
    expect(
      (
        await fetch(dav, {
          method: 'PROPFIND',
          headers: { authorization: `Basic ${Buffer.from(`${USER}:wrong password!`).toString('base64')}`, depth: '0' },
        })
      ).status,
    ).toBe(401);
    expect((await fetch(`http://127.0.0.1:${ports.http}/nowhere`)).status).toBe(404);

    // SMTP: one message into the mailbox through the MX, one for another domain through submission.
    const mx = nodemailer.createTransport({ host: '127.0.0.1', port: ports.smtp, secure: false, tls: { rejectUnauthorized: false } });
    await mx.sendMail({ from: 'kofi@example.org', to: USER, subject: 'metrics', text: 'hello' });
    const submission = nodemailer.createTransport({
      host: '127.0.0.1',
      port: ports.submission,
      secure: false,
      requireTLS: true,
      auth: { user: USER, pass: PASS },
      tls: { rejectUnauthorized: false },
    });
    await submission.sendMail({ from: USER, to: 'kofi@example.invalid', subject: 'out', text: 'bye' });

    // IMAP: a session in IDLE while we scrape, and a refused login.
    const imap = new ImapFlow({
      host: '127.0.0.1',
      port: ports.imap,
      secure: false,
      auth: { user: USER, pass: PASS },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await imap.connect();
    await imap.mailboxOpen('INBOX');
    const idling = imap.idle();
    const bad = new ImapFlow({
      host: '127.0.0.1',
      port: ports.imap,
      secure: false,
      auth: { user: USER, pass: 'not the password' },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await expect(bad.connect()).rejects.toThrow();

    let during = await scrape(ports);
    // The refused session's socket closes soon after its NO, not at once.
    // The blob walk behind palabre_blob_bytes reports the walk before this scrape's.
    const settled = () =>
      sampleSum(during, 'palabre_imap_idle_connections') === 1 &&
      sampleSum(during, 'palabre_imap_connections') === 1 &&
      sampleSum(during, 'palabre_blob_bytes', { store: 'mail' }) > 0;
    for (let i = 0; i < 100 && !settled(); i++) {
      await new Promise((r) => setTimeout(r, 100));
      during = await scrape(ports);
    }
    const moved = (name: string, labels: Record<string, string> = {}) => sampleSum(during, name, labels) - sampleSum(before, name, labels);
    expect(moved('palabre_http_requests_total', { method: 'PROPFIND', status: '2xx' })).toBe(1);
    expect(moved('palabre_http_requests_total', { method: 'PROPFIND', status: '4xx' })).toBe(1);
    expect(moved('palabre_http_requests_total', { method: 'GET', status: '4xx' })).toBe(1);
    expect(moved('palabre_http_request_duration_seconds_count', { method: 'PROPFIND' })).toBe(2);
    expect(moved('palabre_imap_commands_total', { command: 'SELECT', status: 'OK' })).toBe(1);
    expect(moved('palabre_imap_command_duration_seconds_count', { command: 'SELECT' })).toBe(1);
    expect(sampleSum(during, 'palabre_imap_connections')).toBe(1);
    expect(sampleSum(during, 'palabre_imap_idle_connections')).toBe(1);
    expect(moved('palabre_smtp_commands_total', { role: 'mx', command: 'data', reply: '2xx' })).toBe(1);
    expect(moved('palabre_smtp_commands_total', { role: 'submission', command: 'auth', reply: '2xx' })).toBe(1);
    expect(moved('palabre_mail_deliveries_total', { via: 'intake', result: 'delivered' })).toBe(1);
    expect(moved('palabre_mail_deliveries_total', { via: 'intake', result: 'queued' })).toBe(1);
    expect(moved('palabre_auth_failures_total', { protocol: 'dav', reason: 'invalid-credentials' })).toBe(1);
    expect(moved('palabre_auth_failures_total', { protocol: 'imap', reason: 'invalid-credentials' })).toBe(1);
    expect(during.get('palabre_auth_lockouts_total')?.type).toBe('counter');
    expect(during.get('palabre_mail_queue_messages')?.type).toBe('gauge');
    expect(sampleSum(during, 'palabre_blob_bytes', { store: 'mail' })).toBeGreaterThan(0);
    expect(sampleSum(during, 'palabre_connections_open')).toBeGreaterThan(0);
    expect(during.get('palabre_process_resident_memory_bytes')?.type).toBe('gauge');

    imap.close();
    await idling.catch(() => undefined);

    // The database goes away: PostgreSQL's database is dropped under the server; SQLite's file is
    // moved away (the open connection would still answer from it, but nothing written survives).
    if (db) await db.drop();
    else await rename(sqliteFileIn(site.dataDir), `${sqliteFileIn(site.dataDir)}.moved`);
    const gone = await fetch(`${admin}/readyz`);
    expect(gone.status).toBe(503);
    expect(await gone.text()).toMatch(/^database: (?!ok).+\nblobs-mail: ok\n/);
    // Liveness is not readiness: the process answers, and so does a scrape.
    expect(await fetch(`${admin}/healthz`).then((r) => r.status)).toBe(200);
    expect((await fetch(`${admin}/metrics`)).status).toBe(200);
    if (!db) {
      await rename(`${sqliteFileIn(site.dataDir)}.moved`, sqliteFileIn(site.dataDir));
      expect(await fetch(`${admin}/readyz`).then((r) => r.status)).toBe(200);
      // A blob folder lost (a shared mount gone): not ready either.
      await rename(join(site.dataDir, 'blobs', 'mail'), join(site.dataDir, 'blobs', 'mail.moved'));
      const noBlobs = await fetch(`${admin}/readyz`);
      expect(noBlobs.status).toBe(503);
      expect(await noBlobs.text()).toMatch(/^database: ok\nblobs-mail: .*ENOENT/);
    }
  }, 120_000);
});

describe('the admin listener of palabre serve --workers 2', () => {
  it('adds up the series of every worker', async () => {
    const site = await makeSite('sqlite');
    const ports = { http: await freePort(), admin: await freePort() };
    const child = spawnServe(site.dataDir, { http: ports.http, admin: ports.admin }, { ...site.env, DATABASE_URL: '' }, ['--workers', '2']);
    try {
      const banner = await waitForLine(child, /Palabre is running \(2 worker processes\)[\s\S]*password:/);
      expect(banner).toContain(`admin:     http://127.0.0.1:${ports.admin}/metrics`);
      const count = async () =>
        sampleSum(
          parsePrometheusText(await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text()),
          'palabre_http_requests_total',
          { method: 'GET', status: '4xx' },
        );
      const before = await count();
      // New connections each: the cluster deals them out to both workers in turn.
      for (let i = 0; i < 6; i++)
        expect((await fetch(`http://127.0.0.1:${ports.http}/nowhere`, { headers: { connection: 'close' } })).status).toBe(404);
      expect((await count()) - before).toBe(6);
      expect(await fetch(`http://127.0.0.1:${ports.admin}/readyz`).then((r) => r.status)).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await site.cleanup();
    }
  }, 120_000);
});

describe('the admin listener', () => {
  it('is off with --admin-port 0, and its port is refused when taken', async () => {
    const site = await makeSite('sqlite');
    try {
      const taken = await freePort();
      const blocker = (await import('node:net')).createServer().listen(taken, '127.0.0.1');
      await new Promise((r) => blocker.once('listening', r));
      const child = spawnServe(site.dataDir, { admin: taken }, { ...site.env, DATABASE_URL: '' });
      const out = await waitForLine(child, /cannot start admin/).catch((error: Error) => error.message);
      expect(out).toMatch(/cannot start admin: .*EADDRINUSE/);
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
      expect(child.exitCode).not.toBe(0);
      blocker.close();
      const off = spawnServe(site.dataDir, {}, { ...site.env, DATABASE_URL: '' });
      const banner = await waitForLine(off, /server\.started/);
      off.kill('SIGTERM');
      await new Promise((r) => off.once('exit', r));
      expect(banner).not.toContain('admin:');
      expect(banner).not.toContain('/metrics');
    } finally {
      await site.cleanup();
    }
  }, 120_000);
});
