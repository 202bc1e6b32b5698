import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { ConnectionGate } from '@palabre/core';
import { MemoryAuditLog, skipWithout, testAuthenticator } from '@palabre/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpServer } from '../src/index.js';
import { QueueWorker } from '../src/outbound/queue-worker.js';
import { RawSmtp } from './helpers/raw-smtp.js';
import { PASSWORD, startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';
import { selfSignedTls } from './helpers/tls.js';

let f: SmtpFixture | null = null;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await f?.close();
  f = null;
});

describe('listeners', () => {
  it('serves submission with implicit TLS (465 style)', async () => {
    f = await startSmtpFixture();
    const deps = f;
    const implicit = createSmtpServer({
      role: 'submission',
      implicitTls: true,
      hostname: 'mail.sante.gouv.tg',
      tls: await selfSignedTls(),
      directory: deps.directory,
      blobs: deps.blobs,
      delivery: deps.delivery,
      authenticator: testAuthenticator(deps.directory, { 'awa@sante.gouv.tg': PASSWORD }),
      dns: deps.dns,
    });
    const port = await implicit.listen(0);
    cleanups.push(() => implicit.close(100));
    const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'awa@sante.gouv.tg', pass: PASSWORD } });
    await t.sendMail({ envelope: { from: 'awa@sante.gouv.tg', to: ['kofi@finances.gouv.tg'] }, raw: 'From: awa@sante.gouv.tg\r\nSubject: 465\r\n\r\nx\r\n' });
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(1);
    expect(await f.delivery.text(0)).toMatch(/with ESMTPSA id/);
  });

  it.skipIf(skipWithout('swaks'))('takes mail from swaks over STARTTLS + AUTH LOGIN', async () => {
    f = await startSmtpFixture();
    const { stdout } = await promisify(execFile)('swaks', [
      '--server', `127.0.0.1:${f.submissionPort}`, '--from', 'awa@sante.gouv.tg', '--to', 'kofi@finances.gouv.tg',
      '--tls', '--auth', 'LOGIN', '--auth-user', 'awa@sante.gouv.tg', '--auth-password', PASSWORD, '--header', 'Subject: swaks',
    ]);
    expect(stdout).toMatch(/250 2\.6\.0 Ok: queued as/);
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(1);
  });
});

describe('queue notice', () => {
  it('tells the composition root when something was queued, so the worker starts at once', async () => {
    let kicks = 0;
    f = await startSmtpFixture({ onQueued: () => kicks++ });
    await f.submitter().sendMail({ envelope: { from: 'awa@sante.gouv.tg', to: ['ami@example.org'] }, raw: 'From: awa@sante.gouv.tg\r\nSubject: k\r\n\r\nx\r\n' });
    expect(kicks).toBe(1);
    expect(await f.queue.list()).toHaveLength(1);
  });
});

describe('rate limits', () => {
  it('limits messages per user per hour on submission (shared store)', async () => {
    f = await startSmtpFixture({ limits: { messagesPerUserPerHour: 2 } });
    let n = 0;
    const send = () => f!.submitter().sendMail({ envelope: { from: 'awa@sante.gouv.tg', to: ['kofi@finances.gouv.tg'] }, raw: `From: awa@sante.gouv.tg\r\nSubject: s${++n}\r\n\r\nx\r\n` });
    await send();
    await send();
    await expect(send()).rejects.toMatchObject({ responseCode: 451 });
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(2);
  });

  it('throttles a domain whose accounts together send too much, and reports each ceiling once', async () => {
    const audit = new MemoryAuditLog();
    f = await startSmtpFixture({ audit, limits: { messagesPerUserPerHour: 3, messagesPerDomainPerHour: 4 } });
    let n = 0;
    const send = (from: string) =>
      f!.submitter(from).sendMail({ envelope: { from, to: ['kofi@finances.gouv.tg'] }, raw: `From: ${from}\r\nSubject: s${++n}\r\n\r\nx\r\n` });
    for (let i = 0; i < 3; i++) await send('awa@sante.gouv.tg');
    // awa's own ceiling: refused, reported once however often she retries.
    for (let i = 0; i < 3; i++) await expect(send('awa@sante.gouv.tg')).rejects.toMatchObject({ responseCode: 451, response: expect.stringMatching(/4\.7\.1 your message rate limit/) });
    // Her refused attempts did not use up the domain's allowance: fatou still gets the fourth.
    await send('fatou@sante.gouv.tg');
    await expect(send('fatou@sante.gouv.tg')).rejects.toMatchObject({ responseCode: 451, response: expect.stringMatching(/4\.7\.1 your domain's message rate limit/) });
    await expect(send('fatou@sante.gouv.tg')).rejects.toMatchObject({ responseCode: 451 });
    // Another domain is not affected.
    await f.submitter('kofi@finances.gouv.tg').sendMail({ envelope: { from: 'kofi@finances.gouv.tg', to: ['awa@sante.gouv.tg'] }, raw: 'From: kofi@finances.gouv.tg\r\nSubject: k\r\n\r\nx\r\n' });
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(4);

    const reports = await audit.list({ type: 'mail.rate-limited' });
    expect(reports.map((r) => [r.actor, r.target, r.detail]).sort()).toEqual([
      ['awa@sante.gouv.tg', 'awa@sante.gouv.tg', 'account: more than 3 messages per hour'],
      ['fatou@sante.gouv.tg', 'sante.gouv.tg', 'domain sante.gouv.tg: more than 4 messages per hour'],
    ]);
    expect(f.logger.records.filter((r) => r.event === 'smtp.send-rate-exceeded')).toHaveLength(2);
  });

  it('limits recipients per user per hour and reports it', async () => {
    const audit = new MemoryAuditLog();
    f = await startSmtpFixture({ audit, limits: { recipientsPerUserPerHour: 2 } });
    const info = await f.submitter().sendMail({ envelope: { from: 'awa@sante.gouv.tg', to: ['a@example.org', 'b@example.org', 'c@example.org'] }, raw: 'From: awa@sante.gouv.tg\r\nSubject: r\r\n\r\nx\r\n' });
    expect(info.accepted).toEqual(['a@example.org', 'b@example.org']);
    expect(info.rejected).toEqual(['c@example.org']);
    expect(info.rejectedErrors?.[0]).toMatchObject({ responseCode: 451, response: expect.stringMatching(/4\.7\.1 your recipient rate limit/) });
    expect((await f.queue.list()).flatMap((e) => e.recipients)).toHaveLength(2);
    expect((await audit.list({ type: 'mail.rate-limited' })).map((r) => r.detail)).toEqual(['account: more than 2 recipients per hour']);
  });

  it('limits concurrent connections per IP', async () => {
    f = await startSmtpFixture({ connections: new ConnectionGate({ perAddress: 2 }) });
    const a = await RawSmtp.connect(f.mxPort);
    const b = await RawSmtp.connect(f.mxPort);
    const c = await RawSmtp.connect(f.mxPort);
    expect(a.greeting.code).toBe(220);
    expect(b.greeting.code).toBe(220);
    expect(c.greeting.code).toBe(421);
    expect(c.greeting.text).toMatch(/^4\.7\.0 \S+ too many concurrent connections from your address/);
    a.c.close();
    await new Promise((r) => setTimeout(r, 100));
    const d = await RawSmtp.connect(f.mxPort);
    expect(d.greeting.code).toBe(220);
    for (const x of [b.c, c.c, d.c]) x.close();
  });
});

describe('smarthost', () => {
  it('relays everything through the national gateway with STARTTLS and AUTH', async () => {
    f = await startSmtpFixture();
    const got: { user: string; secure: boolean; to: string[] }[] = [];
    const tls = await selfSignedTls();
    const gateway = new SMTPServer({
      key: tls.key,
      cert: tls.cert,
      logger: false,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, cb) {
        if (auth.username === 'palabre' && auth.password === 'relay-secret') return cb(null, { user: auth.username });
        cb(Object.assign(new Error('bad credentials'), { responseCode: 535 }));
      },
      onData(stream, session, cb) {
        stream.resume();
        stream.on('end', () => {
          got.push({ user: String(session.user), secure: session.secure, to: session.envelope.rcptTo.map((r) => r.address) });
          cb();
        });
      },
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => gateway.close(() => r())));
    const port = (gateway.server.address() as AddressInfo).port;
    await f.submitter().sendMail({ envelope: { from: 'awa@sante.gouv.tg', to: ['ami@example.org', 'autre@example.net'] }, raw: 'From: awa@sante.gouv.tg\r\nSubject: via gateway\r\n\r\nx\r\n' });
    const worker = (password: string) =>
      new QueueWorker({
        queue: f!.queue,
        blobs: f!.blobs,
        directory: f!.directory,
        delivery: f!.delivery,
        hostname: 'mail.sante.gouv.tg',
        smarthost: { host: '127.0.0.1', port, requireTls: true, tlsInsecure: true, username: 'palabre', password },
        lookupMx: async () => {
          throw new Error('no MX lookup with a smarthost');
        },
        clock: { now: () => new Date(Date.now() + 3600_000 * (password === 'relay-secret' ? 2 : 0)) },
      });
    await worker('wrong').runOnce();
    expect(got).toHaveLength(0);
    // A refused login is a configuration problem: deferred, never bounced.
    const deferred = await f.queue.list();
    expect(deferred.map((j) => j.domain).sort()).toEqual(['example.net', 'example.org']);
    expect(deferred.every((j) => /535/.test(j.lastError ?? ''))).toBe(true);
    await worker('relay-secret').runOnce();
    expect(got.map((g) => g.to.join()).sort()).toEqual(['ami@example.org', 'autre@example.net']);
    expect(got.every((g) => g.user === 'palabre' && g.secure)).toBe(true);
  });
});
