import nodemailer from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RawSmtp } from './helpers/raw-smtp.js';
import { startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';

let f: SmtpFixture;
beforeEach(async () => {
  f = await startSmtpFixture();
});
afterEach(async () => f.close());

const msg = (from: string, to: string, subject: string, extra = '') =>
  `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\nDate: Tue, 03 Mar 2026 10:00:00 +0000\r\n${extra}\r\nHello ${subject}.\r\n`;

describe('MX intake', () => {
  it('delivers mail for a hosted address with trace and authentication results, only after it is stored', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: f.mxPort, secure: false, tls: { rejectUnauthorized: false } });
    const info = await t.sendMail({ envelope: { from: 'ami@example.org', to: ['awa@sante.gouv.tg'] }, raw: msg('ami@example.org', 'awa@sante.gouv.tg', 'bonjour') });
    expect(info.response).toMatch(/^250 2\.6\.0 Ok: queued as \w+/);
    expect(f.delivery.inbox(f.awa.id)).toHaveLength(1);
    const text = await f.delivery.text(0);
    expect(text).toMatch(/^Return-Path: <ami@example\.org>\r\n/);
    expect(text).toMatch(/Authentication-Results: mail\.sante\.gouv\.tg;/);
    expect(text).toMatch(/spf=none/);
    expect(text).toMatch(/Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby mail\.sante\.gouv\.tg \(Palabre\) with ESMTPS id \w+\r\n\tfor <awa@sante\.gouv\.tg>;/);
    expect(text).toContain('\r\n\r\nHello bonjour.\r\n');
    const stored = f.delivery.messages[0]!.message;
    expect(stored.size).toBe(Buffer.byteLength(text));
    expect(stored.analysis.headerBytes).toBe(text.indexOf('\r\n\r\n') + 4);
  });

  it('expands groups and aliases, one blob shared by all recipients', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: f.mxPort, secure: false, ignoreTLS: true });
    await t.sendMail({ envelope: { from: 'ami@example.org', to: ['tous@sante.gouv.tg', 'direction@sante.gouv.tg'] }, raw: msg('ami@example.org', 'tous@sante.gouv.tg', 'liste') });
    expect(f.delivery.inbox(f.awa.id)).toHaveLength(1);
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(1);
    expect(new Set(f.delivery.messages.map((m) => m.message.blobId)).size).toBe(1);
  });

  it('refuses unknown recipients at RCPT and never relays', async () => {
    const { c } = await RawSmtp.connect(f.mxPort);
    await c.cmd('EHLO attacker.example');
    expect((await c.cmd('MAIL FROM:<x@attacker.example>')).code).toBe(250);
    const unknown = await c.cmd('RCPT TO:<nobody@sante.gouv.tg>');
    expect(unknown.code).toBe(550);
    expect(unknown.text).toMatch(/^5\.1\.1 /);
    const relay = await c.cmd('RCPT TO:<victim@gmail.com>');
    expect(relay.code).toBe(554);
    expect(relay.text).toMatch(/^5\.7\.1 relay access denied/);
    expect((await c.cmd('DATA')).code).toBe(503);
    c.close();
    expect(await f.queue.summary(new Date())).toMatchObject({ messages: 0 });
  });
});

describe('submission', () => {
  it('sends as the user over STARTTLS + AUTH, adds Message-ID and Date, signs nothing without a key', async () => {
    await f.submitter().sendMail({
      envelope: { from: 'awa@sante.gouv.tg', to: ['kofi@finances.gouv.tg', 'someone@example.org'] },
      raw: 'From: Awa <awa@sante.gouv.tg>\r\nTo: kofi@finances.gouv.tg, someone@example.org\r\nBcc: secret@example.org\r\nSubject: rapport\r\n\r\nBonjour.\r\n',
    });
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(1);
    const text = await f.delivery.text(0);
    expect(text).toMatch(/\r\nMessage-ID: <[0-9a-f-]{36}@mail\.sante\.gouv\.tg>\r\n/);
    expect(text).toMatch(/\r\nDate: \w{3}, \d{2} \w{3} \d{4} /);
    expect(text).not.toMatch(/Bcc:/i);
    expect(text).toMatch(/with ESMTPSA id/);
    const [job] = await f.queue.list();
    expect(job).toMatchObject({ domain: 'example.org', transport: 'smtp' });
    expect(job!.message.sender).toBe('awa@sante.gouv.tg');
    expect(job!.message.blobId).toBe(f.delivery.messages[0]!.message.blobId);
  });
});
