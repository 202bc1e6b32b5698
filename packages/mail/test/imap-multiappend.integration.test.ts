import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startImap, type ImapWorld, type RawClient } from './imap-harness.js';

const msg = (n: number, pad = 0) => `From: a@sante.gouv.tg\r\nSubject: part ${n}\r\n\r\nbody ${n}${'.'.repeat(pad)}\r\n`;
const len = (s: string) => Buffer.byteLength(s);

/** RFC 3502 MULTIAPPEND against a listening server, over raw sockets (imapflow sends one message per APPEND). */
describe('IMAP MULTIAPPEND', () => {
  let w: ImapWorld;
  let r: RawClient;
  const LIMIT = 2000;

  beforeAll(async () => {
    w = await startImap({ allowInsecureAuth: true, limits: { maxMessageBytes: LIMIT, maxAppendTotalBytes: 3 * LIMIT, maxAppendMessages: 4 } });
  });
  afterAll(async () => {
    await w.close();
  });
  beforeEach(async () => {
    r = await w.raw();
    await r.login(w.users.alice);
    await r.cmd('c0', 'DELETE Multi');
    expect((await r.cmd('c1', 'CREATE Multi')).status).toBe('OK');
    await w.directory.updateAccount(w.users.alice.id, { quotaBytes: null });
  });

  const box = async () => (await w.store.getMailbox(w.users.alice.id, 'Multi'))!;
  const stored = async () => (await w.store.listUids((await box()).id)).length;

  /** The next line, which must be the `+` continuation. */
  const expectContinue = async () => expect(await r.line()).toMatch(/^\+ /);

  it('is advertised', async () => {
    expect((await r.cmd('a', 'CAPABILITY')).untagged.join(' ')).toContain(' MULTIAPPEND');
  });

  it('stores several messages with their own flags and dates, synchronising literals, APPENDUID with a UID set', async () => {
    const [m1, m2, m3] = [msg(1), msg(2), msg(3)];
    r.write(`a APPEND Multi (\\Seen) {${len(m1)}}\r\n`);
    await expectContinue();
    r.write(`${m1} (\\Flagged $Work) "05-Mar-2025 10:00:00 +0000" {${len(m2)}}\r\n`);
    await expectContinue();
    r.write(`${m2} {${len(m3)}}\r\n`);
    await expectContinue();
    r.write(`${m3}\r\n`);
    const res = await r.until('a');
    const { uidValidity } = await box();
    expect(res.tagged).toBe(`a OK [APPENDUID ${uidValidity} 1:3] APPEND completed`);
    expect((await r.cmd('s', 'SELECT Multi')).untagged).toContain('* 3 EXISTS');
    const fetched = (await r.cmd('f', 'FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).untagged.join('\n');
    expect(fetched).toMatch(/\* 1 FETCH \(FLAGS \(\\Seen \\Recent\)[^\n]*\nSubject: part 1/);
    expect(fetched).toMatch(/\* 2 FETCH \(FLAGS \(\\Flagged \$Work \\Recent\) INTERNALDATE " 5-Mar-2025 10:00:00 \+0000"[^\n]*\nSubject: part 2/);
    expect(fetched).toMatch(/\* 3 FETCH \(FLAGS \(\\Recent\)[^\n]*\nSubject: part 3/);
  });

  it('takes LITERAL+ messages sent in one go, and a single APPEND still answers one UID', async () => {
    const [m1, m2] = [msg(1), msg(2)];
    const res = await r.cmd('a', `APPEND Multi {${len(m1)}+}\r\n${m1} {${len(m2)}+}\r\n${m2}`);
    expect(res.tagged).toMatch(/^a OK \[APPENDUID \d+ 1:2\]/);
    const one = await r.cmd('b', `APPEND Multi {${len(m1)}+}\r\n${m1}`);
    expect(one.tagged).toMatch(/^b OK \[APPENDUID \d+ 3\]/);
  });

  it('stores nothing when the second literal is over the message limit (synchronising: refused before +)', async () => {
    const m1 = msg(1);
    r.write(`a APPEND Multi {${len(m1)}}\r\n`);
    await expectContinue();
    r.write(`${m1} {${LIMIT + 1}}\r\n`);
    expect(await r.line()).toMatch(/^a NO \[TOOBIG\]/);
    expect(await stored()).toBe(0);
    expect((await r.cmd('n', 'NOOP')).status).toBe('OK');
  });

  it('stores nothing when a LITERAL+ message is over the limit: the connection ends, the store is unchanged', async () => {
    const m1 = msg(1);
    r.write(`a APPEND Multi {${len(m1)}+}\r\n${m1} {${LIMIT * 100}+}\r\n${'x'.repeat(4096)}`);
    const res = await r.until('a');
    expect(res.untagged.join('\n')).toMatch(/\* BYE \[TOOBIG\]/);
    expect(res.tagged).toBeNull();
    expect(await stored()).toBe(0);
  });

  it('stores nothing past the total or the count of one APPEND, and skips a refused LITERAL+ message within the limit', async () => {
    const big = msg(1, LIMIT - 100);
    const parts = Array.from({ length: 4 }, () => `{${len(big)}+}\r\n${big}`).join(' ');
    const total = await r.cmd('a', `APPEND Multi ${parts}`);
    expect(total.tagged).toMatch(/^a NO \[TOOBIG\] The messages of one APPEND/);
    const small = msg(2);
    const many = Array.from({ length: 5 }, () => `{${len(small)}+}\r\n${small}`).join(' ');
    expect((await r.cmd('b', `APPEND Multi ${many}`)).tagged).toMatch(/^b NO \[LIMIT\] At most 4 messages/);
    expect(await stored()).toBe(0);
    expect((await r.cmd('n', 'NOOP')).status).toBe('OK');
  });

  it('refuses the message that passes the quota before its +, storing none', async () => {
    const m = msg(1, 500);
    const { usedBytes } = await w.store.quota(w.users.alice.id);
    await w.directory.updateAccount(w.users.alice.id, { quotaBytes: usedBytes + 2 * len(m) + 10 });
    r.write(`a APPEND Multi {${len(m)}}\r\n`);
    await expectContinue();
    r.write(`${m} {${len(m)}}\r\n`);
    await expectContinue();
    r.write(`${m} {${len(m)}}\r\n`);
    expect(await r.line()).toMatch(/^a NO \[OVERQUOTA\]/);
    expect(await stored()).toBe(0);
  });

  it('answers a malformed second message with BAD and stores nothing', async () => {
    const m = msg(1);
    for (const [i, opts] of ['(\\Bogus', '"32-Jan-2025 10:00:00 +0000"', 'NOTAFLAG', '(\\Seen)(\\Seen)'].entries()) {
      const res = await r.cmd(`b${i}`, `APPEND Multi {${len(m)}+}\r\n${m} ${opts} {${len(m)}+}\r\n${m}`);
      expect(res.status, opts).toBe('BAD');
    }
    const trailing = await r.cmd('c', `APPEND Multi {${len(m)}+}\r\n${m} {${len(m)}+}\r\n${m} JUNK`);
    expect(trailing.tagged).toBe('c BAD Unexpected data after the message');
    const empty = await r.cmd('d', `APPEND Multi {${len(m)}+}\r\n${m} {0+}\r\n`);
    expect(empty.tagged).toMatch(/^d NO \[CANNOT\]/);
    expect(await stored()).toBe(0);
    expect((await r.cmd('n', 'NOOP')).status).toBe('OK');
  });

  it('stores nothing when the connection drops inside the second message', async () => {
    const m = msg(1);
    const before = w.server.connections;
    r.write(`a APPEND Multi {${len(m)}+}\r\n${m} {${len(m)}+}\r\n${m.slice(0, 10)}`);
    // The server has the first message once it asks for nothing more; NOOP on another connection proves it serves.
    r.close();
    while (w.server.connections >= before) await new Promise((done) => setTimeout(done, 10));
    const other = await w.raw();
    await other.login(w.users.alice);
    expect((await other.cmd('n', 'NOOP')).status).toBe('OK');
    other.close();
    expect(await stored()).toBe(0);
  });
});
