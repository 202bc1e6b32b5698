import { MemorySieveScriptStore } from '@palabre/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueWorker, type QueueWorkerOptions } from '../src/outbound/queue-worker.js';
import { tlsPolicyOf } from '../src/outbound/require-tls.js';
import { HeaderSection } from '../src/mime/header-section.js';
import { startFakeMx } from './helpers/fake-mx.js';
import { RawSmtp } from './helpers/raw-smtp.js';
import { fakeDns, PASSWORD, startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';
import { selfSignedTls, testCa } from './helpers/tls.js';

/** RFC 8689 REQUIRETLS: offered only inside TLS, kept with the queued message, honoured by the queue. */
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function fixture(over: Parameters<typeof startSmtpFixture>[0] = {}): Promise<SmtpFixture> {
  const f = await startSmtpFixture(over);
  open.push(f);
  return f;
}

/** A submission session signed in as awa, over STARTTLS; MAIL FROM with `params`. */
async function submitRaw(f: SmtpFixture, params: string, to: string, text: string) {
  const { c, auth } = await RawSmtp.signedIn(f.submissionPort, 'awa@sante.gouv.tg', PASSWORD);
  expect(auth.code).toBe(235);
  const mail = await c.cmd(`MAIL FROM:<awa@sante.gouv.tg>${params}`);
  expect(mail.code, mail.text).toBe(250);
  expect((await c.cmd(`RCPT TO:<${to}>`)).code).toBe(250);
  const r = await c.dataRaw(`${text}.\r\n`);
  c.close();
  return r;
}

const letter = (to: string, extra = '') => `From: Awa <awa@sante.gouv.tg>\r\nTo: ${to}\r\nSubject: confidentiel\r\n${extra}\r\nLe corps secret.\r\n`;

function worker(f: SmtpFixture, over: Partial<QueueWorkerOptions>): QueueWorker {
  return new QueueWorker({ queue: f.queue, blobs: f.blobs, directory: f.directory, delivery: f.delivery, hostname: 'mail.sante.gouv.tg', ...over });
}

describe('REQUIRETLS on the listeners', () => {
  it('is offered only inside TLS, on the MX and on submission, and refused in the clear', async () => {
    const f = await fixture();
    for (const port of [f.mxPort, f.submissionPort]) {
      const { c } = await RawSmtp.connect(port);
      expect((await c.cmd('EHLO client.example.org')).lines).not.toContain('REQUIRETLS');
      const clear = await c.cmd('MAIL FROM:<ami@example.org> REQUIRETLS');
      expect(clear.code).toBe(530);
      await c.starttls();
      expect((await c.cmd('EHLO client.example.org')).lines).toContain('REQUIRETLS');
      if (port === f.mxPort) {
        expect((await c.cmd('MAIL FROM:<ami@example.org> REQUIRETLS=yes')).code).toBe(501);
        expect((await c.cmd('MAIL FROM:<ami@example.org> REQUIRETLS REQUIRETLS')).code).toBe(501);
        expect((await c.cmd('MAIL FROM:<ami@example.org> REQUIRETLS')).code).toBe(250);
      }
      c.close();
    }
  });

  it('a listener without TLS never offers it', async () => {
    const f = await fixture({ tls: null });
    const { c } = await RawSmtp.connect(f.mxPort);
    const ehlo = await c.cmd('EHLO client.example.org');
    expect(ehlo.lines).not.toContain('REQUIRETLS');
    expect(ehlo.lines).not.toContain('STARTTLS');
    expect((await c.cmd('MAIL FROM:<ami@example.org> REQUIRETLS')).code).toBe(530);
    c.close();
  });

  it('keeps REQUIRETLS, or the sender\'s TLS-Required: No, with the queued message', async () => {
    const f = await fixture();
    await submitRaw(f, ' REQUIRETLS', 'ami@example.org', letter('ami@example.org', 'TLS-Required: No\r\n'));
    await submitRaw(f, '', 'bob@example.net', letter('bob@example.net', 'TLS-Required: No\r\n'));
    await submitRaw(f, '', 'eve@example.com', letter('eve@example.com'));
    const policy = Object.fromEntries((await f.queue.list()).map((j) => [j.recipients[0]!.address, j.message.tlsPolicy]));
    expect(policy).toEqual({ 'ami@example.org': 'requiretls', 'bob@example.net': 'tls-required-no', 'eve@example.com': null });
  });

  it('MX mail received with REQUIRETLS keeps it when a Sieve redirect sends it on', async () => {
    const sieveScripts = new MemorySieveScriptStore();
    const f = await fixture({ sieveScripts });
    await sieveScripts.put(f.awa.id, 'suivre', 'redirect "ami@example.org";');
    await sieveScripts.setActive(f.awa.id, 'suivre');
    for (const params of [' REQUIRETLS', '']) {
      const { c } = await RawSmtp.connect(f.mxPort);
      await c.cmd('EHLO client.example.org');
      await c.starttls();
      await c.cmd('EHLO client.example.org');
      expect((await c.cmd(`MAIL FROM:<bob@example.net>${params}`)).code).toBe(250);
      expect((await c.cmd('RCPT TO:<awa@sante.gouv.tg>')).code).toBe(250);
      expect((await c.dataRaw(`From: bob@example.net\r\nTo: awa@sante.gouv.tg\r\nSubject: suivi${params}\r\nTLS-Required: No\r\n\r\nx\r\n.\r\n`)).code).toBe(250);
      c.close();
    }
    const queued = await f.queue.list();
    expect(queued.map((j) => [j.recipients[0]!.address, j.message.tlsPolicy]).sort()).toEqual([
      ['ami@example.org', 'requiretls'],
      ['ami@example.org', null], // TLS-Required: No from a stranger on the MX means nothing
    ].sort());
  });

  it('reads TLS-Required strictly: one field saying No, from our own users only', () => {
    const h = (text: string) => HeaderSection.parse(Buffer.from(`From: a@b.example\r\n${text}\r\n`));
    const of = (text: string, role: 'mx' | 'submission' = 'submission', requireTls = false) => tlsPolicyOf({ requireTls, role, header: h(text) });
    expect(of('TLS-Required: No\r\n')).toBe('tls-required-no');
    expect(of('tls-required:   nO \r\n')).toBe('tls-required-no');
    expect(of('TLS-Required: No\r\n', 'submission', true)).toBe('requiretls'); // §4.1: ignored with REQUIRETLS
    expect(of('TLS-Required: No\r\n', 'mx')).toBeNull();
    expect(of('TLS-Required: Yes\r\n')).toBeNull();
    expect(of('TLS-Required: No, please\r\n')).toBeNull();
    expect(of('TLS-Required: No\r\nTLS-Required: No\r\n')).toBeNull();
    expect(of('')).toBeNull();
  });
});

describe('REQUIRETLS in the outbound queue', () => {
  it('delivers through a relay with a verified certificate that offers REQUIRETLS (a Palabre MX)', async () => {
    const ca = await testCa();
    // Another organisation's server (it hosts sante.gouv.tg too in this fixture: trust our loopback sender).
    const receiver = await fixture({ hostname: 'relay.example.org', tls: await ca.issue(['relay.example.org']), trustedNetworks: ['127.0.0.1/32'] });
    await receiver.directory.createDomain({ name: 'example.org' });
    await receiver.directory.createAccount({ address: 'ami@example.org', displayName: 'Ami' });
    const f = await fixture();
    expect((await submitRaw(f, ' REQUIRETLS', 'ami@example.org', letter('ami@example.org'))).code).toBe(250);
    const dns = fakeDns({ 'A:relay.example.org': ['127.0.0.1'] });
    await worker(f, { dns, tlsCa: [ca.cert], smarthost: { host: 'relay.example.org', port: receiver.mxPort, requireTls: true } }).runOnce();
    expect(receiver.delivery.messages, JSON.stringify(await f.queue.list())).toHaveLength(1);
    expect(await receiver.delivery.text(0)).toContain('Le corps secret.');
    expect(await f.queue.list()).toHaveLength(0);
  });

  it('bounces with 5.7.30, headers only, when the relay\'s certificate cannot be verified', async () => {
    const ca = await testCa();
    // Another organisation's server (it hosts sante.gouv.tg too in this fixture: trust our loopback sender).
    const receiver = await fixture({ hostname: 'relay.example.org', tls: await ca.issue(['relay.example.org']), trustedNetworks: ['127.0.0.1/32'] });
    await receiver.directory.createDomain({ name: 'example.org' });
    await receiver.directory.createAccount({ address: 'ami@example.org', displayName: 'Ami' });
    const f = await fixture();
    await submitRaw(f, ' REQUIRETLS', 'ami@example.org', letter('ami@example.org'));
    const dns = fakeDns({ 'A:relay.example.org': ['127.0.0.1'] });
    // tlsInsecure says the relay may be self-signed: REQUIRETLS overrides it, and we do not trust this CA.
    await worker(f, { dns, smarthost: { host: 'relay.example.org', port: receiver.mxPort, requireTls: true, tlsInsecure: true } }).runOnce();
    expect(receiver.delivery.messages).toHaveLength(0);
    const [bounce] = await f.queue.list();
    expect(bounce!.message.sender).toBe('');
    expect(bounce!.message.tlsPolicy).toBe('requiretls');
    const text = (await f.blobs.read(bounce!.message.blobId)).toString();
    expect(text).toMatch(/Status: 5\.7\.30/);
    expect(text).toContain('Subject: confidentiel');
    expect(text).not.toContain('Le corps secret.');
    // The same message without REQUIRETLS goes through this relay (the test can tell the two apart).
    const g = await fixture();
    await submitRaw(g, '', 'ami@example.org', letter('ami@example.org'));
    await worker(g, { dns, smarthost: { host: 'relay.example.org', port: receiver.mxPort, requireTls: true, tlsInsecure: true } }).runOnce();
    expect(receiver.delivery.messages).toHaveLength(1);
  });

  it('bounces with 5.7.30 when the next hop does not offer REQUIRETLS, and sends it nothing', async () => {
    const mx = await startFakeMx({ value: 'accept' });
    open.push(mx);
    const f = await fixture();
    await submitRaw(f, ' REQUIRETLS', 'ami@example.org', letter('ami@example.org'));
    // The relay's certificate verifies (we trust it); it just has no REQUIRETLS.
    await worker(f, { tlsCa: [(await selfSignedTls()).cert], smarthost: { host: 'localhost', port: mx.port, requireTls: true } }).runOnce();
    expect(mx.received).toHaveLength(0);
    const [bounce] = await f.queue.list();
    expect((await f.blobs.read(bounce!.message.blobId)).toString()).toMatch(/Status: 5\.7\.30[\s\S]*REQUIRETLS support required/);
  });

  it('to an MX host that no MTA-STS policy vouches for: 5.7.30 without a connection', async () => {
    const mx = await startFakeMx({ value: 'accept' });
    open.push(mx);
    const f = await fixture();
    await submitRaw(f, ' REQUIRETLS', 'ami@example.org', letter('ami@example.org'));
    await submitRaw(f, '', 'bob@example.org', letter('bob@example.org'));
    await worker(f, { dns: fakeDns(), port: mx.port, lookupMx: async () => ({ kind: 'hosts', hosts: [{ host: '127.0.0.1', priority: 10 }] }) }).runOnce();
    expect(mx.received.map((m) => m.to)).toEqual([['bob@example.org']]);
    const [bounce] = await f.queue.list();
    expect((await f.blobs.read(bounce!.message.blobId)).toString()).toMatch(/Status: 5\.7\.30[\s\S]*cannot be authenticated/);
  });
});
