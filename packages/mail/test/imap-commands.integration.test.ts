import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImapFlow } from 'imapflow';
import { testBackends } from '@palabre/core/testing';
import { message, startImap, type ImapWorld } from './imap-harness.js';

const must = <T>(value: T | false | undefined | null): T => {
  if (value === false || value === undefined || value === null) throw new Error('expected a value');
  return value;
};

const MULTIPART = [
  'From: "Awa Mensah" <awa@sante.gouv.tg>',
  'To: alice@sante.gouv.tg',
  'Subject: =?utf-8?q?R=C3=A9union?= budget',
  'Date: Tue, 4 Mar 2025 10:00:00 +0000',
  'Message-ID: <mp@test>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="zz"',
  '',
  '--zz',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Budget caf=C3=A9 tokenXYZ',
  '--zz',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from([0, 1, 2, 255, 0, 7]).toString('base64'),
  '--zz--',
  '',
].join('\r\n');

// SQLite always; PostgreSQL when it answers (always in CI): the same protocol over both stores.
describe.each(await testBackends())('IMAP commands on $name (imapflow and raw, against a listening server)', (backend) => {
  let w: ImapWorld;
  let c: ImapFlow;
  beforeAll(async () => {
    w = await startImap({ backend });
    c = await w.client('alice');
  });
  afterAll(async () => w.close());

  describe('any state', () => {
    it('CAPABILITY lists rev1 and rev2 and the extensions; before login only what login needs', async () => {
      const r = await w.raw();
      const pre = await r.cmd('a', 'CAPABILITY');
      expect(pre.untagged[0]).toMatch(/^\* CAPABILITY IMAP4rev1 IMAP4rev2 .*STARTTLS.*AUTH=PLAIN AUTH=LOGIN/);
      expect(pre.untagged[0]).not.toContain('QRESYNC');
      await r.login(w.users.alice);
      const post = await r.cmd('b', 'CAPABILITY');
      for (const cap of ['IDLE', 'UIDPLUS', 'MOVE', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES', 'LIST-EXTENDED', 'LIST-STATUS', 'STATUS=SIZE', 'SPECIAL-USE', 'NAMESPACE', 'QUOTA', 'ACL', 'BINARY', 'UNSELECT', 'ENABLE', 'ID', 'COMPRESS=DEFLATE', 'LITERAL+']) {
        expect(post.untagged[0]).toContain(` ${cap}`);
      }
      expect(post.untagged[0]).not.toContain('STARTTLS');
    });

    it('NOOP, ID and LOGOUT', async () => {
      const r = await w.raw();
      expect((await r.cmd('a', 'NOOP')).status).toBe('OK');
      const id = await r.cmd('b', 'ID ("name" "test" "version" "1")');
      expect(id.untagged[0]).toMatch(/^\* ID \("name" "Palabre"/);
      expect((await r.cmd('c', 'ID NIL')).status).toBe('OK');
      const bye = await r.cmd('d', 'LOGOUT');
      expect(bye.untagged[0]).toMatch(/^\* BYE/);
      expect(bye.status).toBe('OK');
    });
  });

  describe('authentication and transport', () => {
    it('AUTHENTICATE PLAIN with and without initial response, and LOGIN', async () => {
      const u = w.users.bob;
      const plain = Buffer.from(`\u0000${u.address}\u0000${u.password}`).toString('base64');
      const a = await w.raw();
      expect((await a.cmd('a', `AUTHENTICATE PLAIN ${plain}`)).tagged).toMatch(/^a OK \[CAPABILITY /);
      const b = await w.raw();
      b.write('b AUTHENTICATE PLAIN\r\n');
      expect(await b.line()).toBe('+ ');
      b.write(plain + '\r\n');
      expect((await b.until('b')).status).toBe('OK');
      const l = await w.raw();
      l.write('c AUTHENTICATE LOGIN\r\n');
      expect(await l.line()).toBe('+ VXNlcm5hbWU6');
      l.write(Buffer.from(u.address).toString('base64') + '\r\n');
      expect(await l.line()).toBe('+ UGFzc3dvcmQ6');
      l.write(Buffer.from(u.password).toString('base64') + '\r\n');
      expect((await l.until('c')).status).toBe('OK');
      const cancel = await w.raw();
      cancel.write('d AUTHENTICATE PLAIN\r\n');
      await cancel.line();
      cancel.write('*\r\n');
      expect((await cancel.until('d')).status).toBe('BAD');
      const wrong = await w.raw();
      const bad = Buffer.from(`\u0000${u.address}\u0000nope`).toString('base64');
      expect((await wrong.cmd('e', `AUTHENTICATE PLAIN ${bad}`)).tagged).toBe('e NO [AUTHENTICATIONFAILED] Authentication failed');
    });

    it('STARTTLS upgrades and discards pipelined plaintext; implicit TLS works', async () => {
      const r = await w.raw();
      r.write('a STARTTLS\r\nb NOOP\r\n');
      expect(await r.line()).toBe('a OK Begin TLS negotiation now');
      const tls = await import('node:tls');
      r.socket.removeAllListeners('data');
      const secure = tls.connect({ socket: r.socket, rejectUnauthorized: false });
      await new Promise((resolve) => secure.once('secureConnect', resolve));
      const chunks: Buffer[] = [];
      secure.on('data', (d) => chunks.push(d));
      secure.write('c CAPABILITY\r\n');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const text = Buffer.concat(chunks).toString();
      expect(text).toContain('c OK');
      expect(text).not.toContain('b OK');
      expect(text).not.toContain('STARTTLS');
      secure.destroy();
      const imaps = await w.raw({ tls: true });
      await imaps.login(w.users.alice);
      expect((await imaps.cmd('x', 'NOOP')).status).toBe('OK');
      const flow = await w.client('bob', { port: w.tlsPort, secure: true });
      expect(flow.secureConnection).toBe(true);
      await flow.logout();
    });

    it('refuses plaintext passwords without TLS unless allowed (LOGINDISABLED)', async () => {
      const strict = await startImap({ allowInsecureAuth: false });
      try {
        const r = await strict.raw();
        const caps = await r.cmd('a', 'CAPABILITY');
        expect(caps.untagged[0]).toContain('LOGINDISABLED');
        expect(caps.untagged[0]).not.toContain('AUTH=PLAIN');
        const u = strict.users.alice;
        expect((await r.cmd('b', `LOGIN "${u.address}" "${u.password}"`)).tagged).toMatch(/^b NO \[PRIVACYREQUIRED\]/);
        const flow = await strict.client('alice', { doSTARTTLS: true });
        expect(flow.secureConnection).toBe(true);
        expect(flow.authenticated).toBe(true);
        await flow.logout();
      } finally {
        await strict.close();
      }
    });

    it('COMPRESS=DEFLATE: a compressed session runs commands and big fetches', async () => {
      const z = await w.client('carol');
      expect(z.capabilities.has('COMPRESS=DEFLATE')).toBe(true);
      await z.append('INBOX', message('compressed', 'x'.repeat(200_000)));
      await z.mailboxOpen('INBOX');
      const m = must(await z.fetchOne('*', { source: true }));
      expect(m.source!.length).toBeGreaterThan(200_000);
      await z.logout();
      const r = await w.raw();
      await r.login(w.users.carol);
      r.write('z COMPRESS DEFLATE\r\n');
      expect(await r.line()).toBe('z OK DEFLATE active');
      // Nothing (not even an empty deflate block) may follow the OK before the client speaks compressed.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(r.pending()).toBe(0);
      // What follows is not a deflate stream: the session ends and the server goes on.
      r.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]));
      expect(await r.line()).toBeNull();
      const after = await w.client('carol');
      expect(after.capabilities.has('COMPRESS=DEFLATE')).toBe(true);
      await after.logout();
    });

    it('without the compress option, neither offers nor accepts COMPRESS', async () => {
      const plain = await startImap({ compress: false });
      try {
        const r = await plain.raw();
        await r.login(plain.users.alice);
        expect((await r.cmd('a', 'CAPABILITY')).untagged[0]).not.toContain('COMPRESS');
        expect((await r.cmd('b', 'COMPRESS DEFLATE')).tagged).toMatch(/^b BAD /);
        expect((await r.cmd('c', 'NOOP')).status).toBe('OK'); // still speaking plain text
        const c = await plain.client('bob');
        await c.mailboxOpen('INBOX');
        await c.logout();
      } finally {
        await plain.close();
      }
    });

    it('ENABLE reports what it turned on', async () => {
      const r = await w.raw();
      await r.login(w.users.alice);
      expect((await r.cmd('a', 'ENABLE QRESYNC IMAP4rev2 X-UNKNOWN')).untagged).toEqual(['* ENABLED QRESYNC IMAP4rev2']);
      expect((await r.cmd('b', 'ENABLE CONDSTORE')).untagged).toEqual(['* ENABLED']);
    });
  });

  describe('mailboxes', () => {
    it('LIST with special-use, LSUB, NAMESPACE', async () => {
      const list = await c.list();
      const byPath = Object.fromEntries(list.map((m) => [m.path, m]));
      expect(byPath.Sent!.specialUse).toBe('\\Sent');
      expect(byPath.Trash!.specialUse).toBe('\\Trash');
      expect(byPath.INBOX).toBeDefined();
      const r = await w.raw();
      await r.login(w.users.alice);
      expect((await r.cmd('a', 'NAMESPACE')).untagged).toEqual(['* NAMESPACE (("" "/")) NIL (("Shared/" "/"))']);
      expect((await r.cmd('b', 'LIST "" ""')).untagged).toEqual(['* LIST (\\Noselect) "/" ""']);
      const lsub = await r.cmd('c', 'LSUB "" "*"');
      expect(lsub.untagged).toContain('* LSUB (\\HasNoChildren) "/" "Sent"');
    });

    it('CREATE with parents and special use, RENAME, DELETE with HASCHILDREN, SUBSCRIBE', async () => {
      await c.mailboxCreate('Projets/2025');
      const r = await w.raw();
      await r.login(w.users.alice);
      expect((await r.cmd('a', 'CREATE "Mes brouillons" (USE (\\Drafts))')).status).toBe('OK');
      expect((await r.cmd('b', 'LIST "" "Mes*"')).untagged).toEqual(['* LIST (\\HasNoChildren \\Drafts) "/" "Mes brouillons"']);
      expect((await r.cmd('c', 'CREATE Projets')).tagged).toMatch(/^c NO \[ALREADYEXISTS\]/);
      expect((await r.cmd('d', 'CREATE inbox')).tagged).toMatch(/^d NO \[ALREADYEXISTS\]/);
      expect((await r.cmd('e', 'DELETE Projets')).tagged).toMatch(/^e NO \[HASCHILDREN\]/);
      expect((await r.cmd('f', 'CREATE Shared')).tagged).toMatch(/^f NO \[CANNOT\]/);
      await c.mailboxRename('Projets', 'Archive-projets');
      const names = (await c.list()).map((m) => m.path);
      expect(names).toContain('Archive-projets/2025');
      expect(names).not.toContain('Projets');
      await c.mailboxSubscribe('Archive-projets/2025');
      const subscribed = await c.list({ statusQuery: { messages: true } });
      expect(subscribed.find((m) => m.path === 'Archive-projets/2025')?.subscribed).toBe(true);
      await c.mailboxUnsubscribe('Archive-projets/2025');
      await c.mailboxDelete('Archive-projets/2025');
      await c.mailboxDelete('Archive-projets');
      expect((await c.list()).map((m) => m.path)).not.toContain('Archive-projets');
    });

    it('LIST-EXTENDED selection and return options, LIST-STATUS, \\NonExistent subscriptions', async () => {
      await c.mailboxCreate('Ext/Child');
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('s', 'SUBSCRIBE "Ext/Child"');
      await r.cmd('t', 'SUBSCRIBE "Gone/Away"');
      const sub = await r.cmd('a', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Ext"');
      expect(sub.untagged).toEqual(['* LIST (\\HasChildren) "/" "Ext" ("CHILDINFO" ("SUBSCRIBED"))']);
      const ne = await r.cmd('b', 'LIST (SUBSCRIBED) "" "Gone/*"');
      expect(ne.untagged).toEqual(['* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "Gone/Away"']);
      const su = await r.cmd('c', 'LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)');
      expect(su.untagged.map((l) => /"([^"]*)"$/.exec(l)![1]).sort()).toEqual(['Archive', 'Drafts', 'Junk', 'Mes brouillons', 'Sent', 'Trash']);
      const status = await r.cmd('d', 'LIST "" "Ext/%" RETURN (STATUS (MESSAGES UIDNEXT SIZE))');
      expect(status.untagged).toEqual(['* LIST (\\HasNoChildren) "/" "Ext/Child"', '* STATUS "Ext/Child" (MESSAGES 0 UIDNEXT 1 SIZE 0)']);
      const multi = await r.cmd('e', 'LIST "" ("INBOX" "Sent")');
      expect(multi.untagged.length).toBe(2);
    });

    it('STATUS with every item, including SIZE, DELETED and HIGHESTMODSEQ', async () => {
      await c.mailboxCreate('Stat');
      await c.append('Stat', message('s1'), ['\\Seen']);
      await c.append('Stat', message('s2'), ['\\Deleted']);
      const r = await w.raw();
      await r.login(w.users.alice);
      const st = await r.cmd('a', 'STATUS Stat (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)');
      expect(st.untagged[0]).toMatch(
        new RegExp(`^\\* STATUS "Stat" \\(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \\d+ UNSEEN 1 DELETED 1 SIZE ${Buffer.byteLength(message('s1')) + Buffer.byteLength(message('s2'))} RECENT 2 HIGHESTMODSEQ \\d+ APPENDLIMIT \\d+\\)$`),
      );
      expect((await r.cmd('b', 'STATUS Nope (MESSAGES)')).tagged).toMatch(/^b NO \[NONEXISTENT\]/);
    });

    it('modified UTF-7 names for IMAP4rev1, UTF-8 for IMAP4rev2', async () => {
      await c.mailboxCreate('Réunions/日本語');
      const r = await w.raw();
      await r.login(w.users.alice);
      expect((await r.cmd('a', 'LIST "" "R&AOk-unions/*"')).untagged).toEqual(['* LIST (\\HasNoChildren) "/" "R&AOk-unions/&ZeVnLIqe-"']);
      expect((await r.cmd('b', 'SELECT "R&AOk-unions/&ZeVnLIqe-"')).status).toBe('OK');
      expect((await r.cmd('c', 'SELECT "Réunions"')).tagged).toMatch(/^c NO \[CANNOT\] .*modified UTF-7/);
      const r2 = await w.raw();
      await r2.login(w.users.alice);
      await r2.cmd('e', 'ENABLE IMAP4rev2');
      const utf8 = await r2.cmd('d', 'LIST "" "Réunions/*"');
      expect(Buffer.from(utf8.untagged[0]!, 'latin1').toString('utf8')).toBe('* LIST (\\HasNoChildren) "/" "Réunions/日本語"');
    });
  });

  describe('messages', () => {
    let uidMp = 0;
    let uidPlain = 0;
    let validity = 0n;

    it('APPEND with flags and date, APPENDUID; synchronising literal, LITERAL+ and literal8', async () => {
      await c.mailboxCreate('Msg');
      const a = must(await c.append('Msg', MULTIPART, ['\\Flagged', '$Projet'], new Date('2024-01-02T03:04:05Z')));
      uidMp = a.uid!;
      validity = a.uidValidity!;
      const r = await w.raw();
      await r.login(w.users.alice);
      const body = message('plain one', 'simple body text\r\n');
      r.write(`a APPEND Msg (\\Seen) "02-Jan-2024 03:04:05 +0000" {${Buffer.byteLength(body)}}\r\n`);
      expect(await r.line()).toBe('+ Ready for literal data');
      r.write(body + '\r\n');
      const done = await r.until('a');
      expect(done.tagged).toMatch(/^a OK \[APPENDUID \d+ 2\] APPEND completed$/);
      uidPlain = 2;
      const nonSync = message('non sync');
      const ns = await r.cmd('b', `APPEND Msg {${Buffer.byteLength(nonSync)}+}\r\n${nonSync}`);
      expect(ns.tagged).toMatch(/^b OK \[APPENDUID \d+ 3\]/);
      const bin = Buffer.concat([Buffer.from('Subject: bin\r\n\r\n'), Buffer.from([0, 1, 2, 0])]);
      r.write(`c APPEND Msg ~{${bin.length}+}\r\n`);
      r.write(bin);
      r.write('\r\n');
      expect((await r.until('c')).tagged).toMatch(/^c OK \[APPENDUID \d+ 4\]/);
      expect((await r.cmd('d', 'APPEND Nowhere {1+}\r\nx')).tagged).toMatch(/^d NO \[TRYCREATE\]/);
      r.write('e APPEND Msg {0}\r\n');
      expect((await r.until('e')).tagged).toMatch(/^e NO/);
    });

    it('SELECT and EXAMINE report FLAGS, PERMANENTFLAGS, counts, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ', async () => {
      const r = await w.raw();
      await r.login(w.users.alice);
      const sel = await r.cmd('a', 'SELECT Msg');
      expect(sel.untagged).toContain('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Projet)');
      expect(sel.untagged).toContain('* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $Projet \\*)] Flags permitted');
      expect(sel.untagged).toContain('* 4 EXISTS');
      expect(sel.untagged).toContain('* 4 RECENT');
      expect(sel.untagged).toContain(`* OK [UIDVALIDITY ${validity}] UIDs valid`);
      expect(sel.untagged).toContain('* OK [UIDNEXT 5] Predicted next UID');
      expect(sel.untagged.some((l) => /^\* OK \[HIGHESTMODSEQ \d+\]/.test(l))).toBe(true);
      expect(sel.untagged).toContain('* OK [UNSEEN 1] First unseen');
      expect(sel.tagged).toBe('a OK [READ-WRITE] SELECT completed');
      // \Recent belongs to exactly one session.
      const other = await w.raw();
      await other.login(w.users.alice);
      expect((await other.cmd('b', 'SELECT Msg')).untagged).toContain('* 0 RECENT');
      const ex = await other.cmd('c', 'EXAMINE Msg');
      expect(ex.tagged).toBe('c OK [READ-ONLY] EXAMINE completed');
      expect(ex.untagged).toContain('* OK [PERMANENTFLAGS ()] No permanent flags permitted');
      expect((await other.cmd('d', 'STORE 1 +FLAGS (\\Seen)')).tagged).toMatch(/^d NO \[READ-ONLY\]/);
    });

    it('FETCH ENVELOPE, BODYSTRUCTURE, sections, partial, HEADER.FIELDS(.NOT), MIME, RFC822.*, BINARY, BINARY.SIZE', async () => {
      await c.mailboxOpen('Msg');
      const m = must(await c.fetchOne(String(uidMp), { envelope: true, bodyStructure: true, size: true, internalDate: true, flags: true, uid: true }, { uid: true }));
      expect(m.envelope!.subject).toBe('Réunion budget');
      expect(m.envelope!.from![0]!.name).toBe('Awa Mensah');
      expect(m.bodyStructure!.childNodes!.map((n) => n.type)).toEqual(['text/plain', 'application/octet-stream']);
      expect(new Date(m.internalDate!).toISOString()).toBe('2024-01-02T03:04:05.000Z');
      // \Recent went to the session that selected the mailbox first.
      expect([...m.flags!].sort()).toEqual(['$Projet', '\\Flagged']);
      const parts = must(await c.fetchOne(String(uidMp), { bodyParts: ['1', '2.mime', 'text'], headers: ['subject', 'from'] }, { uid: true }));
      expect(parts.bodyParts!.get('1')!.toString()).toBe('Budget caf=C3=A9 tokenXYZ');
      expect(parts.bodyParts!.get('2.mime')!.toString()).toMatch(/^Content-Type: application\/octet-stream/);
      expect(parts.headers!.toString()).toMatch(/^From: .*\r\nSubject: .*\r\n\r\n$/);
      const dl = must(await c.download(String(uidMp), '2', { uid: true }));
      const bytes: Buffer[] = [];
      for await (const chunk of dl.content!) bytes.push(chunk as Buffer);
      expect(Buffer.concat(bytes)).toEqual(Buffer.from([0, 1, 2, 255, 0, 7]));
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('s', 'EXAMINE Msg');
      const binary = await r.cmd('a', `UID FETCH ${uidMp} (BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2]<1.3>)`);
      expect(Buffer.from(binary.untagged[0]!, 'latin1').toString()).toContain('BINARY[1] {21}\r\nBudget café tokenXYZ');
      expect(binary.untagged[0]).toContain('BINARY.SIZE[2] 6');
      expect(binary.untagged[0]).toContain('BINARY[2]<1> ~{3}\r\n\u0001\u0002\u00ff');
      const fields = await r.cmd('b', `UID FETCH ${uidMp} (BODY.PEEK[HEADER.FIELDS.NOT (FROM TO DATE MESSAGE-ID MIME-VERSION CONTENT-TYPE)] BODY.PEEK[]<0.4> RFC822.SIZE)`);
      expect(fields.untagged[0]).toContain('BODY[HEADER.FIELDS.NOT (FROM TO DATE MESSAGE-ID MIME-VERSION CONTENT-TYPE)] {44}\r\nSubject: =?utf-8?q?R=C3=A9union?= budget\r\n\r\n');
      expect(fields.untagged[0]).toContain('BODY[]<0> {4}\r\nFrom');
      const rfc = await r.cmd('c', `UID FETCH ${uidPlain} (RFC822.HEADER RFC822.TEXT BODY[3] BODY[1.HEADER] BODY.PEEK[]<100000.10> MODSEQ SAVEDATE)`);
      expect(rfc.untagged[0]).toContain('RFC822.TEXT {18}\r\nsimple body text\r\n');
      expect(rfc.untagged[0]).toContain('BODY[3] NIL');
      expect(rfc.untagged[0]).toContain('BODY[1.HEADER] NIL');
      expect(rfc.untagged[0]).toContain('BODY[]<100000> {0}\r\n');
      expect(rfc.untagged[0]).toMatch(/MODSEQ \(\d+\)/);
      expect(rfc.untagged[0]).toMatch(/SAVEDATE "[ \d]\d-\w{3}-\d{4} \d\d:\d\d:\d\d \+0000"/);
      const macro = await r.cmd('d', 'FETCH 1 ALL');
      expect((await r.cmd('d2', 'FETCH 1 (ALL)')).status).toBe('BAD');
      expect(macro.untagged[0]).toMatch(/^\* 1 FETCH \(FLAGS \(.*\) INTERNALDATE ".*" RFC822.SIZE \d+ ENVELOPE \(/);
      expect((await r.cmd('e', 'FETCH 99 FLAGS')).status).toBe('BAD');
      expect((await r.cmd('f', 'UID FETCH 99 FLAGS')).status).toBe('OK');
      expect((await r.cmd('g', 'FETCH 1 (BODY[5.TEXT.X])')).status).toBe('BAD');
    });

    it('FETCH item lists repeated, with literals, and as FETCH after UID FETCH parse the same as the first time', async () => {
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('q', 'ENABLE QRESYNC');
      await r.cmd('s', 'EXAMINE Msg');
      const items = '(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.SIZE)';
      const first = await r.cmd('a', `UID FETCH ${uidMp} ${items}`);
      const again = await r.cmd('b', `UID FETCH ${uidMp} ${items}`);
      expect(again.untagged).toEqual(first.untagged);
      expect(first.untagged[0]).toContain('BODY[HEADER.FIELDS (SUBJECT)] {44}\r\nSubject: =?utf-8?q?R=C3=A9union?= budget\r\n\r\n');
      // The field name as a literal (LITERAL+): the same answer from a command of two lines.
      const literal = await r.cmd('c', `UID FETCH ${uidMp} (UID BODY.PEEK[HEADER.FIELDS ({7+}\r\nSUBJECT)] RFC822.SIZE)`);
      expect(literal.untagged).toEqual(first.untagged);
      // VANISHED is for UID FETCH only, also once the same text was parsed for one.
      const modifiers = '(FLAGS) (CHANGEDSINCE 1 VANISHED)';
      expect((await r.cmd('d', `UID FETCH 1:* ${modifiers}`)).status).toBe('OK');
      expect((await r.cmd('e', `FETCH 1:* ${modifiers}`)).status).toBe('BAD');
      // A list that failed to parse fails again.
      expect((await r.cmd('f', `UID FETCH ${uidMp} (UID BODY.PEEK[HEADER.FIELDS ()])`)).status).toBe('BAD');
      expect((await r.cmd('g', `UID FETCH ${uidMp} (UID BODY.PEEK[HEADER.FIELDS ()])`)).status).toBe('BAD');
    });

    it('FETCH of a body part sets \\Seen (not BODY.PEEK) and reports FLAGS', async () => {
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('s', 'SELECT Msg');
      const peek = await r.cmd('a', `UID FETCH ${uidMp} (BODY.PEEK[1])`);
      expect(peek.untagged[0]).not.toContain('\\Seen');
      const read = await r.cmd('b', `UID FETCH ${uidMp} (BODY[1])`);
      expect(read.untagged[0]).toMatch(/FLAGS \([^)]*\\Seen/);
      await r.cmd('c', `UID STORE ${uidMp} -FLAGS.SILENT (\\Seen)`);
    });

    it('STORE +FLAGS/-FLAGS/FLAGS(.SILENT), keywords appear in FLAGS first, UNCHANGEDSINCE → MODIFIED', async () => {
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('s', 'SELECT Msg');
      const add = await r.cmd('a', 'STORE 1:2 +FLAGS ($Nouveau \\Answered)');
      expect(add.untagged[0]).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Projet $Nouveau)');
      expect(add.untagged.filter((l) => /^\* [12] FETCH \(UID \d+ FLAGS \(.*\\Answered.*\)\)$/.test(l)).length).toBe(2);
      const silent = await r.cmd('b', 'STORE 1 -FLAGS.SILENT (\\Answered)');
      expect(silent.untagged).toEqual([]);
      const set = await r.cmd('c', 'UID STORE 2 FLAGS (\\Draft)');
      expect(set.untagged).toContain('* 2 FETCH (UID 2 FLAGS (\\Draft))');
      await r.cmd('d', 'ENABLE CONDSTORE');
      const f = await r.cmd('e', 'FETCH 1:2 (MODSEQ)');
      const m1 = Number(/MODSEQ \((\d+)\)/.exec(f.untagged[0]!)![1]);
      await r.cmd('f', 'STORE 2 +FLAGS (\\Flagged)');
      const cond = await r.cmd('g', `STORE 1:2 (UNCHANGEDSINCE ${m1}) +FLAGS (\\Seen)`);
      expect(cond.tagged).toBe('g OK [MODIFIED 2] Conditional STORE failed for some messages');
      expect(cond.untagged.some((l) => l.startsWith('* 1 FETCH') && /MODSEQ \(\d+\)/.test(l))).toBe(true);
      expect((await r.cmd('h', 'STORE 1 +FLAGS (\\Recent)')).status).toBe('BAD');
      expect((await r.cmd('i', 'STORE 1 +FLAGS (bad"keyword)')).status).toBe('BAD');
    });

    it('SEARCH: the grammar, charsets, dates, sizes, headers, body, sequence sets, ESEARCH, SEARCHRES', async () => {
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('s', 'SELECT Msg');
      const q = async (tag: string, criteria: string) => (await r.cmd(tag, `UID SEARCH ${criteria}`)).untagged[0];
      expect(await q('a', 'ALL')).toBe('* SEARCH 1 2 3 4');
      expect(await q('b', 'BODY tokenxyz')).toBe(`* SEARCH ${uidMp}`);
      expect(await q('c', 'SUBJECT "réunion"')).toBe(`* SEARCH ${uidMp}`);
      expect(await q('d', 'CHARSET UTF-8 TEXT "café"')).toBe(`* SEARCH ${uidMp}`);
      expect(await q('e', 'OR SUBJECT "plain one" SUBJECT bin')).toBe('* SEARCH 2 4');
      // NOT (FLAGGED AND (DRAFT OR ANSWERED)): 1 is flagged only, 2 flagged and draft.
      expect(await q('f', 'NOT (FLAGGED OR DRAFT ANSWERED)')).toBe('* SEARCH 1 3 4');
      expect(await q('g', 'HEADER Message-ID "<mp@test>"')).toBe(`* SEARCH ${uidMp}`);
      expect(await q('h', 'BEFORE 3-Jan-2024')).toBe('* SEARCH 1 2');
      expect(await q('i', 'SENTON 4-Mar-2025')).toBe(`* SEARCH ${uidMp}`);
      expect(await q('j', `LARGER ${Buffer.byteLength(MULTIPART) - 1} SMALLER ${Buffer.byteLength(MULTIPART) + 1}`)).toBe(`* SEARCH ${uidMp}`);
      expect(await q('k', 'KEYWORD $Projet UID 1:*')).toBe(`* SEARCH ${uidMp}`);
      expect(await q('l', '2:3')).toBe('* SEARCH 2 3');
      expect(await q('m', 'FROM awa TO alice')).toBe('* SEARCH 1 2 3');
      // Messages 3 and 4 came in during this run, 1 and 2 carry 2024 dates (OLDER 1 would depend on how long the run took).
      expect(await q('n', 'YOUNGER 100000')).toBe('* SEARCH 3 4');
      expect(await q('n', 'OLDER 100000')).toBe('* SEARCH 1 2');
      expect(await q('n', 'YOUNGER 100000 OLDER 100000')).toBe('* SEARCH');
      expect((await r.cmd('o', 'SEARCH CHARSET KOI8-R ALL')).tagged).toMatch(/^o NO \[BADCHARSET \(US-ASCII UTF-8\)\]/);
      const es = await r.cmd('p', 'UID SEARCH RETURN (MIN MAX COUNT ALL) ALL');
      expect(es.untagged[0]).toBe('* ESEARCH (TAG "p") UID MIN 1 MAX 4 ALL 1:4 COUNT 4');
      expect((await r.cmd('q', 'SEARCH RETURN (SAVE) SUBJECT bin')).untagged).toEqual([]);
      expect(await q('r', '$')).toBe('* SEARCH 4');
      expect((await r.cmd('t', 'UID FETCH $ (UID)')).untagged[0]).toBe('* 4 FETCH (UID 4)');
      await r.cmd('u', 'ENABLE CONDSTORE');
      expect(await q('v', 'MODSEQ 1')).toMatch(/^\* SEARCH 1 2 3 4 \(MODSEQ \d+\)$/);
      expect((await r.cmd('w', 'SEARCH BOGUS')).status).toBe('BAD');
      expect((await r.cmd('x', 'SEARCH OR ALL')).status).toBe('BAD');
    });

    it('IMAP4rev2 sessions get ESEARCH for plain SEARCH and no \\Recent', async () => {
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('e', 'ENABLE IMAP4rev2');
      const sel = await r.cmd('s', 'SELECT Msg');
      expect(sel.untagged.some((l) => l.includes('RECENT'))).toBe(false);
      expect(sel.untagged).toContain('* LIST () "/" "Msg"');
      expect((await r.cmd('a', 'SEARCH SUBJECT bin')).untagged[0]).toBe('* ESEARCH (TAG "a") ALL 4');
      expect((await r.cmd('b', 'FETCH 1 FLAGS')).untagged[0]).not.toContain('\\Recent');
    });

    it('COPY and MOVE with COPYUID, TRYCREATE, and expunges of MOVE', async () => {
      await c.mailboxCreate('Dest');
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('s', 'SELECT Msg');
      const cp = await r.cmd('a', 'COPY 1:2 Dest');
      expect(cp.tagged).toMatch(/^a OK \[COPYUID \d+ 1:2 1:2\] COPY completed$/);
      expect((await r.cmd('b', 'COPY 1 Nowhere')).tagged).toMatch(/^b NO \[TRYCREATE\]/);
      const mv = await r.cmd('c', 'UID MOVE 3 Dest');
      expect(mv.untagged[0]).toMatch(/^\* OK \[COPYUID \d+ 3 3\] Moved$/);
      expect(mv.untagged[1]).toBe('* 3 EXPUNGE');
      expect(mv.tagged).toBe('c OK MOVE completed');
      const st = must(await c.status('Dest', { messages: true }));
      expect(st.messages).toBe(3);
    });

    it('EXPUNGE and UID EXPUNGE; CLOSE expunges silently; UNSELECT does not', async () => {
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('s', 'SELECT Dest');
      await r.cmd('a', 'STORE 1:3 +FLAGS.SILENT (\\Deleted)');
      const ue = await r.cmd('b', 'UID EXPUNGE 2');
      expect(ue.untagged).toEqual(['* 2 EXPUNGE']);
      expect((await r.cmd('c', 'UNSELECT')).status).toBe('OK');
      await r.cmd('d', 'SELECT Dest');
      const ex = await r.cmd('e', 'EXPUNGE');
      expect(ex.untagged).toEqual(['* 2 EXPUNGE', '* 1 EXPUNGE']);
      await c.append('Dest', message('to close'), ['\\Deleted']);
      await r.cmd('f', 'SELECT Dest');
      const close = await r.cmd('g', 'CLOSE');
      expect(close.untagged).toEqual([]);
      expect(must(await c.status('Dest', { messages: true })).messages).toBe(0);
      expect((await r.cmd('h', 'FETCH 1 FLAGS')).status).toBe('BAD');
    });
  });

  describe('CONDSTORE and QRESYNC', () => {
    it('CHANGEDSINCE, SELECT (QRESYNC …) with VANISHED (EARLIER), UID FETCH … VANISHED', async () => {
      await c.mailboxCreate('Sync');
      for (let i = 1; i <= 5; i++) await c.append('Sync', message(`sync ${i}`));
      const r = await w.raw();
      await r.login(w.users.alice);
      await r.cmd('e', 'ENABLE QRESYNC');
      const sel = await r.cmd('s', 'SELECT Sync');
      const validity = /UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))![1];
      const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join('\n'))![1]);
      await r.cmd('a', 'UNSELECT');
      const other = await w.client('alice');
      await other.mailboxOpen('Sync');
      await other.messageFlagsAdd('2', ['\\Flagged'], { uid: true });
      await other.messageDelete('4', { uid: true });
      const again = await r.cmd('b', `SELECT Sync (QRESYNC (${validity} ${modseq} 1:5))`);
      expect(again.untagged).toContain('* VANISHED (EARLIER) 4');
      expect(again.untagged.some((l) => /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/.test(l))).toBe(true);
      const changed = await r.cmd('c', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
      expect(changed.untagged[0]).toBe('* VANISHED (EARLIER) 4');
      expect(changed.untagged.length).toBe(2);
      // Under QRESYNC, expunges are VANISHED.
      await other.messageDelete('5', { uid: true });
      expect((await r.cmd('d', 'NOOP')).untagged).toEqual(['* VANISHED 5']);
      await other.logout();
      // Another SELECT closes the first with [CLOSED].
      expect((await r.cmd('f', 'SELECT INBOX')).untagged[0]).toBe('* OK [CLOSED] Previous mailbox closed');
    });
  });

  describe('quota and ACL commands', () => {
    it('GETQUOTAROOT, GETQUOTA, SETQUOTA; APPEND over quota is refused before the literal', async () => {
      await w.directory.updateAccount(w.users.bob.id, { quotaBytes: 10 * 1024 });
      const r = await w.raw();
      await r.login(w.users.bob);
      const root = await r.cmd('a', 'GETQUOTAROOT INBOX');
      expect(root.untagged[0]).toBe('* QUOTAROOT "INBOX" ""');
      expect(root.untagged[1]).toMatch(/^\* QUOTA "" \(STORAGE \d+ 10\)$/);
      expect((await r.cmd('b', 'GETQUOTA ""')).untagged[0]).toMatch(/^\* QUOTA "" \(STORAGE/);
      expect((await r.cmd('c', 'SETQUOTA "" (STORAGE 1)')).tagged).toMatch(/^c NO \[NOPERM\]/);
      r.write('d APPEND INBOX {20000}\r\n');
      expect(await r.line()).toBe('d NO [OVERQUOTA] Quota exceeded');
      await w.directory.updateAccount(w.users.bob.id, { quotaBytes: null });
    });

    it('COPY past the quota is NO [OVERQUOTA]; MOVE within the account is not refused (a full account can still empty into Trash)', async () => {
      const r = await w.raw();
      await r.login(w.users.carol);
      await r.cmd('a', 'CREATE Full');
      const m = `Subject: quota\r\n\r\n${'z'.repeat(2000)}\r\n`;
      expect((await r.cmd('b', `APPEND Full {${m.length}+}\r\n${m} {${m.length}+}\r\n${m}`)).status).toBe('OK');
      const { usedBytes } = await w.store.quota(w.users.carol.id);
      await w.directory.updateAccount(w.users.carol.id, { quotaBytes: usedBytes });
      await r.cmd('s', 'SELECT Full');
      expect((await r.cmd('c', 'COPY 1:2 Trash')).tagged).toMatch(/^c NO \[OVERQUOTA\]/);
      const moved = await r.cmd('d', 'MOVE 1:2 Trash');
      expect(moved.status).toBe('OK');
      expect(moved.untagged[0]).toMatch(/^\* OK \[COPYUID \d+ 1:2 \d+:\d+\]/);
      expect((await w.store.quota(w.users.carol.id)).usedBytes).toBe(usedBytes);
      await w.directory.updateAccount(w.users.carol.id, { quotaBytes: null });
      r.close();
    });

    it('STATUS DELETED and DELETED-STORAGE (RFC 9208 §4.3): what EXPUNGE would free, in KiB', async () => {
      const r = await w.raw();
      await r.login(w.users.bob);
      await r.cmd('a', 'CREATE Freed');
      const big = `Subject: big\r\n\r\n${'x'.repeat(3000)}\r\n`;
      const small = 'Subject: small\r\n\r\nx\r\n';
      expect((await r.cmd('b', `APPEND Freed (\\Deleted) {${big.length}+}\r\n${big} {${small.length}+}\r\n${small}`)).status).toBe('OK');
      expect((await r.cmd('c', 'STATUS Freed (MESSAGES DELETED DELETED-STORAGE SIZE)')).untagged).toEqual([
        `* STATUS "Freed" (MESSAGES 2 DELETED 1 DELETED-STORAGE ${Math.ceil(big.length / 1024)} SIZE ${big.length + small.length})`,
      ]);
      expect((await r.cmd('d', 'STATUS Freed (DELETED-STORAGE-X)')).status).toBe('BAD');
      r.close();
    });

    it('SETACL, GETACL, LISTRIGHTS, MYRIGHTS, DELETEACL', async () => {
      const r = await w.raw();
      await r.login(w.users.secretariat);
      expect((await r.cmd('a', 'SETACL INBOX bob@sante.gouv.tg lrs')).status).toBe('OK');
      expect((await r.cmd('b', 'SETACL INBOX group:staff +lrswi')).status).toBe('OK');
      expect((await r.cmd('c', 'SETACL INBOX group:staff -w')).status).toBe('OK');
      const acl = await r.cmd('d', 'GETACL INBOX');
      expect(acl.untagged[0]).toBe('* ACL "INBOX" "secretariat@sante.gouv.tg" lrswipkxtea "bob@sante.gouv.tg" lrs "group:staff" lrsi');
      expect((await r.cmd('e', 'LISTRIGHTS INBOX bob@sante.gouv.tg')).untagged[0]).toBe('* LISTRIGHTS "INBOX" "bob@sante.gouv.tg" "" l r s w i p k x t e a');
      expect((await r.cmd('f', 'MYRIGHTS INBOX')).untagged[0]).toBe('* MYRIGHTS "INBOX" lrswipkxtea');
      expect((await r.cmd('g', 'SETACL INBOX nobody@nowhere.test lr')).tagged).toMatch(/^g NO \[NONEXISTENT\]/);
      expect((await r.cmd('h', 'SETACL INBOX bob@sante.gouv.tg lrZ')).status).toBe('NO');
      expect((await r.cmd('i', 'DELETEACL INBOX group:staff')).status).toBe('OK');
      expect((await r.cmd('j', 'GETACL INBOX')).untagged[0]).toBe('* ACL "INBOX" "secretariat@sante.gouv.tg" lrswipkxtea "bob@sante.gouv.tg" lrs');
      const bob = await w.raw();
      await bob.login(w.users.bob);
      expect((await bob.cmd('k', 'MYRIGHTS "Shared/secretariat@sante.gouv.tg/INBOX"')).untagged[0]).toBe('* MYRIGHTS "Shared/secretariat@sante.gouv.tg/INBOX" lrs');
      expect((await bob.cmd('l', 'GETACL "Shared/secretariat@sante.gouv.tg/INBOX"')).tagged).toMatch(/^l NO \[NOPERM\]/);
    });
  });
});
