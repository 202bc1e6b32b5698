import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImap, type ImapWorld, type RawClient } from './imap-harness.js';

/** RFC 5464 METADATA against a listening server, over raw sockets (imapflow has no METADATA commands). */
describe('IMAP METADATA', () => {
  let w: ImapWorld;
  let r: RawClient;

  beforeAll(async () => {
    w = await startImap({ allowInsecureAuth: true });
    r = await w.raw();
    await r.login(w.users.alice);
  });
  afterAll(async () => {
    r.close();
    await w.close();
  });

  const as = async (user: 'alice' | 'bob' | 'secretariat') => {
    const c = await w.raw();
    await c.login(w.users[user]);
    return c;
  };

  it('is advertised; private and shared entries of a mailbox, NIL for what is missing and to delete', async () => {
    expect((await r.cmd('a', 'CAPABILITY')).untagged.join(' ')).toContain(' METADATA');
    expect((await r.cmd('b', 'SETMETADATA INBOX (/private/comment "mine" /shared/Comment "ours")')).status).toBe('OK');
    expect((await r.cmd('c', 'GETMETADATA INBOX (/private/comment /shared/comment /private/none)')).untagged).toEqual([
      '* METADATA "INBOX" ("/private/comment" "mine" "/shared/comment" "ours" "/private/none" NIL)',
    ]);
    expect((await r.cmd('d', 'SETMETADATA INBOX (/private/comment NIL)')).status).toBe('OK');
    expect((await r.cmd('e', 'GETMETADATA INBOX /private/comment')).untagged).toEqual(['* METADATA "INBOX" ("/private/comment" NIL)']);
  });

  it('answers DEPTH and MAXSIZE (LONGENTRIES), and server entries ("")', async () => {
    const long = 'x'.repeat(100);
    const value = `{${long.length}+}\r\n${long}`;
    expect((await r.cmd('a', `SETMETADATA INBOX (/private/a "1" /private/a/b "2" /private/a/b/c ${value})`)).status).toBe('OK');
    expect((await r.cmd('b', 'GETMETADATA (DEPTH 1) INBOX /private/a')).untagged).toEqual(['* METADATA "INBOX" ("/private/a" "1" "/private/a/b" "2")']);
    const capped = await r.cmd('c', 'GETMETADATA (MAXSIZE 10 DEPTH infinity) INBOX /private/a');
    expect(capped.untagged).toEqual(['* METADATA "INBOX" ("/private/a" "1" "/private/a/b" "2")']);
    expect(capped.tagged).toBe('c OK [METADATA LONGENTRIES 100] GETMETADATA completed');
    expect((await r.cmd('d', 'SETMETADATA "" (/private/vendor/palabre/theme "dark")')).status).toBe('OK');
    expect((await r.cmd('e', 'GETMETADATA "" /private/vendor/palabre/theme')).untagged).toEqual(['* METADATA "" ("/private/vendor/palabre/theme" "dark")']);
    expect((await r.cmd('f', 'SETMETADATA "" (/shared/comment "everyone reads this")')).tagged).toMatch(/^f NO \[NOPERM\]/);
    const bob = await as('bob');
    expect((await bob.cmd('g', 'GETMETADATA "" /private/vendor/palabre/theme')).untagged).toEqual(['* METADATA "" ("/private/vendor/palabre/theme" NIL)']);
    bob.close();
  });

  it('shows /private/specialuse as SPECIAL-USE says, read-only', async () => {
    expect((await r.cmd('a', 'GETMETADATA Sent /private/specialuse')).untagged).toEqual(['* METADATA "Sent" ("/private/specialuse" "\\\\Sent")']);
    expect((await r.cmd('b', 'GETMETADATA INBOX /private/specialuse')).untagged).toEqual(['* METADATA "INBOX" ("/private/specialuse" NIL)']);
    expect((await r.cmd('c', 'SETMETADATA Sent (/private/specialuse "\\\\Trash")')).tagged).toMatch(/^c NO \[CANNOT\]/);
  });

  it('carries entries through RENAME and drops them with DELETE', async () => {
    await r.cmd('a', 'CREATE Projets');
    expect((await r.cmd('b', 'SETMETADATA Projets (/shared/comment "dossiers 2027")')).status).toBe('OK');
    expect((await r.cmd('c', 'RENAME Projets Archives2027')).status).toBe('OK');
    expect((await r.cmd('d', 'GETMETADATA Archives2027 /shared/comment')).untagged).toEqual(['* METADATA "Archives2027" ("/shared/comment" "dossiers 2027")']);
    expect((await r.cmd('e', 'DELETE Archives2027')).status).toBe('OK');
    await r.cmd('f', 'CREATE Archives2027');
    expect((await r.cmd('g', 'GETMETADATA Archives2027 /shared/comment')).untagged).toEqual(['* METADATA "Archives2027" ("/shared/comment" NIL)']);
  });

  it('follows the ACL (RFC 5464 §3.3): l and one of r s w i p; private entries stay the reader’s own', async () => {
    const sec = await as('secretariat');
    expect((await sec.cmd('a', 'SETMETADATA INBOX (/shared/comment "courrier du secrétariat" /private/comment "à moi")')).status).toBe('OK');
    const bob = await as('bob');
    const shared = 'Shared/secretariat@sante.gouv.tg/INBOX';
    expect((await bob.cmd('b', `GETMETADATA "${shared}" /shared/comment`)).tagged).toMatch(/^b NO \[NONEXISTENT\]/);
    expect((await bob.cmd('c', `SETMETADATA "${shared}" (/shared/comment "pwned")`)).tagged).toMatch(/^c NO \[NONEXISTENT\]/);
    await sec.cmd('d', 'SETACL INBOX bob@sante.gouv.tg l');
    expect((await bob.cmd('e', `GETMETADATA "${shared}" /shared/comment`)).tagged).toMatch(/^e NO \[NOPERM\]/);
    await sec.cmd('f', 'SETACL INBOX bob@sante.gouv.tg lr');
    const read = await bob.cmd('g', `GETMETADATA "${shared}" (/shared/comment /private/comment)`);
    expect(read.untagged[0]).toMatch(/^\* METADATA "Shared\/secretariat@sante.gouv.tg\/INBOX" \("\/shared\/comment" \{\d+\}/);
    expect(read.untagged[0]).toMatch(/"\/private\/comment" NIL\)$/);
    sec.close();
    bob.close();
  });

  it('as the attacker: malformed names, oversized values, 10,000 entries, bad UTF-8: precise errors, nothing stored', async () => {
    for (const bad of ['/private/../x', '/private//x', '/private/x/', '/private/*', '/private/a%b', '/other/x', '/private', `/private/${'a'.repeat(300)}`]) {
      expect((await r.cmd('a', `SETMETADATA INBOX ("${bad}" "v")`)).status, bad).toBe('BAD');
      expect((await r.cmd('b', `GETMETADATA INBOX "${bad}"`)).status, bad).toBe('BAD');
    }
    r.write(Buffer.concat([Buffer.from('c SETMETADATA INBOX ("/private/caf'), Buffer.from([0xc3, 0xa9]), Buffer.from('" "v")\r\n')]));
    expect((await r.until('c')).status).toBe('BAD');
    r.write('d SETMETADATA INBOX (/private/big {70000}\r\n');
    expect(await r.line()).toBe('d NO [METADATA MAXSIZE 65536] Metadata value too large');
    const under = 'y'.repeat(60_000);
    expect((await r.cmd('e', `SETMETADATA INBOX (/private/big {${under.length}+}\r\n${under})`)).status).toBe('OK');
    r.write(Buffer.concat([Buffer.from('f SETMETADATA INBOX (/private/bin ~{3+}\r\n'), Buffer.from([0xff, 0x00, 0xfe]), Buffer.from(')\r\n')]));
    expect((await r.until('f')).tagged).toMatch(/^f NO \[CANNOT\]/);
    // 10,000 entries on one line is over the line limit; with a literal every 500 entries it is one command.
    const many = (literalEvery: number) => Array.from({ length: 10_000 }, (_, i) => `/private/n/${i} ${i % literalEvery === literalEvery - 1 ? '{1+}\r\nv' : '"v"'}`).join(' ');
    expect((await r.cmd('g', `SETMETADATA INBOX (${many(20_000)})`)).tagged).toBe('g BAD [TOOBIG] Command line too long');
    expect((await r.cmd('g2', `SETMETADATA INBOX (${many(500)})`)).tagged).toMatch(/^g2 NO \[METADATA TOOMANY\]/);
    const batch = (from: number) => Array.from({ length: 500 }, (_, i) => `/private/m/${from + i} "v"`).join(' ');
    expect((await r.cmd('h', `SETMETADATA INBOX (${batch(0)})`)).status).toBe('OK');
    expect((await r.cmd('i', `SETMETADATA INBOX (${batch(500)} /shared/ok "v")`)).tagged).toMatch(/^i NO \[METADATA TOOMANY\]/);
    const after = await r.cmd('j', 'GETMETADATA (DEPTH infinity) INBOX (/private/n /private/m/999 /private/bin /shared/ok)');
    expect(after.untagged).toEqual(['* METADATA "INBOX" ("/private/n" NIL "/private/m/999" NIL "/private/bin" NIL "/shared/ok" NIL)']);
    expect((await r.cmd('k', 'GETMETADATA (DEPTH 2) INBOX /private/a')).status).toBe('BAD');
    expect((await r.cmd('l', 'GETMETADATA (MAXSIZE x) INBOX /private/a')).status).toBe('BAD');
    expect((await r.cmd('n', 'NOOP')).status).toBe('OK');
  });

  it('takes SETMETADATA and GETMETADATA from imapflow (raw exec), UTF-8 values included', async () => {
    const client = await w.client('carol');
    try {
      const atom = (value: string) => ({ type: 'ATOM', value });
      const set = await (client as any).exec('SETMETADATA', [atom('INBOX'), [atom('/private/comment'), { type: 'STRING', value: 'Réunion du lundi' }]]);
      set.next();
      const got: unknown[] = [];
      const get = await (client as any).exec('GETMETADATA', [atom('INBOX'), atom('/private/comment')], {
        untagged: { METADATA: async (untagged: { attributes: unknown[] }) => void got.push(untagged.attributes) },
      });
      get.next();
      // imapflow hands the UTF-8 value back as the literal it was sent in.
      const [[mailbox, [name, value]]] = got as [[{ value: string }, [{ value: string }, { value: Buffer }]]];
      expect([mailbox.value, name.value, Buffer.from(value.value).toString('utf8')]).toEqual(['INBOX', '/private/comment', 'Réunion du lundi']);
    } finally {
      await client.logout();
    }
  });
});
