import { createServer, type Server } from 'node:net';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClamdScanner } from '@palabre/core';
import { ClamdFilter, RspamdClient, RspamdFilter, type MessageFilter } from '../src/index.js';
import { RawSmtp } from './helpers/raw-smtp.js';
import { EICAR, GTUBE, RSPAMD_GREYLIST, RSPAMD_PROGRAMS, RSPAMD_SOFT_REJECT, TEST_MALWARE_PATTERN, skipWithout, startClamd, startRspamd, type Clamd, type Rspamd } from '@palabre/core/testing';
import { PASSWORD, startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';

/**
 * Issue 14 §1–2 from the sender's side: mail through a listening MX and submission, scanned by a real
 * rspamd and a real clamd started on loopback. What must hold: spam and malware refused (or filed in
 * Junk) before the 250, a clean message stored with our verdict and never the sender's, a scanner
 * down or silent handled by the fail mode within the timeout, nothing stored when refused.
 */
const missing = skipWithout(...RSPAMD_PROGRAMS, 'clamd');

/** A well-formed message (rspamd rightly scores unencoded 8-bit subjects and missing charsets). */
function message(subject: string, body: string, extra = '', contentType = 'text/plain; charset=utf-8'): string {
  return `From: Ami <ami@example.org>\r\nTo: Awa <awa@sante.gouv.tg>\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString().replace('GMT', '+0000')}\r\nMessage-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: ${contentType}\r\n${extra}\r\n${body}\r\n`;
}

function withAttachment(subject: string, content: string): string {
  const b64 = Buffer.from(content, 'latin1').toString('base64');
  return message(
    subject,
    `--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached file.\r\n--b\r\nContent-Type: application/octet-stream; name="rapport.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b--`,
    '',
    'multipart/mixed; boundary=b',
  );
}

async function sendMx(f: SmtpFixture, payload: string, to = 'awa@sante.gouv.tg'): Promise<{ code: number; text: string }> {
  const { c } = await RawSmtp.connect(f.mxPort);
  await c.cmd('EHLO client.example.org');
  await c.cmd('MAIL FROM:<ami@example.org>');
  await c.cmd(`RCPT TO:<${to}>`);
  const r = await c.dataRaw(`${payload}\r\n.\r\n`);
  c.close();
  return r;
}

async function stored(f: SmtpFixture, index = -1): Promise<{ mailbox: string; text: string }> {
  const m = f.delivery.messages.at(index)!;
  return { mailbox: m.mailbox, text: (await f.blobs.read(m.message.blobId)).toString('latin1') };
}

describe.skipIf(missing)('SMTP with rspamd and clamd on loopback', () => {
  let rspamd: Rspamd;
  let clamd: Clamd;
  let f: SmtpFixture | null = null;
  beforeAll(async () => {
    [rspamd, clamd] = await Promise.all([startRspamd(), startClamd()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([rspamd?.close(), clamd?.close()]);
  });
  afterEach(async () => {
    await f?.close();
    f = null;
  });

  const rspamdFilter = (
    options: Partial<ConstructorParameters<typeof RspamdClient>[0]> = {},
    policy?: ConstructorParameters<typeof RspamdFilter>[1],
  ) =>
    new RspamdFilter(
      new RspamdClient({ url: rspamd.url, controllerUrl: rspamd.controllerUrl, password: rspamd.password, timeoutMs: 10_000, ...options }),
      policy,
    );
  const clamdFilter = (failMode: 'open' | 'closed' = 'closed', socket = clamd.socket) =>
    new ClamdFilter(new ClamdScanner({ socket, timeoutMs: 10_000 }), failMode);
  const start = async (filters: MessageFilter[]) => (f = await startSmtpFixture({ filters }));

  it('refuses GTUBE at SMTP time with 550 5.7.1 and stores nothing; a clean message is stored with our verdict, not the sender’s', async () => {
    const fx = await start([rspamdFilter(), clamdFilter()]);
    const spam = await sendMx(fx, message('offre', `Gagnez !\r\n${GTUBE}`));
    expect(spam.code).toBe(550);
    expect(spam.text).toMatch(/^5\.7\.1 message refused as spam/);
    expect(fx.delivery.messages).toHaveLength(0);

    const clean = await sendMx(
      fx,
      message(
        'Meeting tomorrow',
        'The meeting is at ten tomorrow in room four. Regards, Ami.',
        'X-Spam-Status: No, score=-100\r\nX-Virus-Scanned: clean (forged)\r\n',
      ),
    );
    expect(clean.code).toBe(250);
    const { mailbox, text } = await stored(fx);
    expect(mailbox).toBe('INBOX');
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^X-Spam-Status: No, score=-?\d+\.\d\d required=\d+\.\d\d$/m);
    expect(head).toMatch(/^X-Spam-Action: no action$/m);
    expect(head).toMatch(/^X-Virus-Scanned: clean \(ClamAV\)$/m);
    expect(head).not.toContain('score=-100');
    expect(head).not.toContain('forged');
    expect(await rspamd.stat()).toMatchObject({ scanned: expect.any(Number) });
  });

  it('files spam in Junk with X-Spam-Status: Yes when the policy says junk', async () => {
    const fx = await start([rspamdFilter({}, { reject: 'junk', 'no action': 'accept' })]);
    expect((await sendMx(fx, message('promo', GTUBE))).code).toBe(250);
    const { mailbox, text } = await stored(fx);
    expect(mailbox).toBe('\\Junk');
    expect(text).toMatch(/^X-Spam-Status: Yes, score=/m);
    expect(text).toMatch(/^X-Spam-Symbols: .*GTUBE/m);
  });

  it('refuses EICAR in an attachment at the MX and at submission, with the signature name; a clean attachment passes', async () => {
    const fx = await start([clamdFilter()]);
    const mx = await sendMx(fx, withAttachment('facture', EICAR));
    expect(mx.code).toBe(550);
    expect(mx.text).toMatch(/^5\.7\.1 message refused: malware found \(Palabre\.Test\.EICAR/);
    expect(fx.delivery.messages).toHaveLength(0);

    const submitted = fx.submitter().sendMail({
      from: 'awa@sante.gouv.tg',
      to: 'kofi@finances.gouv.tg',
      subject: 'virus',
      text: 'x',
      attachments: [{ filename: 'eicar.com', content: Buffer.from(EICAR, 'latin1') }],
    });
    await expect(submitted).rejects.toMatchObject({ responseCode: 550 });
    expect(fx.delivery.messages).toHaveLength(0);
    expect(await fx.queue.list()).toHaveLength(0);

    expect((await sendMx(fx, withAttachment('rapport', 'un rapport sans virus'))).code).toBe(250);
    expect(fx.delivery.messages).toHaveLength(1);
  });

  it('refuses spam at submission (a stolen account sending GTUBE), without adding X-Spam fields to what leaves', async () => {
    const fx = await start([rspamdFilter()]);
    await expect(
      fx.submitter().sendMail({ from: 'awa@sante.gouv.tg', to: 'kofi@finances.gouv.tg', subject: 'spam', text: GTUBE }),
    ).rejects.toMatchObject({ responseCode: 550 });
    expect(fx.delivery.messages).toHaveLength(0);
    await fx.submitter().sendMail({
      from: 'awa@sante.gouv.tg',
      to: 'kofi@finances.gouv.tg',
      subject: 'note',
      text: 'Merci pour la note de ce matin, je la relis ce soir.',
    });
    const { text } = await stored(fx);
    expect(text).not.toMatch(/^X-Spam-/m);
  });

  describe('a scanner that is down or silent', () => {
    let silent: Server;
    let silentPort = 0;
    const held = new Set<import('node:net').Socket>();
    beforeAll(async () => {
      // Accepts and never answers: what a wedged scanner looks like.
      silent = createServer((socket) => {
        held.add(socket);
        socket.on('error', () => undefined);
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      silentPort = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });

    it('fail-open lets mail through with a header saying it was not checked; fail-closed answers 451 4.7.1', async () => {
      const open = await start([rspamdFilter({ url: `http://127.0.0.1:${silentPort}`, timeoutMs: 500, failMode: 'open' })]);
      const t0 = Date.now();
      expect((await sendMx(open, message('ouvert', 'bonjour'))).code).toBe(250);
      expect(Date.now() - t0).toBeLessThan(8000); // bounded by the timeout, not by the client's patience
      expect((await stored(open)).text).toMatch(/^X-Spam-Checker: not checked \(rspamd unavailable\)$/m);
      await open.close();

      const closed = await start([rspamdFilter({ url: 'http://127.0.0.1:1', failMode: 'closed' })]);
      const r = await sendMx(closed, message('fermé', 'bonjour'));
      expect(r.code).toBe(451);
      expect(r.text).toMatch(/^4\.7\.1 /);
      expect(closed.delivery.messages).toHaveLength(0);
      f = closed;
    });

    it('clamd unreachable: fail-closed defers, fail-open passes marked as not scanned', async () => {
      const closed = await start([clamdFilter('closed', '/nonexistent/clamd.sock')]);
      expect((await sendMx(closed, withAttachment('a', 'x'))).code).toBe(451);
      await closed.close();
      const open = await start([clamdFilter('open', '/nonexistent/clamd.sock')]);
      expect((await sendMx(open, withAttachment('b', 'x'))).code).toBe(250);
      expect((await stored(open)).text).toMatch(/^X-Virus-Scanned: not scanned \(scanner unavailable\)$/m);
    });
  });

  it('defers with 451 4.7.1 what rspamd answers soft reject or greylist, and stores nothing', async () => {
    const fx = await start([rspamdFilter()]);
    for (const word of [RSPAMD_SOFT_REJECT, RSPAMD_GREYLIST]) {
      const r = await sendMx(fx, message(`Rapport ${word}`, 'Le rapport de la semaine est en pièce jointe.'));
      expect(r.code, word).toBe(451);
      expect(r.text).toMatch(/^4\.7\.1 message deferred by the spam filter/);
    }
    expect(fx.delivery.messages).toHaveLength(0);
    // The same message without the test word passes: the deferral came from the forced action.
    expect((await sendMx(fx, message('Rapport', 'Le rapport de la semaine est en pièce jointe.'))).code).toBe(250);
  });

  it('refuses the second test signature at the MX with its name', async () => {
    const fx = await start([clamdFilter()]);
    const r = await sendMx(fx, withAttachment('motif', `avant ${TEST_MALWARE_PATTERN} après`));
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 message refused: malware found \(Palabre\.Test\.Pattern/);
    expect(fx.delivery.messages).toHaveLength(0);
  });

  it('a clamd that accepts and never answers (paused with SIGSTOP) meets the timeout: 451 fail-closed, marked fail-open; it scans again once resumed', async () => {
    const paused = await startClamd();
    process.kill(paused.pid, 'SIGSTOP');
    try {
      const filter = (failMode: 'open' | 'closed') => new ClamdFilter(new ClamdScanner({ socket: paused.socket, timeoutMs: 500 }), failMode);
      const closed = await start([filter('closed')]);
      const r = await sendMx(closed, withAttachment('figé', 'x'));
      expect(r.code).toBe(451);
      expect(r.text).toMatch(/^4\.7\.1 the message could not be scanned for malware now/);
      expect(closed.delivery.messages).toHaveLength(0);
      await closed.close();
      const open = await start([filter('open')]);
      expect((await sendMx(open, withAttachment('figé', 'x'))).code).toBe(250);
      expect((await stored(open)).text).toMatch(/^X-Virus-Scanned: not scanned \(scanner unavailable\)$/m);
      process.kill(paused.pid, 'SIGCONT');
      expect(await new ClamdScanner({ socket: paused.socket, timeoutMs: 30_000 }).scan([Buffer.from(EICAR, 'latin1')])).toMatchObject({ kind: 'infected' });
    } finally {
      await paused.close();
    }
  }, 120_000);

  it('clamd answers for the protocol corners: PING, an empty stream, content over the size limit', async () => {
    const scanner = new ClamdScanner({ socket: clamd.socket, maxBytes: 1024 });
    expect(await scanner.ping()).toBe(true);
    expect(await scanner.scan([])).toEqual({ kind: 'clean' });
    expect(await scanner.scan([Buffer.alloc(4096, 0x41)])).toEqual({ kind: 'too-large' });
    expect(await new ClamdScanner({ socket: clamd.socket }).scan([Buffer.from('a'), Buffer.from(EICAR, 'latin1')])).toMatchObject({
      kind: 'infected',
    });
  });

  void PASSWORD;
});
