import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RawSmtp } from './helpers/raw-smtp.js';
import { PASSWORD, startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';

/** RFC 3030 CHUNKING (BDAT) on the MX and submission listeners, from the client's and the attacker's side. */
let f: SmtpFixture | null = null;
let spool: string | null = null;
afterEach(async () => {
  await f?.close();
  f = null;
  if (spool) await rm(spool, { recursive: true, force: true });
  spool = null;
});

const message = (subject: string, body = 'line one\r\n') =>
  `From: ami@example.org\r\nTo: awa@sante.gouv.tg\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\n${body}`;

async function transaction(port: number): Promise<RawSmtp> {
  const { c } = await RawSmtp.connect(port);
  await c.cmd('EHLO client.example.org');
  expect((await c.cmd('MAIL FROM:<ami@example.org>')).code).toBe(250);
  expect((await c.cmd('RCPT TO:<awa@sante.gouv.tg>')).code).toBe(250);
  return c;
}

/** Until the server has let go of every session (its close handlers ran). */
async function sessionsGone(fixture: SmtpFixture): Promise<void> {
  while (fixture.mx.server.connections.size > 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
}

describe('BDAT: a message in chunks', () => {
  it('is offered on the MX and on submission', async () => {
    f = await startSmtpFixture();
    const { c } = await RawSmtp.connect(f.mxPort);
    expect((await c.cmd('EHLO client.example.org')).lines).toContain('CHUNKING');
    c.close();
    const { c: s } = await RawSmtp.connect(f.submissionPort);
    await s.cmd('EHLO laptop');
    await s.starttls();
    expect((await s.cmd('EHLO laptop')).lines).toContain('CHUNKING');
    s.close();
  });

  it('delivers the chunks byte for byte, with the trace headers DATA adds and the same 250', async () => {
    f = await startSmtpFixture();
    const text = message('en trois morceaux', 'un\r\ndeux\r\n.\r\n..trois\r\n');
    const c = await transaction(f.mxPort);
    expect((await c.bdat(text.slice(0, 7))).text).toBe('2.0.0 7 octets received');
    expect((await c.bdat(text.slice(7, 60))).code).toBe(250);
    const r = await c.bdat(text.slice(60), true);
    expect(r.code).toBe(250);
    expect(r.text).toMatch(/^2\.6\.0 Ok: queued as /); // as DATA answers
    // The transaction is over: the next one starts with MAIL.
    expect((await c.cmd('MAIL FROM:<ami@example.org>')).code).toBe(250);
    c.close();
    expect(f.delivery.messages).toHaveLength(1);
    const stored = await f.delivery.text(0);
    // A dot line is content in BDAT: no dot-stuffing to undo.
    expect(stored.endsWith(text)).toBe(true);
    expect(stored).toMatch(/^Return-Path: <ami@example\.org>\r\n/);
    expect(stored).toMatch(/\r\nReceived: from client\.example\.org \(\[127\.0\.0\.1\]\)\r\n\tby mail\.sante\.gouv\.tg \(Palabre\) with ESMTP id /);
    expect(stored).toMatch(/\r\nAuthentication-Results: mail\.sante\.gouv\.tg;/);
  });

  it('takes pipelined chunks and answers each in order', async () => {
    f = await startSmtpFixture();
    const text = message('pipelined');
    const { c } = await RawSmtp.connect(f.mxPort);
    await c.cmd('EHLO client.example.org');
    c.write(`MAIL FROM:<ami@example.org>\r\nRCPT TO:<awa@sante.gouv.tg>\r\nBDAT 10\r\n${text.slice(0, 10)}BDAT ${text.length - 10} LAST\r\n${text.slice(10)}NOOP\r\n`);
    const replies = [await c.reply(), await c.reply(), await c.reply(), await c.reply(), await c.reply()];
    expect(replies.map((r) => r.code)).toEqual([250, 250, 250, 250, 250]);
    expect(replies[3]!.text).toMatch(/Ok: queued as/);
    c.close();
    expect((await f.delivery.text(0)).endsWith(text)).toBe(true);
  });

  it('BDAT 0 LAST ends a message; alone it is an empty message, refused as DATA refuses one', async () => {
    f = await startSmtpFixture();
    const c = await transaction(f.mxPort);
    expect((await c.bdat(message('zero last'))).code).toBe(250);
    expect((await c.bdat('', true)).code).toBe(250);
    expect(f.delivery.messages).toHaveLength(1);
    await c.cmd('MAIL FROM:<ami@example.org>');
    await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    const empty = await c.bdat('', true);
    await c.cmd('MAIL FROM:<ami@example.org>');
    await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    const emptyData = await c.dataRaw('.\r\n');
    expect(empty.code).toBeGreaterThanOrEqual(500);
    expect(empty).toEqual(emptyData);
    c.close();
    expect(f.delivery.messages).toHaveLength(1);
  });

  it('runs the checks DATA runs: a bare LF is refused the same way', async () => {
    f = await startSmtpFixture();
    const c = await transaction(f.mxPort);
    const r = await c.bdat(message('bare', 'one\ntwo\r\n'), true);
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.6\.11 bare CR or LF/);
    await c.cmd('MAIL FROM:<ami@example.org>');
    await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    expect(await c.dataRaw(`${message('bare', 'one\ntwo\r\n')}.\r\n`)).toEqual(r);
    c.close();
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('submission: an authenticated user sends by BDAT through the same sender policy', async () => {
    f = await startSmtpFixture();
    const { c, auth } = await RawSmtp.signedIn(f.submissionPort, 'kofi@finances.gouv.tg', PASSWORD);
    expect(auth.code).toBe(235);
    await c.cmd('MAIL FROM:<kofi@finances.gouv.tg>');
    await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    const forged = await c.bdat('From: awa@sante.gouv.tg\r\nSubject: x\r\n\r\nhi\r\n', true);
    expect(forged.code).toBe(550);
    expect(forged.text).toMatch(/^5\.7\.1 /);
    await c.cmd('MAIL FROM:<kofi@finances.gouv.tg>');
    await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    const ok = await c.bdat('From: kofi@finances.gouv.tg\r\nBcc: secret@example.org\r\nSubject: x\r\n\r\nhi\r\n', true);
    expect(ok.code).toBe(250);
    c.close();
    expect(f.delivery.messages).toHaveLength(1);
    const stored = await f.delivery.text(0);
    expect(stored).not.toContain('secret@example.org');
    expect(stored).toMatch(/with ESMTPSA id /);
  });
});

describe('BDAT from the attacker side', () => {
  it('a chunk announced larger than sent waits for its bytes: commands inside are message bytes', async () => {
    f = await startSmtpFixture();
    const c = await transaction(f.mxPort);
    const text = message('fewer', 'RSET\r\nMAIL FROM:<evil@example.org>\r\n');
    const cut = text.indexOf('RSET');
    c.write(`BDAT ${text.length} LAST\r\n${text.slice(0, cut)}`);
    // The rest, which looks like commands, is still the chunk.
    c.write(text.slice(cut));
    expect((await c.reply()).code).toBe(250);
    c.close();
    expect(f.delivery.messages).toHaveLength(1);
    expect((await f.delivery.text(0)).endsWith(text)).toBe(true);
  });

  it('bytes past the announced size are commands again, not message', async () => {
    f = await startSmtpFixture();
    const c = await transaction(f.mxPort);
    const text = message('more');
    c.write(`BDAT ${text.length} LAST\r\n${text}XYZZY\r\n`);
    expect((await c.reply()).code).toBe(250);
    expect((await c.reply()).code).toBe(500);
    c.close();
    expect((await f.delivery.text(0)).endsWith(text)).toBe(true);
  });

  it('BDAT without MAIL, and after a finished DATA, is refused and its bytes are dropped unread', async () => {
    f = await startSmtpFixture();
    const { c } = await RawSmtp.connect(f.mxPort);
    await c.cmd('EHLO client.example.org');
    const r = await c.bdat('QUIT\r\n', true);
    expect(r.code).toBe(503);
    expect(r.text).toMatch(/^5\.5\.1 BDAT without a transaction/);
    expect((await c.cmd('NOOP')).code).toBe(250); // QUIT was chunk bytes, not a command
    await c.cmd('MAIL FROM:<ami@example.org>');
    await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    expect((await c.dataRaw(`${message('data')}.\r\n`)).code).toBe(250);
    expect((await c.bdat('QUIT\r\n', true)).code).toBe(503);
    await c.cmd('MAIL FROM:<ami@example.org>');
    expect((await c.bdat('QUIT\r\n', true)).text).toMatch(/^5\.5\.1 BDAT without recipients/);
    expect((await c.cmd('NOOP')).code).toBe(250);
    c.close();
    expect(f.delivery.messages).toHaveLength(1);
  });

  it('DATA after BDAT in one transaction is refused; RSET drops the chunks', async () => {
    f = await startSmtpFixture();
    const c = await transaction(f.mxPort);
    expect((await c.bdat(message('mixed'))).code).toBe(250);
    const r = await c.cmd('DATA');
    expect(r.code).toBe(503);
    expect(r.text).toMatch(/^5\.5\.1 DATA after BDAT/);
    expect((await c.cmd('RSET')).code).toBe(250);
    expect((await c.bdat('', true)).code).toBe(503); // the transaction is gone
    c.close();
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('refuses malformed BDAT lines and ends the connection (the chunk end is unknown)', async () => {
    f = await startSmtpFixture();
    for (const line of ['BDAT', 'BDAT abc', 'BDAT -1', 'BDAT 10 LAST extra', 'BDAT 1e3', `BDAT ${'9'.repeat(21)}`]) {
      const c = await transaction(f.mxPort);
      const r = await c.cmd(line);
      expect(r.code, line).toBe(501);
      expect(r.text).toMatch(/^5\.5\.4 syntax: BDAT chunk-size \[LAST\]/);
      expect((await c.reply()).code, line).toBe(0); // closed
    }
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('a chunk larger than the size limit: 552 and the connection ends, nothing is read or kept', async () => {
    f = await startSmtpFixture({ limits: { maxMessageBytes: 10_000 } });
    for (const size of ['10001', '99999999999999999999']) {
      const c = await transaction(f.mxPort);
      const r = await c.cmd(`BDAT ${size} LAST`);
      expect(r.code).toBe(552);
      expect(r.text).toMatch(/^5\.3\.4 chunk of \d+ bytes exceeds the message size limit 10000/);
      expect((await c.reply()).code).toBe(0);
    }
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('chunks adding up past the size limit: 552 for the chunk that crosses it, the session stays usable', async () => {
    f = await startSmtpFixture({ limits: { maxMessageBytes: 10_000 } });
    const c = await transaction(f.mxPort);
    expect((await c.bdat(message('big', `${'x'.repeat(70)}\r\n`.repeat(80)))).code).toBe(250);
    const r = await c.bdat(`${'y'.repeat(70)}\r\n`.repeat(80), true);
    expect(r.code).toBe(552);
    expect(r.text).toMatch(/^5\.3\.4 message exceeds fixed maximum message size 10000/);
    expect((await c.cmd('NOOP')).code).toBe(250);
    // The transaction is gone; a new one goes through.
    expect((await c.bdat('', true)).code).toBe(503);
    await c.cmd('MAIL FROM:<ami@example.org>');
    await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    expect((await c.bdat(message('small'), true)).code).toBe(250);
    c.close();
    expect(f.delivery.messages).toHaveLength(1);
  });

  it('an endless stream of tiny chunks ends at the chunk limit', async () => {
    f = await startSmtpFixture({ limits: { maxChunks: 50 } });
    const c = await transaction(f.mxPort);
    c.write(Buffer.from('BDAT 1\r\nx'.repeat(1000)));
    const codes: number[] = [];
    for (;;) {
      const r = await c.reply();
      codes.push(r.code);
      if (r.code !== 250) {
        expect(r.text).toMatch(/^5\.3\.4 message split into more than 50 chunks/);
        break;
      }
    }
    expect(codes.filter((x) => x === 250)).toHaveLength(50);
    expect(codes.at(-1)).toBe(552);
    expect((await c.reply()).code).toBe(0); // closed
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('an endless stream of refused chunks (no transaction) ends after ten', async () => {
    f = await startSmtpFixture();
    const { c } = await RawSmtp.connect(f.mxPort);
    await c.cmd('EHLO client.example.org');
    c.write(Buffer.from('BDAT 1\r\nx'.repeat(1000)));
    const replies = [];
    for (let r = await c.reply(); r.code !== 0; r = await c.reply()) replies.push(r);
    expect(replies).toHaveLength(10);
    expect(replies.every((r) => r.code === 503)).toBe(true);
    expect(replies.at(-1)!.text).toMatch(/too many refused chunks, closing$/);
  });

  it('a connection dropped in the middle of a chunk delivers nothing and leaves nothing spooled', async () => {
    spool = await mkdtemp(join(tmpdir(), 'palabre-bdat-spool-'));
    f = await startSmtpFixture({ spoolDir: spool });
    const c = await transaction(f.mxPort);
    const body = `${'z'.repeat(998)}\r\n`.repeat(1000); // about 1 MB: past the spool's memory part
    const text = message('dropped', body);
    expect((await c.bdat(text.slice(0, 600_000))).code).toBe(250);
    c.write(`BDAT ${text.length - 600_000} LAST\r\n${text.slice(600_000, 800_000)}`);
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    await sessionsGone(f);
    expect(f.delivery.messages).toHaveLength(0);
    // The spool file is removed once the aborted receiver unwinds.
    for (let i = 0; i < 100 && (await readdir(spool)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await readdir(spool)).toEqual([]);
  });
});
