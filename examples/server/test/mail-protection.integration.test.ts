import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EICAR, GTUBE, RSPAMD_PROGRAMS, TEST_MALWARE_PATTERN, skipWithout, startClamd, startRspamd, type Clamd, type Rspamd } from '@palabre/core/testing';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { freePort, makeSite, provision, smtp, spawnServe, waitForLine, stopServe, type Site } from './helpers.js';
import { parsePrometheusText, sampleSum } from './prometheus-text.js';

/**
 * Issue 14 §1–2 through `palabre serve` as configured by an operator (config `spam.rspamd`,
 * `antivirus.clamd`), with real rspamd and clamd: the banner says what scans, GTUBE and EICAR are
 * refused at the MX, EICAR uploaded to the drive is refused with 403 and is not there afterwards.
 */
const USER = 'agent@interieur.gouv.test';
const PASS = 'Une phrase de passe assez longue';

describe.skipIf(skipWithout(...RSPAMD_PROGRAMS, 'clamd'))('palabre serve with rspamd and clamd', () => {
  let site: Site;
  let rspamd: Rspamd;
  let clamd: Clamd;
  let child: ChildProcess;
  let banner = '';
  const ports = { http: 0, smtp: 0, imap: 0 };
  const auth = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;

  beforeAll(async () => {
    [rspamd, clamd, site] = await Promise.all([startRspamd(), startClamd(), makeSite('sqlite')]);
    await provision(site, [
      ['domain', 'add', 'interieur.gouv.test'],
      ['user', 'add', USER, '--password', PASS],
    ]);
    ports.http = await freePort();
    ports.smtp = await freePort();
    ports.imap = await freePort();
    await writeFile(
      join(site.dataDir, 'palabre.json'),
      JSON.stringify({
        spam: { rspamd: { url: rspamd.url, controllerUrl: rspamd.controllerUrl, password: rspamd.password } },
        antivirus: { clamd: { socket: clamd.socket } },
      }),
    );
    child = spawnServe(site.dataDir, { http: ports.http, smtp: ports.smtp, imap: ports.imap }, site.env, [
      '--hostname',
      'mail.interieur.gouv.test',
    ]);
    banner = await waitForLine(child, /Palabre is running[\s\S]*\n\n/);
  }, 180_000);
  afterAll(async () => {
    await stopServe(child);
    await Promise.all([rspamd?.close(), clamd?.close(), site?.cleanup()]);
  });

  it('says in the banner what scans mail and uploads', () => {
    expect(banner).toContain(`spam:      rspamd at ${rspamd.url} (fail-open; learns from Junk moves)`);
    expect(banner).toContain(`malware:   clamd at ${clamd.socket} (fail-closed; mail and drive uploads)`);
  });

  it('refuses GTUBE and EICAR at the MX', async () => {
    const envelope = ['EHLO client.example.org', 'MAIL FROM:<ami@example.org>', `RCPT TO:<${USER}>`];
    const head = `From: ami@example.org\r\nTo: ${USER}\r\nSubject: test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
    expect((await smtp(ports.smtp, envelope, `${head}${GTUBE}`)).at(-2)).toMatch(/^550 5\.7\.1 message refused as spam/);
    expect((await smtp(ports.smtp, envelope, `${head}${EICAR}`)).at(-2)).toMatch(/^550 5\.7\.1 message refused: malware found/);
  });

  it('teaches rspamd what a user moves into Junk and out of it, after the MOVE has answered', async () => {
    const envelope = ['EHLO client.example.org', 'MAIL FROM:<ami@example.org>', `RCPT TO:<${USER}>`];
    const body = 'Bonjour, voici le compte rendu de la réunion de lundi sur le budget du ministère et les suites à donner.';
    const head = `From: Ami <ami@example.org>\r\nTo: ${USER}\r\nSubject: Compte rendu\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
    expect((await smtp(ports.smtp, envelope, `${head}${body}`)).at(-2)).toMatch(/^250 /);
    const before = (await rspamd.stat()).learned;
    const keysBefore = await redisDbSize(rspamd.redisPort);
    const imap = new ImapFlow({
      host: '127.0.0.1',
      port: ports.imap,
      secure: false,
      auth: { user: USER, pass: PASS },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    await imap.connect();
    try {
      await imap.mailboxOpen('INBOX');
      expect(await imap.messageMove('1:*', 'Junk')).toBeTruthy();
      let learned = before;
      for (let i = 0; i < 100 && learned === before; i++) {
        await new Promise((r) => setTimeout(r, 100));
        learned = (await rspamd.stat()).learned;
      }
      expect(learned).toBe(before + 1);
      await imap.mailboxOpen('Junk');
      await imap.messageMove('1:*', 'INBOX');
      for (let i = 0; i < 100 && learned === before + 1; i++) {
        await new Promise((r) => setTimeout(r, 100));
        learned = (await rspamd.stat()).learned;
      }
      expect(learned).toBe(before + 2);
      // The statistics went to rspamd's own Redis (started with it), not to one on 6379.
      expect(await redisDbSize(rspamd.redisPort)).toBeGreaterThan(keysBefore);
    } finally {
      await imap.logout();
    }
  });

  it('refuses a message and an upload carrying the second test signature, naming it', async () => {
    const envelope = ['EHLO client.example.org', 'MAIL FROM:<ami@example.org>', `RCPT TO:<${USER}>`];
    const head = `From: ami@example.org\r\nTo: ${USER}\r\nSubject: pattern\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
    expect((await smtp(ports.smtp, envelope, `${head}${TEST_MALWARE_PATTERN}`)).at(-2)).toMatch(
      /^550 5\.7\.1 message refused: malware found \(Palabre\.Test\.Pattern/,
    );
    const url = `http://127.0.0.1:${ports.http}/dav/files/${USER}/motif.bin`;
    const bad = await fetch(url, { method: 'PUT', headers: { authorization: auth }, body: `avant ${TEST_MALWARE_PATTERN} après` });
    expect(bad.status).toBe(403);
    expect(await bad.text()).toMatch(/malware found \(Palabre\.Test\.Pattern/);
    expect((await fetch(url, { headers: { authorization: auth } })).status).toBe(404);
  });

  it('refuses an EICAR upload to the drive with 403 and keeps nothing; a clean upload is stored', async () => {
    const url = `http://127.0.0.1:${ports.http}/dav/files/${USER}/rapport.com`;
    const bad = await fetch(url, { method: 'PUT', headers: { authorization: auth }, body: EICAR });
    expect(bad.status).toBe(403);
    expect(await bad.text()).toMatch(/malware found \(Palabre\.Test\.EICAR/);
    expect((await fetch(url, { headers: { authorization: auth } })).status).toBe(404);
    const good = await fetch(url.replace('rapport.com', 'rapport.txt'), {
      method: 'PUT',
      headers: { authorization: auth },
      body: 'un rapport propre',
    });
    expect(good.status).toBe(201);
    expect(await (await fetch(url.replace('rapport.com', 'rapport.txt'), { headers: { authorization: auth } })).text()).toBe(
      'un rapport propre',
    );
  });
});

/** DBSIZE of a Redis on loopback (RESP over a socket: no client library for one command). */
function redisDbSize(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1', () => c.write('DBSIZE\r\n'));
    c.once('data', (d) => {
      c.destroy();
      const m = /^:(\d+)\r\n/.exec(d.toString('latin1'));
      if (m) resolve(Number(m[1]));
      else reject(new Error(`redis: ${d.toString('latin1')}`));
    });
    c.once('error', reject);
  });
}

/**
 * Scanners configured but down (a closed port, a missing socket): needs neither daemon installed.
 * Each outage is logged (`filter.unavailable`, `drive.scan-unavailable`, with the fail mode) and
 * counted in `palabre_scanner_unavailable_total` apart from the verdicts; the fail mode decides the
 * replies (open: 250 and 201, closed: 451 and 503). Filters run in order, so a closed rspamd ends the
 * scan before clamd.
 */
describe.each([
  { spam: 'open', av: 'open', smtp: 250, put: 201, counts: { 'rspamd/mail/open': 1, 'clamd/mail/open': 1, 'clamd/drive/open': 1 } },
  { spam: 'open', av: 'closed', smtp: 451, put: 503, counts: { 'rspamd/mail/open': 1, 'clamd/mail/closed': 1, 'clamd/drive/closed': 1 } },
  { spam: 'closed', av: 'closed', smtp: 451, put: 503, counts: { 'rspamd/mail/closed': 1, 'clamd/mail/closed': 0, 'clamd/drive/closed': 1 } },
] as const)('palabre serve with rspamd fail-$spam and clamd fail-$av, both down', ({ spam, av, smtp: smtpCode, put, counts }) => {
  let site: Site;
  let child: ChildProcess;
  let output = '';
  const ports = { http: 0, smtp: 0, admin: 0 };
  const auth = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;

  beforeAll(async () => {
    site = await makeSite('sqlite');
    await provision(site, [
      ['domain', 'add', 'interieur.gouv.test'],
      ['user', 'add', USER, '--password', PASS],
    ]);
    [ports.http, ports.smtp, ports.admin] = await Promise.all([freePort(), freePort(), freePort()]);
    const closedPort = await freePort();
    await writeFile(
      join(site.dataDir, 'palabre.json'),
      JSON.stringify({
        spam: { rspamd: { url: `http://127.0.0.1:${closedPort}`, failMode: spam } },
        antivirus: { clamd: { socket: join(site.dataDir, 'no-clamd.sock'), failMode: av } },
      }),
    );
    child = spawnServe(site.dataDir, ports, site.env);
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitForLine(child, /server\.started/);
  }, 120_000);
  afterAll(async () => {
    await stopServe(child);
    await site?.cleanup();
  });

  it('replies by the fail mode, logs each outage with its mode and counts it apart', async () => {
    const envelope = ['EHLO client.example.org', 'MAIL FROM:<ami@example.org>', `RCPT TO:<${USER}>`];
    const head = `From: ami@example.org\r\nTo: ${USER}\r\nSubject: test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
    expect((await smtp(ports.smtp, envelope, `${head}bonjour`)).at(-2)).toMatch(new RegExp(`^${smtpCode} `));
    const upload = await fetch(`http://127.0.0.1:${ports.http}/dav/files/${USER}/note.txt`, { method: 'PUT', headers: { authorization: auth }, body: 'une note' });
    expect(upload.status).toBe(put);

    const metrics = parsePrometheusText(await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text());
    for (const [key, n] of Object.entries(counts)) {
      const [scanner, use, mode] = key.split('/') as [string, string, string];
      expect(sampleSum(metrics, 'palabre_scanner_unavailable_total', { scanner, use, mode }), key).toBe(n);
    }
    const records = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; filter?: string; mode?: string; err?: string });
    const outages = (msg: string, filter?: string) => records.filter((r) => r.msg === msg && r.filter === filter);
    expect(outages('filter.unavailable', 'rspamd')).toEqual([expect.objectContaining({ mode: spam, err: expect.any(String) })]);
    const clamdScannedMail = Object.entries(counts).some(([key, n]) => key.startsWith('clamd/mail/') && n > 0);
    expect(outages('filter.unavailable', 'clamd')).toEqual(clamdScannedMail ? [expect.objectContaining({ mode: av, err: expect.any(String) })] : []);
    expect(outages('drive.scan-unavailable')).toEqual([expect.objectContaining({ mode: av, err: expect.any(String) })]);
  });
});
