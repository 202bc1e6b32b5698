import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImap, type ImapWorld, type RawClient } from './imap-harness.js';

const utf8Message = (subject: string, from = 'Zoé Kané <zoe@sante.gouv.tg>') => Buffer.from(`From: ${from}\r\nSubject: ${subject}\r\nDate: Mon, 3 Mar 2025 09:00:00 +0000\r\n\r\nCorps.\r\n`);

/** RFC 6855 UTF8=ACCEPT against a listening server: raw sockets, and imapflow (which enables it). */
describe('IMAP UTF8=ACCEPT', () => {
  let w: ImapWorld;

  beforeAll(async () => {
    w = await startImap({ allowInsecureAuth: true });
  });
  afterAll(async () => {
    await w.close();
  });

  async function enabled(user: 'alice' | 'bob' = 'alice'): Promise<RawClient> {
    const r = await w.raw();
    await r.login(w.users[user]);
    const res = await r.cmd('e', 'ENABLE UTF8=ACCEPT');
    expect(res.untagged).toEqual(['* ENABLED UTF8=ACCEPT']);
    return r;
  }
  /** The raw client reads latin1: responses as the UTF-8 they are. */
  const u8 = (line: string) => Buffer.from(line, 'latin1').toString('utf8');
  /** A raw command with the exact bytes given (8-bit included); responses decoded as UTF-8. */
  const send = async (r: RawClient, tag: string, ...parts: (string | Buffer)[]) => {
    r.write(Buffer.concat([Buffer.from(`${tag} `), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)), Buffer.from('\r\n')]));
    const res = await r.until(tag);
    return { ...res, tagged: res.tagged === null ? null : u8(res.tagged), untagged: res.untagged.map(u8) };
  };
  const count = async (user: 'alice' | 'bob', name: string) => (await w.store.listUids((await w.store.getMailbox(w.users[user].id, name))!.id)).length;

  it('is advertised and enabled; mailbox names are UTF-8 quoted strings after ENABLE, modified UTF-7 before', async () => {
    const r = await enabled();
    expect((await r.cmd('c', 'CAPABILITY')).untagged.join(' ')).toContain(' UTF8=ACCEPT');
    expect((await send(r, 'a', 'CREATE "Réunions/été"')).status).toBe('OK');
    expect((await send(r, 'b', 'LIST "" "Réunions*"')).untagged).toContain('* LIST (\\HasChildren) "/" "Réunions"');
    const legacy = await w.raw();
    await legacy.login(w.users.alice);
    expect((await legacy.cmd('l', 'LIST "" "R*"')).untagged).toContain('* LIST (\\HasChildren) "/" "R&AOk-unions"');
    expect((await send(legacy, 'm', 'SELECT "Réunions"')).tagged).toMatch(/^m NO \[CANNOT\]/);
    legacy.close();
    r.close();
  });

  it('refuses SEARCH with CHARSET and SORT with a charset other than UTF-8 once enabled (RFC 6855 §3, erratum 4029)', async () => {
    await w.deliver(['alice'], utf8Message('=?utf-8?q?R=C3=A9sum=C3=A9?='));
    const legacy = await w.raw();
    await legacy.login(w.users.alice);
    await legacy.cmd('s', 'SELECT INBOX');
    expect((await legacy.cmd('a', 'SEARCH CHARSET UTF-8 ALL')).status).toBe('OK');
    legacy.close();
    const r = await enabled();
    await r.cmd('s', 'SELECT INBOX');
    expect((await r.cmd('a', 'SEARCH CHARSET UTF-8 ALL')).tagged).toMatch(/^a BAD .*CHARSET/);
    expect((await r.cmd('b', 'SEARCH CHARSET US-ASCII ALL')).status).toBe('BAD');
    expect((await send(r, 'c', 'SEARCH SUBJECT "résumé"')).untagged).toEqual([expect.stringMatching(/^\* SEARCH \d+/)]);
    expect((await r.cmd('d', 'SORT (DATE) US-ASCII ALL')).status).toBe('BAD');
    expect((await r.cmd('e', 'SORT (DATE) UTF-8 ALL')).status).toBe('OK');
    r.close();
  });

  it('takes APPEND UTF8 (~{n}) alone and in a MULTIAPPEND, and shows the UTF-8 header raw to the client that enabled it', async () => {
    const r = await enabled();
    const m1 = utf8Message('Réunion à Lomé');
    const m2 = utf8Message('Ordre du jour', 'Awa <awa@sante.gouv.tg>');
    const one = await send(r, 'a', `APPEND INBOX UTF8 (~{${m1.length}+}\r\n`, m1, ')');
    expect(one.tagged).toMatch(/^a OK \[APPENDUID \d+ \d+\]/);
    const many = await send(r, 'b', `APPEND INBOX (\\Seen) UTF8 (~{${m1.length}+}\r\n`, m1, `) UTF8 (~{${m2.length}+}\r\n`, m2, `) {${m2.length}+}\r\n`, m2);
    expect(many.tagged).toMatch(/^b OK \[APPENDUID \d+ \d+:\d+\]/);
    const uid = Number(/APPENDUID \d+ (\d+)/.exec(one.tagged!)![1]);
    await r.cmd('s', 'SELECT INBOX');
    const fetched = (await send(r, 'f', `UID FETCH ${uid} (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])`)).untagged.join('\n');
    expect(fetched).toContain('Subject: Réunion à Lomé');
    expect(fetched).toMatch(/ENVELOPE \("Mon, 3 Mar 2025 09:00:00 \+0000" \{\d+\}\r?\nRéunion à Lomé/);
    r.close();

    // RFC 6855 §7: a client that did not enable UTF-8 gets 7-bit ENVELOPE strings; the bytes stay as stored.
    const legacy = await w.raw();
    await legacy.login(w.users.alice);
    await legacy.cmd('s', 'SELECT INBOX');
    const old = (await send(legacy, 'f', `UID FETCH ${uid} (ENVELOPE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])`)).untagged.join('\n');
    const words = `=?utf-8?b?${Buffer.from('Réunion à Lomé').toString('base64')}?=`;
    expect(old).toContain(`ENVELOPE ("Mon, 3 Mar 2025 09:00:00 +0000" "${words}" (("=?utf-8?b?${Buffer.from('Zoé Kané').toString('base64')}?=" NIL "zoe" "sante.gouv.tg"))`);
    expect(old).toContain(`RFC822.SIZE ${m1.length}`);
    expect(old).toContain('Subject: Réunion à Lomé');
    legacy.close();
  });

  it('as the attacker: UTF8 without ENABLE or without literal8, a missing ), invalid UTF-8, 8-bit headers from a legacy client: nothing stored', async () => {
    const before = await count('alice', 'INBOX');
    const m = utf8Message('Réunion');
    const legacy = await w.raw();
    await legacy.login(w.users.alice);
    expect((await send(legacy, 'a', `APPEND INBOX UTF8 (~{${m.length}}`)).tagged).toMatch(/^a BAD .*ENABLE UTF8=ACCEPT/);
    expect((await send(legacy, 'b', `APPEND INBOX {${m.length}+}\r\n`, m)).tagged).toMatch(/^b NO \[CANNOT\] .*8-bit/);
    legacy.close();

    const r = await enabled();
    expect((await send(r, 'c', `APPEND INBOX UTF8 ({${m.length}}`)).tagged).toMatch(/^c BAD .*literal8/);
    expect((await send(r, 'd', `APPEND INBOX UTF8 (~{${m.length}+}\r\n`, m)).tagged).toBe('d BAD Expected ) after the UTF8 message');
    expect((await send(r, 'e', `APPEND INBOX UTF8 (~{${m.length}+}\r\n`, m, `)) `)).status).toBe('BAD');
    const invalid = Buffer.concat([Buffer.from('From: a@sante.gouv.tg\r\nSubject: caf'), Buffer.from([0xe9, 0xff, 0xc0, 0x80]), Buffer.from('\r\n\r\nx\r\n')]);
    expect((await send(r, 'f', `APPEND INBOX UTF8 (~{${invalid.length}+}\r\n`, invalid, ')')).tagged).toMatch(/^f NO \[CANNOT\] .*not valid UTF-8/);
    // The first message is fine, the second is not: MULTIAPPEND stores neither.
    expect((await send(r, 'g', `APPEND INBOX UTF8 (~{${m.length}+}\r\n`, m, `) UTF8 (~{${invalid.length}+}\r\n`, invalid, ')')).status).toBe('NO');
    const badName = await send(r, 'h', 'CREATE "', Buffer.from([0xc3, 0x28, 0xa0]), '"');
    expect(badName.tagged).toMatch(/^h BAD .*UTF-8/);
    expect((await send(r, 'i', 'CREATE "ok\u2028"')).status).not.toBe('OK');
    expect((await r.cmd('n', 'NOOP')).status).toBe('OK');
    r.close();
    expect(await count('alice', 'INBOX')).toBe(before);
  });

  it('imapflow (which enables UTF8=ACCEPT) creates, lists and appends into UTF-8 names', async () => {
    const client = await w.client('bob');
    try {
      expect(client.enabled.has('UTF8=ACCEPT') || client.enabled.has('IMAP4rev2')).toBe(true);
      await client.mailboxCreate('Dossiers/Ministère');
      const listed = await client.list();
      expect(listed.map((m) => m.path)).toContain('Dossiers/Ministère');
      const appended = await client.append('Dossiers/Ministère', utf8Message('Budget de la santé'));
      expect(appended && appended.uid).toBeGreaterThan(0);
      expect(await count('bob', 'Dossiers/Ministère')).toBe(1);
    } finally {
      await client.logout();
    }
  });
});
