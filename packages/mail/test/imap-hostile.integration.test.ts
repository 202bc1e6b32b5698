import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp } from './helpers/raw-smtp.js';
import { message, startImap, type ImapWorld, type RawClient } from './imap-harness.js';

/** After abuse, the same connection (or a new one) must still be served normally. */
async function stillServes(r: RawClient, tag = 'ok'): Promise<void> {
  expect((await r.cmd(tag, 'NOOP')).status).toBe('OK');
}

describe('IMAP hostile input', () => {
  let w: ImapWorld;
  beforeAll(async () => {
    w = await startImap({ maxConnectionsPerIp: 200 });
  });
  afterAll(async () => w.close());

  it('a literal announced at 4 GB: synchronising gets BAD and no continuation; non-synchronising ends the connection', async () => {
    const r = await w.raw();
    const res = await r.cmd('a', 'LOGIN {4294967296}');
    expect(res.tagged).toBe('a BAD [TOOBIG] Literal too large');
    await stillServes(r);
    await r.login(w.users.alice);
    r.write('b APPEND INBOX {4294967296}\r\n');
    expect(await r.line()).toMatch(/^b NO \[TOOBIG\]/);
    await stillServes(r, 'c');
    r.write('d APPEND INBOX {4294967296+}\r\n');
    expect(await r.line()).toBe('* BYE [TOOBIG] Literal too large, closing');
    expect(await r.line()).toBeNull();
    const r2 = await w.raw();
    r2.write('e LOGIN {99999999999999999999+}\r\n');
    expect(await r2.line()).toMatch(/^\* BYE/);
  });

  it('a 1 MB command line is refused with BAD, without being held, and the session goes on', async () => {
    const r = await w.raw();
    await r.login(w.users.alice);
    r.write(`a SEARCH TEXT "${'x'.repeat(1024 * 1024)}"\r\n`);
    expect(await r.line()).toBe('a BAD [TOOBIG] Command line too long');
    await stillServes(r);
    // A long line that ends announcing a non-synchronising literal: the literal is skipped too.
    r.write(`b ${'y'.repeat(200_000)} {5+}\r\nhello\r\nc NOOP\r\n`);
    expect(await r.line()).toBe('b BAD [TOOBIG] Command line too long');
    expect(await r.line()).toBe('c OK NOOP completed');
  });

  it('deeply nested parentheses are BAD, not a stack overflow', async () => {
    const r = await w.raw();
    await r.login(w.users.alice);
    await r.cmd('s', 'SELECT INBOX');
    const depth = 20_000;
    expect((await r.cmd('a', `SEARCH ${'('.repeat(depth)}ALL${')'.repeat(depth)}`)).tagged).toBe('a BAD Too deeply nested');
    expect((await r.cmd('b', `SEARCH ${'NOT '.repeat(5000)}ALL`)).status).toBe('BAD');
    expect((await r.cmd('c', `FETCH 1 ${'('.repeat(500)}FLAGS${')'.repeat(500)}`)).status).toBe('BAD');
    expect((await r.cmd('d', `ID ${'('.repeat(1000)}`)).status).toBe('BAD');
    await stillServes(r);
  });

  it('unterminated literals, quotes and lines: the server cleans up and keeps serving others', async () => {
    const a = await w.raw();
    a.write('a LOGIN {10}\r\n');
    expect(await a.line()).toBe('+ Ready for literal data');
    a.write('abc');
    a.close();
    const b = await w.raw();
    b.write('b LOGIN {10+}\r\nabc');
    b.close();
    const c = await w.raw();
    expect((await c.cmd('c', 'LOGIN "unterminated')).status).toBe('BAD');
    c.write('d NOOP');
    c.socket.end();
    const d = await w.raw();
    await stillServes(d);
    const before = w.server.connections;
    expect(before).toBeGreaterThan(0);
  });

  it('commands in the wrong state are refused (and their literal never invited)', async () => {
    const r = await w.raw();
    expect((await r.cmd('a', 'SELECT INBOX')).tagged).toBe('a BAD SELECT needs a login first');
    expect((await r.cmd('b', 'FETCH 1 FLAGS')).status).toBe('BAD');
    expect((await r.cmd('c', 'IDLE')).status).toBe('BAD');
    r.write('d SELECT {5}\r\n');
    expect(await r.line()).toBe('d BAD SELECT needs a login first');
    await r.login(w.users.alice);
    expect((await r.cmd('e', 'FETCH 1 FLAGS')).tagged).toBe('e BAD FETCH is not valid in this state');
    expect((await r.cmd('f', `LOGIN a b`)).status).toBe('BAD');
    expect((await r.cmd('g', 'STARTTLS')).status).toBe('BAD');
    expect((await r.cmd('h', 'AUTHENTICATE PLAIN')).status).toBe('BAD');
    await r.cmd('i', 'SELECT INBOX');
    expect((await r.cmd('j', 'ENABLE CONDSTORE')).status).toBe('BAD');
    expect((await r.cmd('k', 'XYZZY')).tagged).toBe('k BAD Unknown command XYZZY');
    expect((await r.cmd('l', 'UID')).status).toBe('BAD');
    expect((await r.cmd('m', 'UID XYZZY 1')).status).toBe('BAD');
    await stillServes(r);
  });

  it('invalid modified UTF-7 and 8-bit names are refused for IMAP4rev1; invalid UTF-8 for IMAP4rev2', async () => {
    const r = await w.raw();
    await r.login(w.users.alice);
    for (const [i, name] of ['"&Jjo"', '"&AGE-"', '"&Jjo!-"', '"&AOk-&AOk-"', '"caf\u00e9"'].entries()) {
      const res = await r.cmd(`c${i}`, `CREATE ${name}`);
      expect(res.tagged).toMatch(/NO \[CANNOT\] Mailbox name is not valid modified UTF-7/);
    }
    expect((await r.cmd('d', 'CREATE "a//b"')).tagged).toMatch(/NO \[CANNOT\]/);
    expect((await r.cmd('e', 'CREATE "bad*name"')).tagged).toMatch(/NO \[CANNOT\]/);
    const v2 = await w.raw();
    await v2.login(w.users.alice);
    await v2.cmd('e', 'ENABLE IMAP4rev2');
    v2.write(Buffer.concat([Buffer.from('f CREATE "'), Buffer.from([0xc3, 0x28]), Buffer.from('"\r\n')]));
    expect((await v2.until('f')).tagged).toMatch(/NO \[CANNOT\] Mailbox name is not valid UTF-8/);
    expect((await w.store.listMailboxes(w.users.alice.id)).some((m) => m.name.includes('\uFFFD'))).toBe(false);
  });

  it('hostile owners and names under Shared/ get one precise answer whatever exists, and change nothing', async () => {
    const r = await w.raw();
    await r.login(w.users.bob);
    const before = (await w.store.listMailboxes(w.users.alice.id)).map((m) => m.name).sort();
    // Each row: the same hostile tail under an existing owner and under owners that are not accounts.
    const owners = ['alice@sante.gouv.tg', 'nobody@sante.gouv.tg', `${'x'.repeat(300)}@sante.gouv.tg`, '*@sante.gouv.tg', '%', 'ALICE@SANTE.GOUV.TG.', '..', ''];
    const tails = ['INBOX', 'a//b', 'bad*name', '../../bob@sante.gouv.tg/INBOX', `${'deep/'.repeat(200)}x`, 'y'.repeat(2000)];
    let i = 0;
    for (const tail of tails) {
      for (const command of ['CREATE', 'DELETE', 'SELECT', 'GETACL']) {
        const answers = new Set<string>();
        for (const owner of owners) {
          const res = await r.cmd(`h${++i}`, `${command} "Shared/${owner}/${tail}"`);
          answers.add(res.tagged!.replace(/^h\d+ /, ''));
        }
        expect([...answers].join(' | '), `${command} Shared/<owner>/${tail.slice(0, 30)}`).not.toContain(' | ');
        expect([...answers][0]).toMatch(/^(NO \[(NOPERM|NONEXISTENT|CANNOT)\]|BAD)/);
      }
    }
    await stillServes(r);
    expect((await w.store.listMailboxes(w.users.alice.id)).map((m) => m.name).sort()).toEqual(before);
    expect((await w.store.listMailboxes(w.users.bob.id)).map((m) => m.name).every((n) => !n.includes('Shared'))).toBe(true);
  });

  it('10,000 pipelined commands are answered in order with bounded buffering', async () => {
    const r = await w.raw();
    await r.login(w.users.alice);
    await r.cmd('s', 'SELECT INBOX');
    const n = 10_000;
    const commands: string[] = [];
    for (let i = 0; i < n; i++) commands.push(i % 3 === 0 ? `p${i} UID FETCH 1:* (FLAGS)` : i % 3 === 1 ? `p${i} NOOP` : `p${i} CAPABILITY`);
    r.write(commands.join('\r\n') + '\r\n');
    let next = 0;
    for (;;) {
      const line = await r.line(30_000);
      if (line === null) throw new Error('connection closed');
      if (line.startsWith('p')) {
        expect(line.startsWith(`p${next} OK`)).toBe(true);
        next++;
        if (next === n) break;
      }
    }
    await stillServes(r);
  });

  it('a client that pipelines big FETCHes and stops reading cannot make the server buffer them', async () => {
    const c = await w.client('bob');
    await c.append('INBOX', message('big one', 'z'.repeat(100 * 1024)));
    await c.logout();
    const r = await w.raw();
    await r.login(w.users.bob);
    await r.cmd('s', 'EXAMINE INBOX');
    const heapBefore = process.memoryUsage().heapUsed;
    r.socket.pause();
    const n = 3000; // ~300 MB of responses if the server held them
    const cmds = Array.from({ length: n }, (_, i) => `b${i} FETCH 1 (BODY.PEEK[])`).join('\r\n') + '\r\n';
    r.socket.write(cmds);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(heapGrowth).toBeLessThan(64 * 1024 * 1024);
    r.socket.resume();
    let done = 0;
    for (;;) {
      const line = await r.line(60_000);
      if (line === null) throw new Error('connection closed');
      if (/^b\d+ OK/.test(line) && ++done === n) break;
    }
    await stillServes(r);
  });

  it('garbage, bad tags, empty lines and NUL bytes get BAD without harm', async () => {
    const r = await w.raw();
    r.write('\r\n');
    expect(await r.line()).toBe('* BAD Missing command');
    r.write(Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a]));
    expect(await r.line()).toMatch(/^\* BAD/);
    r.write('a+b NOOP\r\n');
    expect(await r.line()).toBe('* BAD Invalid tag');
    r.write('x NOOP\r\n');
    expect(await r.line()).toBe('x OK NOOP completed');
    const random = Buffer.alloc(50_000);
    for (let i = 0; i < random.length; i++) random[i] = (i * 7919) % 256;
    r.write(random);
    r.write('\r\nz NOOP\r\n');
    for (;;) {
      const l = await r.line();
      if (l === null) throw new Error('closed on garbage');
      if (l.startsWith('z ')) {
        expect(l).toBe('z OK NOOP completed');
        break;
      }
    }
  });

  it('absurd sequence sets, UIDs, sizes and dates are BAD', async () => {
    const r = await w.raw();
    await r.login(w.users.alice);
    await r.cmd('s', 'SELECT INBOX');
    for (const [i, cmd] of ['FETCH 0 FLAGS', 'UID FETCH 1:4294967296 FLAGS', 'FETCH 1,,2 FLAGS', 'SEARCH LARGER 99999999999999999999999', 'SEARCH BEFORE 32-Jan-2024', 'SEARCH UID 0:*x', 'STORE 1 +FLAGS (\\Bogus', `SEARCH ${'ALL '.repeat(2000)}`].entries()) {
      expect((await r.cmd(`q${i}`, cmd)).status).toBe('BAD');
    }
    await stillServes(r);
  });

  it('APPEND with data after the message literal stores nothing; SASL floods are refused', async () => {
    const r = await w.raw();
    await r.login(w.users.carol);
    const before = (await w.store.counts((await w.store.getMailbox(w.users.carol.id, 'INBOX'))!.id, w.users.carol.id)).messages;
    const res = await r.cmd('a', 'APPEND INBOX {14+}\r\nSubject: x\r\n\r\nEXTRA STUFF');
    expect(res.tagged).toBe('a BAD Unexpected data after the message');
    expect((await w.store.counts((await w.store.getMailbox(w.users.carol.id, 'INBOX'))!.id, w.users.carol.id)).messages).toBe(before);
    await stillServes(r);
    const s = await w.raw();
    expect((await s.cmd('b', `AUTHENTICATE PLAIN ${'A'.repeat(100_000)}`)).status).toBe('BAD');
    s.write('c AUTHENTICATE LOGIN\r\n');
    await s.line();
    s.write(`${'QUFB'.repeat(50_000)}\r\n`);
    expect((await s.until('c')).status).toBe('BAD');
  });

  it('repeated failed logins end the connection; the log never holds a password', async () => {
    const r = await w.raw();
    for (let i = 0; i < 4; i++) expect((await r.cmd(`f${i}`, `LOGIN alice@sante.gouv.tg wrong-secret-${i}`)).tagged).toBe(`f${i} NO [AUTHENTICATIONFAILED] Authentication failed`);
    const last = await r.cmd('f5', 'LOGIN alice@sante.gouv.tg wrong-secret-5');
    expect(last.untagged[0] ?? last.tagged).toMatch(/BYE Too many authentication failures/);
    expect(await r.line()).toBeNull();
    const text = w.logger.text();
    expect(text).not.toContain('wrong-secret');
    expect(text).not.toContain(w.users.alice.password);
  });

  it('shutdown says BYE to idle sessions, lets a running command finish, and never waits past its grace for a client that stopped reading', async () => {
    const other = await startImap();
    let closed = false;
    try {
      const c = await other.client('bob');
      await c.append('INBOX', message('big', 'q'.repeat(200 * 1024)));
      await c.logout();
      const idle = await other.raw();
      await idle.login(other.users.alice);
      const stuck = await other.raw();
      await stuck.login(other.users.bob);
      await stuck.cmd('s', 'EXAMINE INBOX');
      stuck.socket.pause();
      stuck.write(Array.from({ length: 200 }, (_, i) => `f${i} FETCH 1 (BODY.PEEK[])`).join('\r\n') + '\r\n');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await other.server.close(500);
      closed = true;
      expect(other.server.connections).toBe(0);
      expect(await idle.line()).toBe('* BYE Server shutting down');
    } finally {
      if (!closed) await other.server.close(100);
      await other.close();
    }
  });

  it('per-address connection limit says BYE', async () => {
    const tight = await startImap({ maxConnectionsPerIp: 2 });
    try {
      await tight.raw();
      await tight.raw();
      const third = net.connect({ port: tight.port, host: '127.0.0.1' });
      const data = await new Promise<string>((resolve) => third.once('data', (d) => resolve(d.toString())));
      expect(data).toBe('* BYE [UNAVAILABLE] Too many connections from your address\r\n');
      third.destroy();
    } finally {
      await tight.close();
    }
  });
});

describe('issue 11 seen from IMAP: what the MX accepts, and COMPRESS bombs', () => {
  let w: ImapWorld;
  beforeAll(async () => {
    w = await startImap();
  });
  afterAll(async () => w.close());

  /** One message through the real MX into the SQL store; returns the reply to DATA. */
  async function viaMx(port: number, text: string): Promise<{ code: number; text: string }> {
    const { c } = await RawSmtp.connect(port);
    await c.cmd('EHLO attacker.example');
    expect((await c.cmd('MAIL FROM:<x@attacker.example>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<bob@sante.gouv.tg>')).code).toBe(250);
    const r = await c.dataRaw(`${text}.\r\n`);
    c.close();
    return r;
  }

  async function search(subject: string): Promise<string[]> {
    const r = await w.raw();
    await r.login(w.users.bob);
    await r.cmd('s', 'EXAMINE INBOX');
    const found = await r.cmd('f', `UID SEARCH SUBJECT "${subject}"`);
    const uids = found.untagged.find((l) => l.startsWith('* SEARCH'))!.split(' ').slice(2);
    const envelopes = uids.length ? (await r.cmd('e', `UID FETCH ${uids.join(',')} ENVELOPE`)).untagged : [];
    r.close();
    return envelopes;
  }

  it('a From with a blank before the colon never reaches a mailbox; the From the MX checked is the ENVELOPE From', async () => {
    const port = await w.smtp();
    const spoof = await viaMx(port, 'From : Alice <alice@sante.gouv.tg>\r\nTo: bob@sante.gouv.tg\r\nSubject: wire the money\r\n\r\nnow\r\n');
    expect(spoof.code).toBe(550);
    expect(spoof.text).toMatch(/^5\.6\.0 malformed header field "From :"/);
    expect(await search('wire the money')).toEqual([]);
    const honest = await viaMx(port, 'From: "Ami\r\n Mensah" <ami@example.org>\r\nTo: bob@sante.gouv.tg\r\nSubject: honest note\r\n\r\nhi\r\n');
    expect(honest.code).toBe(250);
    const [envelope] = await search('honest note');
    expect(envelope).toContain('(("Ami Mensah" NIL "ami" "example.org"))');
  });

  it('the same report sent three times without Message-ID is three messages in the mailbox', async () => {
    const port = await w.smtp();
    const report = 'From: cron@example.org\r\nTo: bob@sante.gouv.tg\r\nSubject: nightly report\r\n\r\nall green\r\n';
    for (let i = 0; i < 3; i++) expect((await viaMx(port, report)).code).toBe(250);
    expect(await search('nightly report')).toHaveLength(3);
  });

  async function compressed(): Promise<RawClient> {
    const r = await w.raw();
    await r.login(w.users.bob);
    expect((await r.cmd('z', 'COMPRESS DEFLATE')).tagged).toBe('z OK DEFLATE active');
    r.compress();
    await stillServes(r, 'z1');
    return r;
  }

  it('COMPRESS: a deflated 40 MB command line ends the session with BYE instead of being inflated to its end', async () => {
    const r = await compressed();
    r.write(`a NOOP ${'x'.repeat(40 * 1024 * 1024)}\r\nb NOOP\r\n`);
    expect(await r.line()).toBe('* BYE [TOOBIG] Command line too long, closing');
    expect(await r.line()).toBeNull();
  });

  it('COMPRESS: a refused 40 MB non-synchronising literal is not inflated to be skipped: BYE', async () => {
    const r = await compressed();
    r.write(Buffer.concat([Buffer.from('a NOOP {41943040+}\r\n'), Buffer.alloc(40 * 1024 * 1024, 0x61), Buffer.from('\r\nb NOOP\r\n')]));
    expect(await r.line()).toBe('* BYE [TOOBIG] Literal too large, closing');
    expect(await r.line()).toBeNull();
  });

  it('COMPRESS: lines, literals and messages within the limits still work', async () => {
    const r = await compressed();
    r.write(`a NOOP ${'y'.repeat(1000)} {5+}\r\nhello\r\n`);
    expect(await r.line()).toMatch(/^a BAD /);
    const body = 'z'.repeat(70) + '\r\n';
    const text = message('compressed append', body.repeat(3000));
    const appended = await r.cmd('p', `APPEND INBOX {${Buffer.byteLength(text)}+}\r\n${text}`);
    expect(appended.status).toBe('OK');
    await stillServes(r, 'c');
  });
});
