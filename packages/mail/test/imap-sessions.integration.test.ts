import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '@palabre/core/testing';
import { RawSmtp } from './helpers/raw-smtp.js';
import { message, startImap, withTwoNodes, type ImapWorld, type RawClient } from './imap-harness.js';

/** Wait (bounded) until `check` holds; the bound is a safety net, never what a test asserts. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, limitMs = 15_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function idle(r: RawClient, tag: string): Promise<void> {
  r.write(`${tag} IDLE\r\n`);
  const cont = await r.line();
  if (cont !== '+ idling') throw new Error(`no IDLE continuation: ${cont}`);
}

describe('IMAP sessions sharing mailboxes', () => {
  let w: ImapWorld;
  beforeAll(async () => {
    w = await startImap();
  });
  afterAll(async () => w.close());

  it('one session expunges while the other fetches: no EXPUNGE inside FETCH, then a consistent map', async () => {
    const c = await w.client('alice');
    await c.mailboxCreate('Race');
    for (let i = 1; i <= 10; i++) await c.append('Race', message(`race ${i}`));
    const a = await w.raw();
    await a.login(w.users.alice);
    const b = await w.raw();
    await b.login(w.users.alice);
    await a.cmd('s', 'SELECT Race');
    await b.cmd('s', 'SELECT Race');
    await a.cmd('a1', 'STORE 3,5 +FLAGS.SILENT (\\Deleted)');
    const expunged = await a.cmd('a2', 'EXPUNGE');
    expect(expunged.untagged).toEqual(['* 5 EXPUNGE', '* 3 EXPUNGE']);
    // B has not been told yet: its sequence numbers still include 3 and 5.
    const fetched = await b.cmd('b1', 'FETCH 1:10 (UID)');
    expect(fetched.untagged.some((l) => /EXPUNGE/.test(l))).toBe(false);
    expect(fetched.untagged.filter((l) => /FETCH \(UID/.test(l))).toEqual(
      ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)', '* 4 FETCH (UID 4)', '* 6 FETCH (UID 6)', '* 7 FETCH (UID 7)', '* 8 FETCH (UID 8)', '* 9 FETCH (UID 9)', '* 10 FETCH (UID 10)'],
    );
    expect(fetched.tagged).toBe('b1 NO [EXPUNGEISSUED] Some of the requested messages no longer exist');
    // STORE and SEARCH by sequence number do not report it either.
    const stored = await b.cmd('b2', 'STORE 4 +FLAGS (\\Flagged)');
    expect(stored.untagged).toEqual(['* 4 FETCH (UID 4 FLAGS (\\Flagged))']);
    expect((await b.cmd('b3', 'SEARCH ALL')).untagged.some((l) => /EXPUNGE/.test(l))).toBe(false);
    // A UID command may report it; NOOP does.
    const noop = await b.cmd('b4', 'NOOP');
    expect(noop.untagged.filter((l) => /EXPUNGE/.test(l))).toEqual(['* 5 EXPUNGE', '* 3 EXPUNGE']);
    const after = await b.cmd('b5', 'FETCH 1:* (UID)');
    expect(after.untagged.filter((l) => /FETCH \(UID/.test(l)).map((l) => l.match(/^\* (\d+) FETCH \(UID (\d+)/)!.slice(1).join(':'))).toEqual(
      ['1:1', '2:2', '3:4', '4:6', '5:7', '6:8', '7:9', '8:10'],
    );
    expect(after.tagged).toMatch(/^b5 OK/);
    // A saw B's flag change (on NOOP) at B's sequence numbers translated to its own.
    const seen = await a.cmd('a3', 'NOOP');
    // A selected first, so the messages are \Recent in A.
    expect(seen.untagged).toContain('* 3 FETCH (UID 4 FLAGS (\\Flagged \\Recent))');
    await c.logout();
  });

  it('a large FETCH while another session expunges stays consistent with its own map', async () => {
    const c = await w.client('alice');
    await c.mailboxCreate('Big');
    const body = message('bulk');
    for (let i = 0; i < 600; i++) await c.append('Big', body);
    const b = await w.raw();
    await b.login(w.users.alice);
    await b.cmd('s', 'SELECT Big');
    await c.mailboxOpen('Big');
    b.write('f1 FETCH 1:* (UID FLAGS)\r\n');
    await c.messageDelete('1:300', { uid: true });
    const r = await b.until('f1');
    expect(r.untagged.some((l) => /EXPUNGE/.test(l))).toBe(false);
    for (const l of r.untagged) {
      const m = /^\* (\d+) FETCH \(UID (\d+)/.exec(l);
      if (m) expect(m[1]).toBe(m[2]);
    }
    const noop = await b.cmd('f2', 'NOOP');
    expect(noop.untagged.filter((l) => /EXPUNGE/.test(l)).length).toBe(300);
    expect((await b.cmd('f3', 'FETCH 1 (UID)')).untagged[0]).toBe('* 1 FETCH (UID 301)');
    await c.logout();
  });

  it('IDLE sees a message delivered by SMTP, a flag change and an expunge from other sessions', async () => {
    const smtpPort = await w.smtp();
    const idler = await w.raw();
    await idler.login(w.users.bob);
    const sel = await idler.cmd('s', 'SELECT INBOX');
    const before = Number(sel.untagged.find((l) => / EXISTS$/.test(l))!.split(' ')[1]);
    await idle(idler, 'i1');
    const { c: smtp } = await RawSmtp.connect(smtpPort);
    expect((await smtp.cmd('EHLO client.test')).code).toBe(250);
    expect((await smtp.cmd('MAIL FROM:<someone@elsewhere.test>')).code).toBe(250);
    expect((await smtp.cmd('RCPT TO:<bob@sante.gouv.tg>')).code).toBe(250);
    const sent = await smtp.dataRaw(`${message('over smtp', 'Hello.\r\n', [], 'Someone <someone@elsewhere.test>')}\r\n.\r\n`);
    expect(sent.code).toBe(250);
    smtp.close();
    expect(await idler.line()).toBe(`* ${before + 1} EXISTS`);
    expect(await idler.line()).toBe(`* ${before + 1} RECENT`);
    const other = await w.client('bob');
    await other.mailboxOpen('INBOX');
    await other.messageFlagsAdd(String(before + 1), ['\\Flagged']);
    expect(await idler.line()).toMatch(new RegExp(`^\\* ${before + 1} FETCH \\(UID \\d+ FLAGS \\(\\\\Flagged \\\\Recent\\)\\)$`));
    await other.messageDelete(String(before + 1));
    // imapflow deletes with STORE +FLAGS (\Deleted) then EXPUNGE: both are pushed.
    expect(await idler.line()).toMatch(/FLAGS \(\\Flagged \\Deleted \\Recent\)/);
    expect(await idler.line()).toBe(`* ${before + 1} EXPUNGE`);
    idler.write('DONE\r\n');
    expect((await idler.until('i1')).tagged).toBe('i1 OK IDLE terminated');
    await other.logout();
  });

  it('imapflow IDLE gets EXISTS for a message delivered by SMTP; IDLE needs DONE, anything else is BAD', async () => {
    const smtpPort = await w.smtp();
    const c = await w.client('carol');
    await c.mailboxOpen('INBOX');
    const before = c.mailbox && typeof c.mailbox === 'object' ? c.mailbox.exists : 0;
    const exists: number[] = [];
    c.on('exists', (e: { count: number }) => exists.push(e.count));
    const idling = c.idle();
    await eventually(() => c.idling, 'imapflow to enter IDLE');
    const { c: smtp } = await RawSmtp.connect(smtpPort);
    await smtp.cmd('EHLO client.test');
    await smtp.cmd('MAIL FROM:<partner@elsewhere.test>');
    expect((await smtp.cmd('RCPT TO:<carol@sante.gouv.tg>')).code).toBe(250);
    expect((await smtp.dataRaw(`${message('for the idler', 'Hello.\r\n', [], 'Partner <partner@elsewhere.test>')}\r\n.\r\n`)).code).toBe(250);
    smtp.close();
    await eventually(() => exists.length > 0, 'EXISTS during IDLE');
    expect(exists[0]).toBe(before + 1);
    await c.noop();
    await idling;
    const fresh = await c.fetchOne('*', { envelope: true });
    expect(fresh && fresh.envelope?.subject).toBe('for the idler');
    const r = await w.raw();
    await r.login(w.users.carol);
    await idle(r, 'x');
    r.write('NOT-DONE\r\n');
    expect((await r.until('x')).tagged).toBe('x BAD Expected DONE');
    await c.logout();
  });

  it('one delivery reaches every idler with a single store query (per-node fan-out)', async () => {
    const idlers: RawClient[] = [];
    for (let i = 0; i < 25; i++) {
      const r = await w.raw();
      await r.login(w.users.secretariat);
      await r.cmd('s', 'SELECT INBOX');
      await idle(r, `i${i}`);
      idlers.push(r);
    }
    const store = w.store;
    const original = store.changesSince.bind(store);
    const originalClaim = store.claimRecent.bind(store);
    let calls = 0;
    let claims = 0;
    store.changesSince = async (...args) => {
      calls++;
      return original(...args);
    };
    store.claimRecent = async (...args) => {
      claims++;
      return originalClaim(...args);
    };
    try {
      await w.deliver(['secretariat'], message('fan out'));
      const lines = await Promise.all(idlers.map((r) => r.line()));
      expect(lines.every((l) => l === '* 1 EXISTS')).toBe(true);
      const recent = await Promise.all(idlers.map((r) => r.line()));
      // \Recent went to exactly one session, which alone asked the store.
      expect(recent.filter((l) => l === '* 1 RECENT').length).toBe(1);
      expect(recent.filter((l) => l === '* 0 RECENT').length).toBe(idlers.length - 1);
      expect(calls).toBe(1);
      expect(claims).toBe(1);
    } finally {
      store.changesSince = original;
      store.claimRecent = originalClaim;
      for (const r of idlers) r.close();
    }
  });

  it('when expunge tombstones were pruned, sessions and QRESYNC fall back to comparing UID lists', async () => {
    const small = await startImap({ maxTombstones: 2 });
    try {
      const c = await small.client('alice');
      await c.mailboxCreate('Churn');
      for (let i = 1; i <= 10; i++) await c.append('Churn', message(`churn ${i}`));
      const a = await small.raw();
      await a.login(small.users.alice);
      await a.cmd('e', 'ENABLE QRESYNC');
      const sel = await a.cmd('s', 'SELECT Churn');
      const validity = /UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))![1];
      const modseq = /HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join('\n'))![1];
      await a.cmd('x', 'UNSELECT');
      await c.mailboxOpen('Churn');
      for (const uid of [2, 4, 6, 8]) await c.messageDelete(String(uid), { uid: true });
      // Only two tombstones are kept: VANISHED (EARLIER) comes from the UID list instead.
      const again = await a.cmd('q', `SELECT Churn (QRESYNC (${validity} ${modseq} 1:10))`);
      expect(again.untagged).toContain('* VANISHED (EARLIER) 2,4,6,8');
      const live = await small.raw();
      await live.login(small.users.alice);
      await live.cmd('s', 'SELECT Churn');
      for (const uid of [1, 3, 5]) await c.messageDelete(String(uid), { uid: true });
      // A live session that fell behind the pruned tombstones compares UID lists too.
      const noop = await live.cmd('n', 'NOOP');
      expect(noop.untagged.filter((l) => /EXPUNGE/.test(l))).toEqual(['* 3 EXPUNGE', '* 2 EXPUNGE', '* 1 EXPUNGE']);
      await c.logout();
    } finally {
      await small.close();
    }
  });

  it('idle keepalive and autologout follow the configured timeouts', async () => {
    const short = await startImap({ limits: { idleKeepaliveMs: 100, preAuthTimeoutMs: 150 } });
    try {
      const r = await short.raw();
      await r.login(short.users.alice);
      await r.cmd('s', 'SELECT INBOX');
      await idle(r, 'k');
      expect(await r.line()).toBe('* OK Still here');
      const lazy = await short.raw();
      expect(await lazy.line()).toBe('* BYE Autologout; idle for too long');
      expect(await lazy.line()).toBeNull();
      // Logged in, the pre-auth timeout no longer applies: quiet for longer, the session is still there.
      const quiet = await short.raw();
      await quiet.login(short.users.alice);
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect((await quiet.cmd('n', 'NOOP')).status).toBe('OK');
    } finally {
      await short.close();
    }
  });
});

describe.runIf(await postgresAvailable())('IMAP across two nodes on PostgreSQL', () => {
  it('a change on node A reaches an IDLE session on node B through LISTEN/NOTIFY', async () => {
    await withTwoNodes(async (a, b) => {
      const idler = await b.raw();
      await idler.login(b.users.alice);
      await idler.cmd('s', 'SELECT INBOX');
      await idle(idler, 'n');
      await a.deliver(['alice'], message('cross node'));
      expect(await idler.line()).toBe('* 1 EXISTS');
      expect(await idler.line()).toBe('* 1 RECENT');
      const writer = await a.client('alice');
      await writer.mailboxOpen('INBOX');
      await writer.messageFlagsAdd('1', ['\\Answered']);
      expect(await idler.line()).toMatch(/^\* 1 FETCH \(UID 1 FLAGS \(\\Answered \\Recent\)\)$/);
      await writer.logout();
    });
  });
});
