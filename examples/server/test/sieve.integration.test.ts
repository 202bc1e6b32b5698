import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { skipWithout } from '@palabre/core/testing';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeSite, provision, smtp, spawnServe, waitForLine, stopServe, type Site } from './helpers.js';

/**
 * Issue 14 §3 through `palabre serve`: sieve-connect (Debian) uploads and activates a script over
 * ManageSieve, a message then delivered through the MX is filed as the script says (seen over
 * IMAP), and the ManageSieve port holds against an attacker.
 */
const USER = 'agent@interieur.gouv.test';
const OTHER = 'chef@interieur.gouv.test';
const PASS = 'Une phrase de passe assez longue';
const LOOP1 = 'aller@interieur.gouv.test';
const LOOP2 = 'retour@interieur.gouv.test';
const VAC = 'absent@interieur.gouv.test';
const OOO = 'conge@interieur.gouv.test';

/** A raw ManageSieve connection: `send` writes bytes, `until` waits for a final OK/NO/BYE line. */
class RawSieve {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }
  static async open(port: number): Promise<{ c: RawSieve; greeting: string }> {
    const socket = connect({ port, host: '127.0.0.1' });
    const c = new RawSieve(socket);
    return { c, greeting: await c.response() };
  }
  send(text: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }
  /** Everything up to and including the next line that starts with OK, NO or BYE. */
  async response(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:OK|NO|BYE)\b.*\r\n/m.exec(this.buf);
      if (m) {
        const end = m.index + m[0].length;
        const out = this.buf.slice(0, end);
        this.buf = this.buf.slice(end);
        return out;
      }
      if (this.closed) return `${this.buf}<closed>`;
      if (Date.now() > deadline) throw new Error(`no response; got ${JSON.stringify(this.buf.slice(0, 300))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
  async command(text: string): Promise<string> {
    this.send(text);
    return this.response();
  }
  close(): void {
    this.socket.destroy();
  }
}

function sieveConnect(port: number, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('sieve-connect', ['--server', '127.0.0.1', '--port', String(port), '--user', USER, '--passwordfd', '0', '--notlsverify', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.stdin.end(`${PASS}\n`);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const plain = (user: string, pass: string) => Buffer.from(`\u0000${user}\u0000${pass}`).toString('base64');

describe.skipIf(skipWithout('sieve-connect'))('Sieve and ManageSieve through palabre serve', () => {
  let site: Site;
  let child: ChildProcess;
  let banner = '';
  const ports = { smtp: 0, imap: 0, sieve: 0 };

  beforeAll(async () => {
    site = await makeSite('sqlite');
    await provision(site, [
      ['domain', 'add', 'interieur.gouv.test'],
      ['user', 'add', USER, '--password', PASS],
      ['user', 'add', OTHER, '--password', PASS],
      ['user', 'add', LOOP1, '--password', PASS],
      ['user', 'add', LOOP2, '--password', PASS],
      ['user', 'add', VAC, '--password', PASS],
      ['user', 'add', OOO, '--password', PASS],
      ['vacation', 'set', OOO, '--subject', 'Hors du bureau', '--message', 'Je reviens lundi.'],
    ]);
    // The administrator's domain script runs before every user's: it discards what it forbids.
    const domainFile = join(site.dataDir, 'domain.sieve');
    await writeFile(domainFile, 'if header :contains "subject" "interdit" {\n  discard\n  stop;\n}\n');
    const refused = await site.run('sieve', 'domain', 'set', 'interieur.gouv.test', domainFile);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/line 3, column 3: unknown test "stop"/);
    await writeFile(domainFile, 'if header :contains "subject" "interdit" {\n  discard;\n  stop;\n}\n');
    expect((await site.run('sieve', 'domain', 'set', 'interieur.gouv.test', domainFile)).code).toBe(0);
    expect((await site.run('sieve', 'domain', 'show', 'interieur.gouv.test')).out).toContain('discard;');
    [ports.smtp, ports.imap, ports.sieve] = [await freePort(), await freePort(), await freePort()];
    child = spawnServe(site.dataDir, ports, site.env, ['--hostname', 'mail.interieur.gouv.test']);
    banner = await waitForLine(child, /Palabre is running[\s\S]*\n\n/);
  }, 180_000);
  afterAll(async () => {
    await stopServe(child);
    await site?.cleanup();
  });

  it('prints the ManageSieve listener in the banner', () => {
    expect(banner).toContain(`ManageSieve: 127.0.0.1:${ports.sieve}`);
  });

  it('sieve-connect uploads and activates a script; mail through the MX is filed as it says', async () => {
    const file = join(site.dataDir, 'rules.sieve');
    await writeFile(file, 'require ["fileinto", "imap4flags"];\nif header :contains "subject" "rapport" {\n  fileinto :flags "\\\\Flagged" "Archive";\n  stop;\n}\nif header :contains "subject" "inconnu" {\n  fileinto "NExistePas";\n}\n');
    const up = await sieveConnect(ports.sieve, ['--upload', '--localsieve', file, '--remotesieve', 'regles']);
    expect(up.code, up.out).toBe(0);
    const act = await sieveConnect(ports.sieve, ['--activate', '--remotesieve', 'regles']);
    expect(act.code, act.out).toBe(0);
    const list = await sieveConnect(ports.sieve, ['--list']);
    expect(list.out).toMatch(/regles\s+<-\s*active|regles.*ACTIVE|regles/);

    const head = (subject: string) => `From: Ami <ami@example.org>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\n`;
    for (const subject of ['Le rapport mensuel', 'Autre chose', 'Dossier inconnu']) {
      const replies = await smtp(ports.smtp, ['EHLO client.example.org', 'MAIL FROM:<ami@example.org>', `RCPT TO:<${USER}>`], `${head(subject)}Bonjour.`);
      expect(replies.at(-2), replies.join('\n')).toMatch(/^250 /);
    }

    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user: USER, pass: PASS }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    try {
      const archive = await imap.mailboxOpen('Archive');
      expect(archive.exists).toBe(1);
      const [msg] = await imap.fetchAll('1:*', { envelope: true, flags: true });
      expect(msg!.envelope!.subject).toBe('Le rapport mensuel');
      expect([...msg!.flags!]).toContain('\\Flagged');
      // fileinto a mailbox that does not exist files into INBOX.
      await imap.mailboxOpen('INBOX');
      expect((await imap.fetchAll('1:*', { envelope: true })).map((m) => m.envelope!.subject).sort()).toEqual(['Autre chose', 'Dossier inconnu']);
    } finally {
      await imap.logout();
    }
  }, 120_000);

  it('refuses an invalid script with its line number, and keeps the stored one', async () => {
    const file = join(site.dataDir, 'bad.sieve');
    await writeFile(file, 'require "fileinto";\nif true {\n  fileinto "x"\n}\n');
    const up = await sieveConnect(ports.sieve, ['--upload', '--localsieve', file, '--remotesieve', 'regles']);
    expect(up.code).not.toBe(0);
    expect(up.out).toMatch(/line 4/);
    const got = await sieveConnect(ports.sieve, ['--download', '--remotesieve', 'regles', '--localsieve', '-']);
    expect(got.out).toContain('fileinto :flags');
  }, 60_000);

  const mx = (to: string, subject: string, extra = '') =>
    smtp(ports.smtp, ['EHLO client.example.org', 'MAIL FROM:<ami@example.org>', `RCPT TO:<${to}>`], `${extra}From: Ami <ami@example.org>\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\nBonjour.`);
  const subjects = async (user: string, mailbox = 'INBOX'): Promise<string[]> => {
    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user, pass: PASS }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    try {
      const box = await imap.mailboxOpen(mailbox);
      return box.exists === 0 ? [] : (await imap.fetchAll('1:*', { envelope: true })).map((m) => m.envelope!.subject!);
    } finally {
      await imap.logout();
    }
  };

  it('runs the domain script first: what it discards never reaches the mailbox', async () => {
    expect((await mx(USER, 'Contenu interdit')).at(-2)).toMatch(/^250 /);
    expect(await subjects(USER)).not.toContain('Contenu interdit');
  }, 60_000);

  /** Upload and activate `script` for `user` over ManageSieve. */
  const activate = async (user: string, name: string, script: string) => {
    const { c } = await RawSieve.open(ports.sieve);
    expect(await c.command(`AUTHENTICATE "PLAIN" "${plain(user, PASS)}"\r\n`)).toMatch(/^OK/m);
    expect(await c.command(`PUTSCRIPT "${name}" {${Buffer.byteLength(script)}+}\r\n${script}\r\n`)).toMatch(/^OK/m);
    expect(await c.command(`SETACTIVE "${name}"\r\n`)).toMatch(/^OK/m);
    c.close();
  };
  /** The subjects in the mailbox once `subject` is there (the queue delivers in the background). */
  const arrives = async (user: string, subject: string, mailbox = 'INBOX'): Promise<string[]> => {
    let got: string[] = [];
    for (let i = 0; i < 100 && !got.includes(subject); i++) {
      got = await subjects(user, mailbox);
      if (!got.includes(subject)) await new Promise((r) => setTimeout(r, 300));
    }
    return got;
  };
  const source = async (user: string, subject: string): Promise<string> => {
    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user, pass: PASS }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    try {
      await imap.mailboxOpen('INBOX');
      const all = await imap.fetchAll('1:*', { envelope: true, source: true });
      return all.find((m) => m.envelope!.subject === subject)!.source!.toString('utf8');
    } finally {
      await imap.logout();
    }
  };

  it("a redirect to a local account goes through that account's own script: filed where its rules say", async () => {
    await activate(OTHER, 'fwd', `redirect "${USER}";`);
    expect((await mx(OTHER, 'Pour transfert')).at(-2)).toMatch(/^250 /);
    // USER's script (the first test's) files a "rapport" into Archive: so does it for a redirected one.
    expect((await mx(OTHER, 'Un rapport transfere')).at(-2)).toMatch(/^250 /);
    expect(await arrives(USER, 'Pour transfert')).toContain('Pour transfert');
    expect(await arrives(USER, 'Un rapport transfere', 'Archive')).toContain('Un rapport transfere');
    expect(await subjects(USER)).not.toContain('Un rapport transfere');
    expect(await subjects(OTHER)).toEqual([]);
  }, 90_000);

  it('an attacker cannot turn a redirect off with a forged mark: the message is still redirected, the mark dropped', async () => {
    const forged = [`X-Palabre-Sieve-Redirected: ${OTHER}\r\n`, `X-Palabre-Sieve-Redirected: ${OTHER}; mac=${'A'.repeat(43)}\r\n`];
    expect((await mx(OTHER, 'Marque forgee', forged.join(''))).at(-2)).toMatch(/^250 /);
    expect(await arrives(USER, 'Marque forgee')).toContain('Marque forgee');
    expect(await subjects(OTHER)).toEqual([]);
    // The copy USER got carries one mark, ours, with its MAC; the forged ones did not survive the MX.
    const marks = (await source(USER, 'Marque forgee')).match(/^X-Palabre-Sieve-Redirected:.*$/gim) ?? [];
    expect(marks).toHaveLength(1);
    expect(marks[0]).toMatch(new RegExp(`^X-Palabre-Sieve-Redirected: ${OTHER}; mac=[A-Za-z0-9_-]{43}$`, 'i'));
    expect(marks[0]).not.toContain('A'.repeat(43));
  }, 90_000);

  it('a redirect loop between two local accounts ends: the message is kept once, where it came back', async () => {
    await activate(LOOP1, 'boucle', `redirect "${LOOP2}";`);
    await activate(LOOP2, 'boucle', `redirect "${LOOP1}";`);
    expect((await mx(LOOP1, 'Boucle')).at(-2)).toMatch(/^250 /);
    expect(await arrives(LOOP1, 'Boucle')).toEqual(['Boucle']);
    // Give the queue time to do anything more it would (it would not: the loop ended at LOOP1).
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await subjects(LOOP1)).toEqual(['Boucle']);
    expect(await subjects(LOOP2)).toEqual([]);
  }, 90_000);

  it('vacation :mime sends the reason as the MIME entity it is (RFC 5230 §5.7), through the local path', async () => {
    const reason = [
      'Content-Type: multipart/alternative; boundary="alt"',
      'Bcc: espion@example.org',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Je suis absent.',
      '--alt',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>Je suis <b>absent</b>.</p>',
      '--alt--',
      '',
    ].join('\r\n');
    await activate(VAC, 'absence', `require "vacation";\r\nvacation :mime :subject "Absence HTML" text:\r\n${reason}.\r\n;\r\n`);
    // The envelope sender is USER: the reply comes back to a local mailbox, through the queue.
    const replies = await smtp(ports.smtp, ['EHLO client.example.org', `MAIL FROM:<${USER}>`, `RCPT TO:<${VAC}>`], `From: Ami <ami@example.org>\r\nTo: ${VAC}\r\nSubject: Question\r\nMessage-ID: <question@example.org>\r\n\r\nBonjour.`);
    expect(replies.at(-2), replies.join('\n')).toMatch(/^250 /);
    expect(await arrives(USER, 'Absence HTML')).toContain('Absence HTML');
    const raw = await source(USER, 'Absence HTML');
    const [head, ...rest] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^Content-Type: multipart\/alternative; boundary="alt"$/m);
    expect(head).toMatch(/^Auto-Submitted: auto-replied$/m);
    expect(head).not.toMatch(/^Bcc:/im);
    expect(head).not.toMatch(/^Content-Type: text\/plain/m);
    expect(rest.join('\r\n\r\n')).toBe(reason.slice(reason.indexOf('--alt')));
  }, 90_000);

  it('a filter-only script (no vacation in it) keeps the out-of-office set with palabre vacation answering', async () => {
    await activate(OOO, 'drapeaux', 'require "imap4flags";\r\nif header :contains "subject" "urgent" { addflag "\\\\Flagged"; }\r\n');
    const replies = await smtp(ports.smtp, ['EHLO client.example.org', `MAIL FROM:<${USER}>`, `RCPT TO:<${OOO}>`], `From: Ami <ami@example.org>\r\nTo: ${OOO}\r\nSubject: Dossier urgent\r\nMessage-ID: <urgent@interieur.gouv.test>\r\n\r\nBonjour.`);
    expect(replies.at(-2), replies.join('\n')).toMatch(/^250 /);
    expect(await arrives(OOO, 'Dossier urgent')).toContain('Dossier urgent');
    // The script ran (the flag) and the built-in reply went out as set.
    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user: OOO, pass: PASS }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    try {
      await imap.mailboxOpen('INBOX');
      const [m] = await imap.fetchAll('1:*', { flags: true, envelope: true });
      expect([...m!.flags!]).toContain('\\Flagged');
    } finally {
      await imap.logout();
    }
    expect(await arrives(USER, 'Hors du bureau')).toContain('Hors du bureau');
    const reply = await source(USER, 'Hors du bureau');
    expect(reply).toMatch(/^Auto-Submitted: auto-replied$/m);
    expect(Buffer.from(reply.split('\r\n\r\n')[1]!, 'base64').toString('utf8')).toBe('Je reviens lundi.');
  }, 90_000);

  it('body tests see each MIME part decoded: a base64 UTF-8 part of a multipart message through the MX', async () => {
    const { c } = await RawSieve.open(ports.sieve);
    expect(await c.command(`AUTHENTICATE "PLAIN" "${plain(OTHER, PASS)}"\r\n`)).toMatch(/^OK/m);
    const script = 'require ["body", "fileinto"];\r\nif body :text :contains "facture de décembre" { fileinto "Factures"; }\r\n';
    expect(await c.command(`PUTSCRIPT "pieces" {${Buffer.byteLength(script)}+}\r\n${script}\r\n`)).toMatch(/^OK/m);
    expect(await c.command('SETACTIVE "pieces"\r\n')).toMatch(/^OK/m);
    c.close();
    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user: OTHER, pass: PASS }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    await imap.mailboxCreate('Factures');
    await imap.logout();
    // A script change applies within 5 s (compiled scripts are cached that long); the previous test's
    // redirect script was read moments ago.
    await new Promise((r) => setTimeout(r, 5_500));
    const text = Buffer.from('Votre facture de décembre est jointe.\r\n').toString('base64');
    const multipart = `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n`;
    const parts = `--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${text}\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n`;
    const replies = await smtp(ports.smtp, ['EHLO client.example.org', 'MAIL FROM:<ami@example.org>', `RCPT TO:<${OTHER}>`], `From: Ami <ami@example.org>\r\nTo: ${OTHER}\r\nSubject: Facture jointe\r\nMessage-ID: <facture@example.org>\r\n${multipart}\r\n${parts}`);
    expect(replies.at(-2), replies.join('\n')).toMatch(/^250 /);
    expect(await subjects(OTHER, 'Factures')).toEqual(['Facture jointe']);
  }, 60_000);

  describe('the ManageSieve port against an attacker', () => {
    const login = async (c: RawSieve) => c.command(`AUTHENTICATE "PLAIN" "${plain(USER, PASS)}"\r\n`);

    it('answers garbage with NO and unauthenticated commands with NO, then hangs up on a flood of them', async () => {
      const { c, greeting } = await RawSieve.open(ports.sieve);
      expect(greeting).toMatch(/"IMPLEMENTATION" "Palabre"[\s\S]*"VERSION" "1.0"[\s\S]*OK/);
      expect(greeting).toMatch(/"STARTTLS"/);
      expect(await c.command('\u0001\u0002 garbage\r\n')).toMatch(/^NO "Syntax error/m);
      expect(await c.command('LISTSCRIPTS\r\n')).toMatch(/^NO "Authenticate first"/m);
      expect(await c.command('GETSCRIPT "regles"\r\n')).toMatch(/^NO "Authenticate first"/m);
      expect(await c.command('PUTSCRIPT "x" {5+}\r\nkeep;\r\n')).toMatch(/^NO "Authenticate first"/m);
      let last = '';
      for (let i = 0; i < 12 && !c.closed; i++) last = await c.command('FROB\r\n');
      expect(last).toMatch(/BYE|<closed>/);
      c.close();
    });

    it('refuses an oversized literal and an overlong line by closing, storing nothing', async () => {
      const { c } = await RawSieve.open(ports.sieve);
      expect(await c.command(`PUTSCRIPT "big" {${10 * 1024 * 1024}+}\r\n`)).toMatch(/^BYE "literal larger than/m);
      c.close();
      const second = await RawSieve.open(ports.sieve);
      second.c.send(`NOOP "${'a'.repeat(20_000)}`);
      expect(await second.c.response()).toMatch(/^BYE "line too long"/m);
      second.c.close();
    });

    it('throttles password guessing: BYE after a few failures on a connection', async () => {
      const { c } = await RawSieve.open(ports.sieve);
      const answers: string[] = [];
      for (let i = 0; i < 4 && !c.closed; i++) answers.push(await c.command(`AUTHENTICATE "PLAIN" "${plain(USER, `wrong-${i}`)}"\r\n`));
      expect(answers[0]).toMatch(/^NO/m);
      expect(answers.at(-1)).toMatch(/^BYE "Too many authentication failures"|<closed>/m);
      c.close();
    });

    it('validates PUTSCRIPT and CHECKSCRIPT with line numbers; bounds 1,000 nested ifs; works with {n} literals', async () => {
      const { c } = await RawSieve.open(ports.sieve);
      const hello = await login(c);
      if (/ENCRYPT-NEEDED/.test(hello)) return; // plaintext refused here: sieve-connect covered the TLS path
      expect(hello).toMatch(/^OK/m);
      const deep = 'if true {'.repeat(1000) + 'keep;' + '}'.repeat(1000);
      expect(await c.command(`PUTSCRIPT "deep" {${deep.length}+}\r\n${deep}\r\n`)).toMatch(/^NO "line 1, column \d+: (blocks|tests) nested deeper than 32"/m);
      const bad = 'keep;\r\nfrobnicate;\r\n';
      expect(await c.command(`CHECKSCRIPT {${bad.length}}\r\n${bad}\r\n`)).toMatch(/^NO "line 2, column 1: unknown command/m);
      expect(await c.command('LISTSCRIPTS\r\n')).not.toMatch(/"deep"/);
      const script = 'redirect "chef@interieur.gouv.test";';
      expect(await c.command(`PUTSCRIPT "loop" {${script.length}}\r\n${script}\r\n`)).toMatch(/^OK/m);
      expect(await c.command('HAVESPACE "loop" 999999999\r\n')).toMatch(/^NO \(QUOTA\/MAXSIZE\)/m);
      expect(await c.command('DELETESCRIPT "regles"\r\n')).toMatch(/^NO \(ACTIVE\)/m);
      expect(await c.command('RENAMESCRIPT "loop" "regles"\r\n')).toMatch(/^NO \(ALREADYEXISTS\)/m);
      expect(await c.command('GETSCRIPT "nope"\r\n')).toMatch(/^NO \(NONEXISTENT\)/m);
      expect(await c.command('GETSCRIPT "loop"\r\n')).toContain(script);
      expect(await c.command('NOOP "t1"\r\n')).toMatch(/^OK \(TAG "t1"\)/m);
      expect(await c.command('UNAUTHENTICATE\r\n')).toMatch(/^OK/m);
      expect(await c.command('LISTSCRIPTS\r\n')).toMatch(/^NO "Authenticate first"/m);
      expect(await c.command('LOGOUT\r\n')).toMatch(/^OK/m);
    });

    it('refuses a huge string list and an oversized script with their position; stores nothing', async () => {
      const { c } = await RawSieve.open(ports.sieve);
      const hello = await c.command(`AUTHENTICATE "PLAIN" "${plain(LOOP2, PASS)}"\r\n`);
      if (/ENCRYPT-NEEDED/.test(hello)) return;
      const list = `if header :contains "subject" [${Array.from({ length: 2_000 }, (_, i) => `"s${i}"`).join(',')}] { discard; }`;
      expect(await c.command(`PUTSCRIPT "liste" {${list.length}+}\r\n${list}\r\n`)).toMatch(/^NO "line 1, column \d+: string list longer than 1024"/m);
      const big = `# ${'x'.repeat(300 * 1024)}\r\nkeep;\r\n`;
      // A literal over the script limit is refused before it is read: BYE naming the limit.
      expect(await c.command(`PUTSCRIPT "gros" {${big.length}+}\r\n${big}\r\n`)).toMatch(/^BYE "literal larger than 262144 bytes"/m);
      c.close();
      const again = (await RawSieve.open(ports.sieve)).c;
      expect(await again.command(`AUTHENTICATE "PLAIN" "${plain(LOOP2, PASS)}"\r\n`)).toMatch(/^OK/m);
      expect(await again.command('LISTSCRIPTS\r\n')).not.toMatch(/"liste"|"gros"/);
      again.close();
    });

    it('a script built to explode at run time (many-star :matches, a variable doubling bomb) is bounded: the message is kept, the MX answers', async () => {
      // Valid scripts, each costly on purpose; each delivery must end with the message in INBOX.
      const stars = `require ["variables"];\r\nif header :matches "subject" "${'*a'.repeat(60)}*b" { discard; }\r\n`;
      const bomb = `require ["variables"];\r\nset "a" "xxxxxxxxxxxxxxxx";\r\n${'set "a" "${a}${a}";\r\n'.repeat(40)}if string :contains "\${a}" "y" { discard; }\r\n`;
      for (const [name, script, subject] of [
        ['etoiles', stars, `${'a'.repeat(900)}`],
        ['bombe', bomb, 'Bombe de variables'],
      ] as const) {
        await activate(LOOP2, name, script);
        await new Promise((r) => setTimeout(r, 5_500)); // the compiled-script cache
        const replies = await mx(LOOP2, subject);
        expect(replies.at(-2), replies.join('\n')).toMatch(/^250 /);
        expect(await arrives(LOOP2, subject)).toContain(subject);
      }
    }, 90_000);
  });
});
