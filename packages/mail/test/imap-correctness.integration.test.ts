import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message, startImap, type ImapWorld, type RawClient } from './imap-harness.js';

/**
 * Issue 14 §4: what a stricter IMAP compliance run than ours found, each checked against the text of
 * RFC 9051 / RFC 3501 (and RFC 7162, RFC 5258, RFC 3516) over a raw socket, not against our own client.
 */
describe('IMAP correctness against the RFCs', () => {
  let w: ImapWorld;
  let r: RawClient;
  beforeAll(async () => {
    w = await startImap({ allowInsecureAuth: true });
  });
  afterAll(async () => w.close());

  async function session(): Promise<RawClient> {
    const c = await w.raw();
    await c.login(w.users.alice);
    return c;
  }

  it('a mailbox name with characters that are ATOM-CHARs but unusual (~, ], %-free) is listed, selected and survives the session', async () => {
    r = await session();
    expect((await r.cmd('a', 'CREATE ~foo')).status).toBe('OK');
    const list = await r.cmd('b', 'LIST "" ~foo');
    expect(list.status).toBe('OK');
    expect(list.untagged).toEqual([expect.stringMatching(/^\* LIST \([^)]*\) "\/" "?~foo"?$/)]);
    expect((await r.cmd('c', 'SELECT ~foo')).status).toBe('OK');
    expect((await r.cmd('d', 'STATUS ~foo (MESSAGES)')).untagged).toEqual([expect.stringMatching(/^\* STATUS "?~foo"? \(MESSAGES 0\)$/)]);
    expect((await r.cmd('e', 'NOOP')).status).toBe('OK');
    r.close();
  });

  it('after ENABLE CONDSTORE, the FETCH responses a STORE causes carry MODSEQ (RFC 7162 §3.1.4)', async () => {
    await w.deliver(['alice'], message('condstore'), 'INBOX');
    r = await session();
    expect((await r.cmd('a', 'ENABLE CONDSTORE')).untagged).toContain('* ENABLED CONDSTORE');
    expect((await r.cmd('b', 'SELECT INBOX')).status).toBe('OK');
    const store = await r.cmd('c', 'STORE 1 +FLAGS (\\Flagged)');
    expect(store.status).toBe('OK');
    expect(store.untagged).toEqual([expect.stringMatching(/^\* 1 FETCH \((?=.*FLAGS \([^)]*\\Flagged[^)]*\))(?=.*MODSEQ \(\d+\)).*\)$/)]);
    const uidStore = await r.cmd('d', 'UID STORE 1:* -FLAGS (\\Flagged)');
    expect(uidStore.untagged).toEqual([expect.stringMatching(/^\* 1 FETCH \((?=.*UID \d+)(?=.*MODSEQ \(\d+\)).*\)$/)]);
    r.close();
  });

  it('after SELECT (CONDSTORE) without ENABLE, STORE responses carry MODSEQ too, and UNCHANGEDSINCE reports MODIFIED', async () => {
    r = await session();
    expect((await r.cmd('a', 'SELECT INBOX (CONDSTORE)')).untagged).toContainEqual(expect.stringMatching(/^\* OK \[HIGHESTMODSEQ \d+\]/));
    const store = await r.cmd('b', 'STORE 1 +FLAGS (\\Seen)');
    expect(store.untagged).toEqual([expect.stringMatching(/^\* 1 FETCH \((?=.*MODSEQ \(\d+\)).*\)$/)]);
    const stale = await r.cmd('c', 'STORE 1 (UNCHANGEDSINCE 1) -FLAGS (\\Seen)');
    expect(stale.tagged).toMatch(/^c OK \[MODIFIED 1\]/);
    r.close();
  });

  it('SEARCH MODSEQ with an entry name and type (RFC 7162 §3.1.5) parses and answers the highest mod-sequence of the matches', async () => {
    r = await session();
    await r.cmd('a', 'SELECT INBOX');
    // Every message has a mod-sequence ≥ 1: all match, and the response ends with the highest of theirs.
    const fetched = (await r.cmd('f', 'FETCH 1:* (MODSEQ)')).untagged.map((line) => /^\* (\d+) FETCH \(MODSEQ \((\d+)\)\)$/.exec(line)!);
    expect(fetched.length).toBeGreaterThan(0);
    const seqs = fetched.map((m) => m[1]).join(' ');
    const highest = Math.max(...fetched.map((m) => Number(m[2])));
    const s = await r.cmd('b', 'SEARCH MODSEQ "/flags/\\\\draft" all 1');
    expect(s.status).toBe('OK');
    expect(s.untagged).toEqual([`* SEARCH ${seqs} (MODSEQ ${highest})`]);
    // None changed after the highest: nothing found, and then no MODSEQ item at all.
    expect((await r.cmd('g', `SEARCH MODSEQ ${highest + 1}`)).untagged).toEqual(['* SEARCH']);
    const priv = await r.cmd('c', 'SEARCH MODSEQ "/flags/$Label1" priv 1');
    expect(priv.status).toBe('OK');
    expect((await r.cmd('d', 'SEARCH MODSEQ "/flags/x" bogus 1')).status).toBe('BAD');
    r.close();
  });

  it('SENTON/SENTBEFORE/SENTSINCE use the date as written in the Date header, disregarding time and zone', async () => {
    // 23:30 at -0500 is the 4th in UTC; as written it is the 3rd.
    await w.deliver(
      ['alice'],
      message('late-evening', 'x\r\n', [], 'Kofi <kofi@example.org>').replace(
        'Date: Mon, 3 Mar 2025 09:15:00 +0000',
        'Date: Mon, 3 Mar 2025 23:30:00 -0500',
      ),
      'INBOX',
    );
    r = await session();
    await r.cmd('a', 'SELECT INBOX');
    const uid = (await r.cmd('b', 'UID SEARCH SUBJECT late-evening')).untagged[0]!.split(' ')[2]!;
    expect((await r.cmd('c', 'UID SEARCH SENTON 3-Mar-2025 SUBJECT late-evening')).untagged[0]).toBe(`* SEARCH ${uid}`);
    expect((await r.cmd('d', 'UID SEARCH SENTON 4-Mar-2025 SUBJECT late-evening')).untagged[0]).toBe('* SEARCH');
    expect((await r.cmd('e', 'UID SEARCH SENTBEFORE 4-Mar-2025 SUBJECT late-evening')).untagged[0]).toBe(`* SEARCH ${uid}`);
    expect((await r.cmd('f', 'UID SEARCH SENTSINCE 4-Mar-2025 SUBJECT late-evening')).untagged[0]).toBe('* SEARCH');
    r.close();
  });

  it('SEARCH FROM/TO matches the display name and the members of a group', async () => {
    await w.deliver(
      ['alice'],
      message(
        'display',
        'x\r\n',
        ['Cc: Cabinet: awa@sante.gouv.tg, "Mensah, Kofi" <kofi@example.org>;'],
        '"Mensah, Kofi" <kofi.m@example.org>',
      ),
      'INBOX',
    );
    r = await session();
    await r.cmd('a', 'SELECT INBOX');
    const uid = (await r.cmd('b', 'UID SEARCH SUBJECT display')).untagged[0]!.split(' ')[2]!;
    expect((await r.cmd('c', 'UID SEARCH FROM "Mensah, Kofi" SUBJECT display')).untagged[0]).toBe(`* SEARCH ${uid}`);
    expect((await r.cmd('d', 'UID SEARCH FROM kofi.m@example.org SUBJECT display')).untagged[0]).toBe(`* SEARCH ${uid}`);
    expect((await r.cmd('e', 'UID SEARCH CC "kofi@example.org" SUBJECT display')).untagged[0]).toBe(`* SEARCH ${uid}`);
    expect((await r.cmd('f', 'UID SEARCH CC Cabinet SUBJECT display')).untagged[0]).toBe(`* SEARCH ${uid}`);
    r.close();
  });

  it('ENVELOPE renders RFC 5322 groups as RFC 3501 group syntax, without invented addresses', async () => {
    await w.deliver(
      ['alice'],
      message('groups', 'x\r\n', ['Cc: Cabinet: awa@sante.gouv.tg;', 'Bcc: undisclosed-recipients:;']).replace(
        'To: alice@sante.gouv.tg',
        'To: Team: a@b.example, c@d.example;, solo@e.example',
      ),
      'INBOX',
    );
    r = await session();
    await r.cmd('a', 'SELECT INBOX');
    const uid = (await r.cmd('b', 'UID SEARCH SUBJECT groups')).untagged[0]!.split(' ')[2]!;
    const env = (await r.cmd('c', `UID FETCH ${uid} ENVELOPE`)).untagged.join('\n');
    expect(env).not.toContain('MISSING');
    expect(env).toContain(
      '((NIL NIL "Team" NIL)(NIL NIL "a" "b.example")(NIL NIL "c" "d.example")(NIL NIL NIL NIL)(NIL NIL "solo" "e.example"))',
    );
    expect(env).toContain('((NIL NIL "Cabinet" NIL)(NIL NIL "awa" "sante.gouv.tg")(NIL NIL NIL NIL))');
    expect(env).toContain('((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))');
    r.close();
  });

  it('EXAMINE reports RECENT like SELECT (RFC 3501 §6.3.2)', async () => {
    r = await session();
    const ex = await r.cmd('a', 'EXAMINE INBOX');
    expect(ex.tagged).toMatch(/^a OK \[READ-ONLY\]/);
    expect(ex.untagged).toContainEqual(expect.stringMatching(/^\* \d+ RECENT$/));
    expect(ex.untagged).toContainEqual(expect.stringMatching(/^\* \d+ EXISTS$/));
    r.close();
  });

  it('LSUB shows an unsubscribed parent of a subscribed mailbox as \\Noselect when the pattern ends in % (RFC 3501 §6.3.9)', async () => {
    r = await session();
    await r.cmd('a', 'CREATE Projets/2026/Budget');
    await r.cmd('b', 'SUBSCRIBE Projets/2026/Budget');
    await r.cmd('c', 'UNSUBSCRIBE Projets');
    const top = await r.cmd('d', 'LSUB "" %');
    expect(top.untagged).toContain('* LSUB (\\Noselect \\HasChildren) "/" "Projets"');
    const mid = await r.cmd('e', 'LSUB "" Projets/%');
    expect(mid.untagged).toContain('* LSUB (\\Noselect \\HasChildren) "/" "Projets/2026"');
    const all = await r.cmd('f', 'LSUB "" *');
    expect(all.untagged).toContain('* LSUB (\\HasNoChildren) "/" "Projets/2026/Budget"');
    expect(all.untagged.some((l) => /"\/" "Projets"$/.test(l))).toBe(false);
    r.close();
  });

  it('LIST-EXTENDED: RECURSIVEMATCH alone is BAD; CHILDINFO names the subscribed children of an unsubscribed parent (RFC 5258)', async () => {
    r = await session();
    expect((await r.cmd('a', 'LIST (RECURSIVEMATCH) "" *')).status).toBe('BAD');
    expect((await r.cmd('b', 'LIST (RECURSIVEMATCH REMOTE) "" *')).status).toBe('BAD');
    const info = await r.cmd('c', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" %');
    expect(info.status).toBe('OK');
    // RFC 9051 §6.3.9.6's table: exists, not subscribed, a subscribed child → () + CHILDINFO (\HasChildren may be added).
    expect(info.untagged).toContainEqual(
      expect.stringMatching(/^\* LIST \((\\HasChildren)?\) "\/" "Projets" \("CHILDINFO" \("SUBSCRIBED"\)\)$/),
    );
    const deep = await r.cmd('c2', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" *');
    expect(deep.untagged).toContainEqual(
      expect.stringMatching(/^\* LIST \([^)]*\) "\/" "Projets\/2026" \("CHILDINFO" \("SUBSCRIBED"\)\)$/),
    );
    expect(deep.untagged).toContainEqual(expect.stringMatching(/^\* LIST \([^)]*\\Subscribed[^)]*\) "\/" "Projets\/2026\/Budget"$/));
    const plain = await r.cmd('d', 'LIST (SUBSCRIBED) "" %');
    expect(plain.untagged.some((l) => /"\/" "Projets"/.test(l))).toBe(false);
    r.close();
  });

  it('BINARY[n] decodes a quoted-printable part byte for byte and BINARY.SIZE[n] gives its decoded size (RFC 3516)', async () => {
    const bytes = Buffer.from('Caf\xe9 = 1\x00\x01\r\nsoft break here', 'latin1');
    const qp = 'Caf=E9 =3D 1=00=01\r\nsoft break=\r\n here';
    const raw = [
      'From: awa@sante.gouv.tg',
      'To: alice@sante.gouv.tg',
      'Subject: binary-qp',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary=b1',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'first',
      '--b1',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      qp,
      '--b1--',
      '',
    ].join('\r\n');
    await w.deliver(['alice'], raw, 'INBOX');
    r = await session();
    await r.cmd('a', 'SELECT INBOX');
    const uid = (await r.cmd('b', 'UID SEARCH SUBJECT binary-qp')).untagged[0]!.split(' ')[2]!;
    const size = await r.cmd('c', `UID FETCH ${uid} BINARY.SIZE[2]`);
    expect(size.untagged[0]).toContain(`BINARY.SIZE[2] ${bytes.length}`);
    r.write(`d UID FETCH ${uid} BINARY.PEEK[2]\r\n`);
    // line() returns the literal's bytes (latin1) after the announcement and its CRLF.
    const fetched = (await r.line())!;
    const m = /BINARY\[2\] (~?)\{(\d+)\}\r\n/.exec(fetched);
    expect(m, fetched).not.toBeNull();
    expect(m![1]).toBe('~'); // NUL inside: literal8 (RFC 3516 §4.2)
    expect(Number(m![2])).toBe(bytes.length);
    const start = m!.index + m![0].length;
    expect(Buffer.from(fetched.slice(start, start + bytes.length), 'latin1').equals(bytes)).toBe(true);
    expect((await r.line())!).toMatch(/^d OK/);
    r.close();
  });

  it('an empty body part comes back as a zero-length literal, not as a quoted string', async () => {
    const raw = [
      'From: awa@sante.gouv.tg',
      'Subject: empty-part',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary=b2',
      '',
      '--b2',
      'Content-Type: text/plain',
      '',
      '',
      '--b2--',
      '',
    ].join('\r\n');
    r = await session();
    const append = await r.cmd('a', `APPEND INBOX {${Buffer.byteLength(raw)}+}\r\n${raw}`);
    expect(append.status).toBe('OK');
    await r.cmd('b', 'SELECT INBOX');
    const uid = (await r.cmd('c', 'UID SEARCH SUBJECT empty-part')).untagged[0]!.split(' ')[2]!;
    const f = await r.cmd('d', `UID FETCH ${uid} BODY.PEEK[1]`);
    expect(f.untagged[0]).toMatch(/BODY\[1\] \{0\}\r\n\)$/);
    r.close();
  });
});
