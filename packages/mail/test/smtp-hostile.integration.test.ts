import { afterEach, describe, expect, it } from 'vitest';
import { RawSmtp } from './helpers/raw-smtp.js';
import { PASSWORD, startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';

let f: SmtpFixture | null = null;
afterEach(async () => {
  await f?.close();
  f = null;
});

const body = (subject: string) => `From: ami@example.org\r\nTo: awa@sante.gouv.tg\r\nSubject: ${subject}\r\n\r\nline one\r\n`;

async function mxSession(port: number): Promise<RawSmtp> {
  const { c } = await RawSmtp.connect(port);
  await c.cmd('EHLO client.example.org');
  expect((await c.cmd('MAIL FROM:<ami@example.org>')).code).toBe(250);
  expect((await c.cmd('RCPT TO:<awa@sante.gouv.tg>')).code).toBe(250);
  return c;
}

describe('SMTP smuggling and bare line ends', () => {
  for (const [name, payload] of [
    ['bare LF dot bare LF', `${body('a')}\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<awa@sante.gouv.tg>\r\nDATA\r\nsmuggled\r\n.\r\n`],
    ['bare LF dot CRLF', `${body('b')}\n.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<awa@sante.gouv.tg>\r\nDATA\r\nsmuggled\r\n.\r\n`],
    ['CR dot CRLF', `${body('c')}\r.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<awa@sante.gouv.tg>\r\nDATA\r\nsmuggled\r\n.\r\n`],
    ['bare LF inside the body', `${body('d')}second\nthird\r\n.\r\n`],
  ] as const) {
    it(`refuses ${name}, delivers nothing and runs no smuggled command`, async () => {
      f = await startSmtpFixture();
      const c = await mxSession(f.mxPort);
      const r = await c.dataRaw(payload);
      expect(r.code).toBe(550);
      expect(r.text).toMatch(/^5\.6\.11 bare CR or LF/);
      expect((await c.cmd('NOOP')).code).toBe(250);
      c.close();
      expect(f.delivery.messages).toHaveLength(0);
    });
  }

  it('treats a dot-stuffed line as content, not as the end', async () => {
    f = await startSmtpFixture();
    const c = await mxSession(f.mxPort);
    const r = await c.dataRaw(`${body('dots')}..\r\n...hidden\r\n.\r\n`);
    expect(r.code).toBe(250);
    c.close();
    expect(await f.delivery.text(0)).toMatch(/line one\r\n\.\r\n\.\.hidden\r\n$/);
  });
});

describe('malformed input', () => {
  it('answers bad commands precisely and keeps the session usable', async () => {
    f = await startSmtpFixture();
    const { c } = await RawSmtp.connect(f.mxPort);
    expect((await c.cmd('MAIL FROM:<a@example.org>')).code).toBe(503);
    expect((await c.cmd('EHLO bad host name!')).code).toBe(501);
    expect((await c.cmd('EHLO ok.example.org')).code).toBe(250);
    expect((await c.cmd('XYZZY')).code).toBe(500);
    expect((await c.cmd('MAIL FROM:<broken')).code).toBe(501);
    const bogus = await c.cmd('MAIL FROM:<a@example.org> X-BOGUS=1');
    expect(bogus.code).toBe(555);
    expect((await c.cmd('MAIL FROM:<a@example.org> ENVID=x+0D+0ABcc:+20victim@example.org')).code).toBe(501);
    expect((await c.cmd('MAIL FROM:<jörg@example.org>')).code).toBe(553); // UTF-8 without SMTPUTF8
    expect((await c.cmd('MAIL FROM:<jörg@example.org> SMTPUTF8')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<awa@sante.gouv.tg> NOTIFY=SUCCESS')).code).toBe(555); // no DSN on the MX
    expect((await c.cmd(`RCPT TO:<${'a'.repeat(300)}@sante.gouv.tg>`)).code).toBeGreaterThanOrEqual(500);
    expect((await c.cmd('NOOP')).code).toBe(250);
    c.close();
  });

  it('refuses a message over the size limit, announced or not', async () => {
    f = await startSmtpFixture({ limits: { maxMessageBytes: 10_000 } });
    const { c } = await RawSmtp.connect(f.mxPort);
    const ehlo = await c.cmd('EHLO client.example.org');
    expect(ehlo.lines).toContain('SIZE 10000');
    expect((await c.cmd('MAIL FROM:<ami@example.org> SIZE=10001')).code).toBe(552);
    expect((await c.cmd('MAIL FROM:<ami@example.org>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<awa@sante.gouv.tg>')).code).toBe(250);
    const r = await c.dataRaw(`${body('big')}${'x'.repeat(76)}\r\n`.repeat(1) + `${'y'.repeat(70)}\r\n`.repeat(200) + '.\r\n');
    expect(r.code).toBe(552);
    expect((await c.cmd('NOOP')).code).toBe(250);
    c.close();
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('keeps client-controlled names out of header structure', async () => {
    f = await startSmtpFixture();
    const { c } = await RawSmtp.connect(f.mxPort);
    await c.cmd('EHLO [127.0.0.1]');
    await c.cmd('MAIL FROM:<ami@example.org>');
    await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    // A forged Authentication-Results claiming our host name, and a forged Return-Path.
    const r = await c.dataRaw(
      'Authentication-Results: mail.sante.gouv.tg; dmarc=pass header.from=sante.gouv.tg\r\nReturn-Path: <boss@sante.gouv.tg>\r\nFrom: ami@example.org\r\nSubject: x\r\n\r\nhi\r\n.\r\n',
    );
    expect(r.code).toBe(250);
    c.close();
    const text = await f.delivery.text(0);
    expect(text).not.toContain('dmarc=pass header.from=sante.gouv.tg');
    expect(text).not.toContain('boss@sante.gouv.tg');
    expect(text.match(/^Return-Path: /gm)).toHaveLength(1);
  });
});

describe('relay and spoofing, from the attacker side', () => {
  it('submission without AUTH takes nothing', async () => {
    f = await startSmtpFixture();
    const { c } = await RawSmtp.connect(f.submissionPort);
    await c.cmd('EHLO attacker.example');
    expect((await c.cmd('MAIL FROM:<awa@sante.gouv.tg>')).code).toBe(530);
    expect((await c.cmd('RCPT TO:<victim@example.org>')).code).toBe(530);
    c.close();
  });

  it('an authenticated user cannot send as someone else (envelope or From:)', async () => {
    f = await startSmtpFixture();
    const { c } = await RawSmtp.connect(f.submissionPort);
    await c.cmd('EHLO laptop');
    await c.starttls();
    await c.cmd('EHLO laptop');
    expect((await c.authPlain('kofi@finances.gouv.tg', PASSWORD)).code).toBe(235);
    expect((await c.cmd('MAIL FROM:<awa@sante.gouv.tg>')).code).toBe(553);
    expect((await c.cmd('MAIL FROM:<kofi@finances.gouv.tg>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<victim@example.org>')).code).toBe(250);
    const r = await c.dataRaw('From: Awa <awa@sante.gouv.tg>\r\nSubject: virement urgent\r\n\r\npay\r\n.\r\n');
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 you may not send as awa@sante\.gouv\.tg/);
    c.close();
    expect(await f.queue.list()).toHaveLength(0);
  });

  it('an alias is a usable sender', async () => {
    f = await startSmtpFixture();
    await f.submitter().sendMail({ envelope: { from: 'direction@sante.gouv.tg', to: ['kofi@finances.gouv.tg'] }, raw: 'From: direction@sante.gouv.tg\r\nSubject: note\r\n\r\nx\r\n' });
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(1);
  });

  it('unauthenticated mail claiming a hosted domain is refused on the MX, unless from a trusted network', async () => {
    f = await startSmtpFixture();
    const c = await RawSmtp.connect(f.mxPort).then((x) => x.c);
    await c.cmd('EHLO attacker.example');
    await c.cmd('MAIL FROM:<awa@sante.gouv.tg>');
    await c.cmd('RCPT TO:<kofi@finances.gouv.tg>');
    const r = await c.dataRaw('From: Awa <awa@sante.gouv.tg>\r\nSubject: urgent\r\n\r\npay\r\n.\r\n');
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 /);
    c.close();
    expect(f.delivery.messages).toHaveLength(0);
    await f.close();
    f = await startSmtpFixture({ trustedNetworks: ['127.0.0.0/8'] });
    const d = await RawSmtp.connect(f.mxPort).then((x) => x.c);
    await d.cmd('EHLO scanner.sante.gouv.tg');
    await d.cmd('MAIL FROM:<awa@sante.gouv.tg>');
    await d.cmd('RCPT TO:<kofi@finances.gouv.tg>');
    expect((await d.dataRaw('From: Awa <awa@sante.gouv.tg>\r\nSubject: scan\r\n\r\nx\r\n.\r\n')).code).toBe(250);
    d.close();
  });

  it('honours a foreign domain\'s DMARC p=reject and files p=quarantine in Junk', async () => {
    f = await startSmtpFixture();
    f.dns.records['TXT:_dmarc.bank.example'] = [['v=DMARC1; p=reject']];
    f.dns.records['TXT:bank.example'] = [['v=spf1 ip4:192.0.2.1 -all']];
    f.dns.records['TXT:_dmarc.shop.example'] = [['v=DMARC1; p=quarantine']];
    f.dns.records['TXT:shop.example'] = [['v=spf1 ip4:192.0.2.1 -all']];
    const send = async (domain: string) => {
      const { c } = await RawSmtp.connect(f!.mxPort);
      await c.cmd('EHLO attacker.example');
      await c.cmd(`MAIL FROM:<billing@${domain}>`);
      await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
      const r = await c.dataRaw(`From: billing@${domain}\r\nSubject: invoice\r\n\r\nx\r\n.\r\n`);
      c.close();
      return r;
    };
    const rejected = await send('bank.example');
    expect(rejected.code).toBe(550);
    expect(rejected.text).toMatch(/DMARC policy of bank\.example/);
    expect((await send('shop.example')).code).toBe(250);
    expect(f.delivery.messages).toHaveLength(1);
    expect(f.delivery.messages[0]!.mailbox).toBe('\\Junk');
    expect(await f.delivery.text(0)).toMatch(/dmarc=fail/);
  });
});

describe('AUTH', () => {
  it('is not offered before TLS, and three failures close the session', async () => {
    f = await startSmtpFixture();
    const { c } = await RawSmtp.connect(f.submissionPort);
    const before = await c.cmd('EHLO laptop');
    expect(before.lines.some((l) => l.startsWith('AUTH'))).toBe(false);
    expect((await c.authPlain('awa@sante.gouv.tg', PASSWORD)).code).toBe(538);
    await c.starttls();
    const after = await c.cmd('EHLO laptop');
    expect(after.lines).toContain('AUTH PLAIN LOGIN');
    expect((await c.authPlain('awa@sante.gouv.tg', 'guess-1')).code).toBe(535);
    expect((await c.authPlain('awa@sante.gouv.tg', 'guess-2')).code).toBe(535);
    expect((await c.authPlain('awa@sante.gouv.tg', 'guess-3')).code).toBe(421);
    expect((await c.cmd('NOOP')).code).toBe(0); // closed
    expect(f.logger.text()).not.toMatch(/guess-|correct horse/);
  });

  it('passes the authenticator\'s throttling on as 454 4.7.0', async () => {
    f = await startSmtpFixture({
      authenticator: {
        verifyPassword: async () => ({ ok: false, reason: 'throttled', retryAfterMs: 30_000 }),
        verifyBearer: async () => ({ ok: false, reason: 'invalid-credentials' }),
      },
    });
    const { c } = await RawSmtp.connect(f.submissionPort);
    await c.cmd('EHLO laptop');
    await c.starttls();
    await c.cmd('EHLO laptop');
    const r = await c.authPlain('awa@sante.gouv.tg', PASSWORD);
    expect(r.code).toBe(454);
    expect(r.text).toMatch(/^4\.7\.0 too many failed logins, try again in 30 s/);
    c.close();
  });
});

/** MAIL and RCPT on the MX (no AUTH), then DATA with `message` and the terminator. */
async function mxData(port: number, message: string | Buffer, from = 'ami@example.org', to = 'kofi@finances.gouv.tg') {
  const { c } = await RawSmtp.connect(port);
  await c.cmd('EHLO attacker.example');
  expect((await c.cmd(`MAIL FROM:<${from}>`)).code).toBe(250);
  expect((await c.cmd(`RCPT TO:<${to}>`)).code).toBe(250);
  const r = await c.dataRaw(Buffer.concat([Buffer.from(message), Buffer.from('.\r\n')]));
  expect((await c.cmd('NOOP')).code).toBe(250); // the session goes on after a refusal
  c.close();
  return r;
}

/** An authenticated submission session for kofi: MAIL FROM his own address, one local recipient. */
async function submitData(f: SmtpFixture, message: string) {
  const { c } = await RawSmtp.connect(f.submissionPort);
  await c.cmd('EHLO laptop');
  await c.starttls();
  await c.cmd('EHLO laptop');
  expect((await c.authPlain('kofi@finances.gouv.tg', PASSWORD)).code).toBe(235);
  expect((await c.cmd('MAIL FROM:<kofi@finances.gouv.tg>')).code).toBe(250);
  expect((await c.cmd('RCPT TO:<awa@sante.gouv.tg>')).code).toBe(250);
  expect((await c.cmd('RCPT TO:<victim@example.org>')).code).toBe(250);
  const r = await c.dataRaw(`${message}.\r\n`);
  c.close();
  return r;
}

describe('one header parser: the From the policy checks is the From the reader sees (issue 11)', () => {
  for (const [name, from] of [
    ['a space before the colon', 'From : Awa <awa@sante.gouv.tg>'],
    ['a tab before the colon', 'From\t: Awa <awa@sante.gouv.tg>'],
  ] as const) {
    it(`MX: refuses a From with ${name} (obsolete syntax) claiming a hosted address`, async () => {
      f = await startSmtpFixture();
      const r = await mxData(f.mxPort, `${from}\r\nTo: kofi@finances.gouv.tg\r\nSubject: virement urgent\r\n\r\npay\r\n`);
      expect(r.code).toBe(550);
      expect(r.text).toMatch(/^5\.6\.0 malformed header field "From :": a field name is followed directly by its colon \(RFC 5322 §2\.2\)$/);
      expect(f.delivery.messages).toHaveLength(0);
    });
  }

  it('MX: refuses a second From (only the first was checked) and a message without From', async () => {
    f = await startSmtpFixture();
    const two = await mxData(f.mxPort, 'From: ami@example.org\r\nFrom: Awa <awa@sante.gouv.tg>\r\nSubject: x\r\n\r\npay\r\n');
    expect(two.code).toBe(550);
    expect(two.text).toBe('5.6.0 more than one From: field (RFC 5322 §3.6 allows exactly one)');
    const none = await mxData(f.mxPort, 'To: kofi@finances.gouv.tg\r\nSubject: x\r\n\r\npay\r\n');
    expect(none.code).toBe(550);
    expect(none.text).toBe('5.6.0 a From: field is required (RFC 5322 §3.6)');
    const empty = await mxData(f.mxPort, 'From: undisclosed-senders:;\r\nSubject: x\r\n\r\npay\r\n');
    expect(empty.code).toBe(550);
    expect(empty.text).toBe('5.6.0 the From: field is not a list of addresses (RFC 5322 §3.4)');
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('MX: refuses a Sender claiming a hosted address without DMARC alignment', async () => {
    f = await startSmtpFixture();
    const r = await mxData(f.mxPort, 'From: ami@example.org\r\nSender: Awa <awa@sante.gouv.tg>\r\nSubject: x\r\n\r\npay\r\n');
    expect(r.code).toBe(550);
    expect(r.text).toBe('5.7.1 Sender: awa@sante.gouv.tg is one of our addresses, but the message is not authenticated for sante.gouv.tg');
    expect(f.delivery.messages).toHaveLength(0);
    // A foreign Sender is nobody's business but its own domain's.
    expect((await mxData(f.mxPort, 'From: ami@example.org\r\nSender: list@lists.example.org\r\nSubject: x\r\n\r\nhi\r\n')).code).toBe(250);
    expect(f.delivery.messages).toHaveLength(1);
  });

  it('MX: a folded From is read whole, so a hosted address on its second line is still caught', async () => {
    f = await startSmtpFixture();
    const r = await mxData(f.mxPort, 'From: "Ami\r\n Mensah" <ami@example.org>,\r\n\tAwa <awa@sante.gouv.tg>\r\nSubject: x\r\n\r\npay\r\n');
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 /);
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('MX: refuses a header line that is no field, where another parser could find a From', async () => {
    f = await startSmtpFixture();
    const r = await mxData(f.mxPort, 'From: ami@example.org\r\nSubject: x\r\nFrom\r\n\r\npay\r\n');
    expect(r.code).toBe(550);
    expect(r.text).toBe('5.6.0 malformed header line "From": not a header field (RFC 5322 §2.2)');
    expect(f.delivery.messages).toHaveLength(0);
  });

  for (const [name, header] of [
    ['a From with a blank before the colon ahead of the real one', 'From : Awa <awa@sante.gouv.tg>\r\nFrom: kofi@finances.gouv.tg\r\n'],
    ['a Sender with a blank before the colon', 'From: kofi@finances.gouv.tg\r\nSender : awa@sante.gouv.tg\r\n'],
    ['a second From', 'From: kofi@finances.gouv.tg\r\nFrom: Awa <awa@sante.gouv.tg>\r\n'],
    ['a second Sender', 'From: kofi@finances.gouv.tg\r\nSender: kofi@finances.gouv.tg\r\nSender: awa@sante.gouv.tg\r\n'],
  ] as const) {
    it(`submission: an authenticated user cannot send as another with ${name}`, async () => {
      f = await startSmtpFixture();
      const r = await submitData(f, `${header}To: awa@sante.gouv.tg\r\nSubject: note\r\n\r\nbody\r\n`);
      expect(r.code).toBe(550);
      expect(r.text).toMatch(/^5\.(6\.0|7\.1) /);
      expect(f.delivery.messages).toHaveLength(0);
      expect(await f.queue.list()).toHaveLength(0);
    });
  }

  it('submission: every address of From and Sender must be the user\'s own', async () => {
    f = await startSmtpFixture();
    const r = await submitData(f, 'From: kofi@finances.gouv.tg, Awa <awa@sante.gouv.tg>\r\nSender: kofi@finances.gouv.tg\r\nSubject: x\r\n\r\nbody\r\n');
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 you may not send as awa@sante\.gouv\.tg/);
    const ok = await submitData(f, 'From: Kofi <kofi@finances.gouv.tg>\r\nSender: kofi@finances.gouv.tg\r\nSubject: x\r\n\r\nbody\r\n');
    expect(ok.code).toBe(250);
  });
});

describe('a 250 is a delivered message (issue 11)', () => {
  const report = 'From: cron@example.org\r\nTo: kofi@finances.gouv.tg\r\nSubject: nightly report\r\n\r\nall green\r\n';

  it('the same report sent three times without Message-ID is delivered three times', async () => {
    f = await startSmtpFixture();
    for (let i = 0; i < 3; i++) expect((await mxData(f.mxPort, report, 'cron@example.org')).code).toBe(250);
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(3);
  });

  it('a resend with the same Message-ID but other bytes is a new message; the same bytes again are a retry', async () => {
    f = await startSmtpFixture();
    const withId = (body: string) => `From: cron@example.org\r\nMessage-ID: <report-1@example.org>\r\nSubject: report\r\n\r\n${body}\r\n`;
    expect((await mxData(f.mxPort, withId('first'), 'cron@example.org')).code).toBe(250);
    expect((await mxData(f.mxPort, withId('first'), 'cron@example.org')).code).toBe(250); // a retry after a lost 250
    expect((await mxData(f.mxPort, withId('second'), 'cron@example.org')).code).toBe(250);
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(2);
  });
});

describe('RFC 5322 lines in DATA (issue 11)', () => {
  it('refuses a NUL byte', async () => {
    f = await startSmtpFixture();
    const r = await mxData(f.mxPort, 'From: ami@example.org\r\nSubject: x\r\n\r\nbefore\u0000after\r\n');
    expect(r.code).toBe(550);
    expect(r.text).toBe('5.6.0 NUL byte in the message (RFC 5322 §2.1)');
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('refuses a 5 MB line, and a line of 999 characters; takes 998', async () => {
    f = await startSmtpFixture();
    const huge = await mxData(f.mxPort, `From: ami@example.org\r\nSubject: x\r\n\r\n${'a'.repeat(5 * 1024 * 1024)}\r\n`);
    expect(huge.code).toBe(550);
    expect(huge.text).toBe('5.6.0 line longer than 998 characters (RFC 5322 §2.1.1)');
    const header = await mxData(f.mxPort, `From: ami@example.org\r\nSubject: ${'b'.repeat(990)}\r\n\r\nx\r\n`);
    expect(header.code).toBe(550);
    expect((await mxData(f.mxPort, `From: ami@example.org\r\nSubject: x\r\n\r\n${'c'.repeat(999)}\r\n`)).code).toBe(550);
    expect(f.delivery.messages).toHaveLength(0);
    expect((await mxData(f.mxPort, `From: ami@example.org\r\nSubject: x\r\n\r\n${'d'.repeat(998)}\r\n`)).code).toBe(250);
    expect(f.delivery.messages).toHaveLength(1);
  });
});
