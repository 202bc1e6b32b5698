import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testBackends } from '@palabre/core/testing';
import { RawSmtp } from './helpers/raw-smtp.js';
import { startImap, type ImapWorld, type RawClient } from './imap-harness.js';

const msg = (n: number) => `From: a@sante.gouv.tg\r\nSubject: quota ${n}\r\n\r\nbody ${n}\r\n`;
const len = (s: string) => Buffer.byteLength(s);

/**
 * RFC 9208 QUOTA with STORAGE, MESSAGE and MAILBOX against a listening server (imapflow and raw
 * sockets), on SQLite and PostgreSQL: usage reported, limits enforced before anything is stored,
 * and what a user must not do (read another's root, set a quota) refused with nothing changed.
 */
describe.each(await testBackends())('IMAP QUOTA resources on $name', (backend) => {
  let w: ImapWorld;
  let r: RawClient;

  beforeAll(async () => {
    w = await startImap({ backend });
  });
  afterAll(async () => {
    await w.close();
  });
  beforeEach(async () => {
    for (const user of ['alice', 'bob'] as const) {
      await w.directory.updateAccount(w.users[user].id, { quotaBytes: null, quotaMessages: null, quotaMailboxes: null });
    }
    r = await w.raw();
    await r.login(w.users.alice);
    for (const name of ['Q/Deep', 'Q', 'Q2', 'Q3', 'Q4', 'Q5']) await r.cmd('x', `DELETE ${name}`);
    expect((await r.cmd('c', 'CREATE Q')).status).toBe('OK');
  });

  const aliceQuota = () => w.store.quota(w.users.alice.id);

  it('advertises the three resources and no QUOTASET (SETQUOTA is for administrators)', async () => {
    const caps = (await r.cmd('a', 'CAPABILITY')).untagged.join(' ').split(' ');
    expect(caps).toEqual(expect.arrayContaining(['QUOTA', 'QUOTA=RES-STORAGE', 'QUOTA=RES-MESSAGE', 'QUOTA=RES-MAILBOX']));
    expect(caps).not.toContain('QUOTASET');
  });

  it('reports every limited resource with its usage, and none for an unlimited account', async () => {
    expect((await r.cmd('a', 'GETQUOTA ""')).untagged).toEqual(['* QUOTA "" ()']);
    await r.cmd('b', `APPEND Q {${len(msg(1))}+}\r\n${msg(1)} {${len(msg(2))}+}\r\n${msg(2)}`);
    await w.directory.updateAccount(w.users.alice.id, { quotaBytes: 1024 * 1024, quotaMessages: 500, quotaMailboxes: 50 });
    const q = await aliceQuota();
    const root = await r.cmd('c', 'GETQUOTAROOT Q');
    expect(root.untagged).toEqual([
      '* QUOTAROOT "Q" ""',
      `* QUOTA "" (STORAGE ${Math.ceil(q.usedBytes / 1024)} 1024 MESSAGE ${q.messages} 500 MAILBOX ${q.mailboxes} 50)`,
    ]);
    expect(q.messages).toBeGreaterThanOrEqual(2);
    expect(q.mailboxes).toBe((await w.store.listMailboxes(w.users.alice.id)).length);
    // Only what is limited is listed.
    await w.directory.updateAccount(w.users.alice.id, { quotaBytes: null, quotaMailboxes: null });
    expect((await r.cmd('d', 'GETQUOTA ""')).untagged).toEqual([`* QUOTA "" (MESSAGE ${q.messages} 500)`]);
    // imapflow reads the same answer.
    const c = await w.client('alice');
    const info = await c.getQuota('Q');
    expect(info && info.message).toMatchObject({ usage: q.messages, limit: 500 });
    await c.logout();
  });

  it('refuses APPEND, COPY and delivery past the message limit with [OVERQUOTA], before the literal; MOVE within the account passes', async () => {
    const used = (await aliceQuota()).messages;
    await w.directory.updateAccount(w.users.alice.id, { quotaMessages: used + 2 });
    expect((await r.cmd('a', `APPEND Q {${len(msg(1))}+}\r\n${msg(1)}`)).status).toBe('OK');
    expect((await r.cmd('b', `APPEND Q {${len(msg(2))}+}\r\n${msg(2)}`)).status).toBe('OK');
    // A synchronising literal: the refusal comes instead of the `+`, so no byte of it is taken.
    r.write(`c APPEND Q {${len(msg(3))}}\r\n`);
    expect(await r.line()).toBe('c NO [OVERQUOTA] Message count limit reached');
    // MULTIAPPEND counts the messages of the command together.
    await w.directory.updateAccount(w.users.alice.id, { quotaMessages: used + 3 });
    r.write(`d APPEND Q {${len(msg(4))}}\r\n`);
    expect(await r.line()).toMatch(/^\+ /);
    r.write(`${msg(4)} {${len(msg(5))}}\r\n`);
    expect(await r.line()).toBe('d NO [OVERQUOTA] Message count limit reached');
    expect((await aliceQuota()).messages).toBe(used + 2);
    await r.cmd('s', 'SELECT Q');
    expect((await r.cmd('e', 'CREATE Q2')).status).toBe('OK');
    await w.directory.updateAccount(w.users.alice.id, { quotaMessages: used + 2 });
    expect((await r.cmd('f', 'COPY 1 Q2')).tagged).toMatch(/^f NO \[OVERQUOTA\]/);
    expect((await r.cmd('g', 'MOVE 1 Q2')).status).toBe('OK');
    await expect(w.deliver(['alice'], msg(6))).rejects.toMatchObject({ kind: 'quota' });
    expect((await aliceQuota()).messages).toBe(used + 2);
  });

  it('answers 452 4.2.2 to mail for an account at its message limit, at RCPT', async () => {
    const used = (await w.store.quota(w.users.bob.id)).messages;
    await w.directory.updateAccount(w.users.bob.id, { quotaMessages: used });
    const { c } = await RawSmtp.connect(await w.smtp());
    await c.cmd('EHLO client.example');
    await c.cmd('MAIL FROM:<x@example.net>');
    const rcpt = await c.cmd('RCPT TO:<bob@sante.gouv.tg>');
    expect([rcpt.code, rcpt.text]).toEqual([452, '4.2.2 mailbox full, try again later']);
    await c.cmd('QUIT');
    expect((await w.store.quota(w.users.bob.id)).messages).toBe(used);
  });

  it('refuses CREATE and RENAME past the mailbox limit with [OVERQUOTA]; parents count', async () => {
    const count = (await aliceQuota()).mailboxes;
    await w.directory.updateAccount(w.users.alice.id, { quotaMailboxes: count + 1 });
    expect((await r.cmd('a', 'CREATE Q/Deep/Er')).tagged).toBe('a NO [OVERQUOTA] Mailbox count limit reached');
    expect((await r.cmd('b', 'RENAME Q Q3/X/Q')).tagged).toBe('b NO [OVERQUOTA] Mailbox count limit reached');
    expect((await r.cmd('c', 'CREATE Q2')).status).toBe('OK');
    expect((await r.cmd('d', 'CREATE Q3')).tagged).toBe('d NO [OVERQUOTA] Mailbox count limit reached');
    expect((await r.cmd('e', 'LIST "" "Q*"')).untagged.map((l) => l.replace(/^.* /, ''))).toEqual(['"Q"', '"Q2"']);
    expect((await r.cmd('f', 'GETQUOTA ""')).untagged).toEqual([`* QUOTA "" (MAILBOX ${count + 1} ${count + 1})`]);
  });

  it('lets exactly one of concurrent APPENDs at the message limit through, from several sessions', async () => {
    const used = (await aliceQuota()).messages;
    await w.directory.updateAccount(w.users.alice.id, { quotaMessages: used + 1 });
    expect((await r.cmd('a', 'CREATE Q2')).status).toBe('OK');
    const sessions = await Promise.all([0, 1, 2, 3].map(async () => {
      const s = await w.raw();
      await s.login(w.users.alice);
      return s;
    }));
    // LITERAL+: every session is past its pre-check before any of them stores.
    const results = await Promise.all(sessions.map((s, i) => s.cmd(`p${i}`, `APPEND ${i % 2 ? 'Q2' : 'Q'} {${len(msg(i))}+}\r\n${msg(i)}`)));
    expect(results.filter((x) => x.status === 'OK')).toHaveLength(1);
    for (const x of results) if (x.status !== 'OK') expect(x.tagged).toMatch(/^p\d NO \[OVERQUOTA\]/);
    expect((await aliceQuota()).messages).toBe(used + 1);
  });

  describe('hostile', () => {
    it('GETQUOTA of any root but the user\'s own is NO [NONEXISTENT], whoever it names; another account\'s mailbox shows no root', async () => {
      await w.directory.updateAccount(w.users.bob.id, { quotaBytes: 4096 * 1024, quotaMessages: 77 });
      for (const root of ['"bob@sante.gouv.tg"', 'bob', '"Shared/bob@sante.gouv.tg"', '"user.bob"', '"\\"\\""']) {
        const res = await r.cmd('a', `GETQUOTA ${root}`);
        expect(res.tagged).toBe('a NO [NONEXISTENT] No such quota root');
        expect(res.untagged).toEqual([]);
      }
      // Bob shares a mailbox with alice: she sees it, but not his quota.
      const bob = await w.raw();
      await bob.login(w.users.bob);
      await bob.cmd('a', 'CREATE Lent');
      await bob.cmd('b', 'SETACL Lent alice@sante.gouv.tg lr');
      const res = await r.cmd('b', 'GETQUOTAROOT "Shared/bob@sante.gouv.tg/Lent"');
      expect(res.tagged).toMatch(/^b OK/);
      expect(res.untagged).toEqual(['* QUOTAROOT "Shared/bob@sante.gouv.tg/Lent"']);
      expect((await r.cmd('c', 'GETQUOTAROOT "Shared/bob@sante.gouv.tg/Nothing"')).tagged).toMatch(/^c NO /);
      await bob.cmd('d', 'DELETE Lent');
    });

    it('SETQUOTA by a user is NO [NOPERM] for every root and changes nothing', async () => {
      await w.directory.updateAccount(w.users.alice.id, { quotaBytes: 2048 * 1024, quotaMessages: 900 });
      for (const command of ['SETQUOTA "" (STORAGE 999999999)', 'SETQUOTA "" ()', 'SETQUOTA "" (MESSAGE 1 MAILBOX 1)', 'SETQUOTA "bob" (STORAGE 1)', 'SETQUOTA "" (X-OTHER 5)']) {
        expect((await r.cmd('a', command)).tagged).toBe('a NO [NOPERM] Quotas are set by administrators');
      }
      expect(await w.directory.getAccount(w.users.alice.id)).toMatchObject({ quotaBytes: 2048 * 1024, quotaMessages: 900, quotaMailboxes: null });
      expect((await w.directory.getAccount(w.users.bob.id)).quotaBytes).toBeNull();
    });

    it('malformed quota roots and resource lists are BAD, and the session goes on', async () => {
      const bad = [
        'GETQUOTA',
        'GETQUOTA ""  extra',
        'GETQUOTA ("")',
        'GETQUOTAROOT',
        'GETQUOTAROOT INBOX extra',
        'SETQUOTA ""',
        'SETQUOTA "" STORAGE 1',
        'SETQUOTA "" (STORAGE)',
        'SETQUOTA "" (STORAGE -1)',
        'SETQUOTA "" (STORAGE 1 MESSAGE)',
        'SETQUOTA "" (STORAGE 99999999999999999999999)',
        'SETQUOTA "" (STORAGE 1',
        'SETQUOTA "" ("STORAGE" 1)',
        'SETQUOTA "" (STORAGE 1) extra',
      ];
      for (const command of bad) {
        const res = await r.cmd('a', command);
        expect(res.tagged, command).toMatch(/^a BAD /);
        expect(res.untagged, command).toEqual([]);
      }
      expect((await r.cmd('b', 'NOOP')).status).toBe('OK');
      expect((await w.directory.getAccount(w.users.alice.id)).quotaBytes).toBeNull();
    });

    it('oversized quota root names are refused whole (a root as a huge literal, a name past the mailbox limit)', async () => {
      const huge = 'x'.repeat(20_000);
      const res = await r.cmd('a', `GETQUOTA "${huge}"`);
      expect(res.tagged).toMatch(/^a (BAD|NO) /);
      const root = await r.cmd('b', `GETQUOTAROOT "${'y'.repeat(5000)}"`);
      expect(root.tagged).toMatch(/^b (BAD|NO) /);
      expect(root.untagged).toEqual([]);
      r.write('c GETQUOTA {99999999}\r\n');
      expect(await r.line()).toMatch(/^c (BAD|NO) /);
      expect((await r.cmd('d', 'NOOP')).status).toBe('OK');
    });
  });
});
