import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImap, type ImapWorld, type RawClient } from './imap-harness.js';

/** RFC 5256 SORT and THREAD (and RFC 5957 DISPLAY) against a listening server, over a raw socket. */
describe('IMAP SORT and THREAD', () => {
  let w: ImapWorld;
  let r: RawClient;
  const mail = (n: number, subject: string, date: string, from: string, extra: string[] = []) =>
    [`From: ${from}`, 'To: alice@sante.gouv.tg', `Subject: ${subject}`, `Date: ${date}`, `Message-ID: <m${n}@test>`, ...extra, '', `body ${n}`.padEnd(400 * n, '.'), ''].join('\r\n');

  beforeAll(async () => {
    w = await startImap({ allowInsecureAuth: true });
    await w.deliver(['alice'], mail(1, 'Budget 2027', 'Mon, 3 Mar 2025 09:00:00 +0000', 'Zoé Kane <zoe@sante.gouv.tg>'));
    await w.deliver(['alice'], mail(2, '=?utf-8?q?R=C3=A9union?=', 'Mon, 3 Mar 2025 08:00:00 +0000', 'bob@finances.gouv.tg'));
    await w.deliver(['alice'], mail(3, 'Re: Budget 2027', 'Mon, 3 Mar 2025 10:00:00 +0100', 'Awa <awa@sante.gouv.tg>', ['References: <m1@test>']));
    await w.deliver(['alice'], mail(4, 'Re: [sante] Re: budget 2027', 'Mon, 3 Mar 2025 11:00:00 +0000', 'awa@sante.gouv.tg', ['In-Reply-To: <m3@test>']));
    await w.deliver(['alice'], mail(5, 'Fwd: Réunion', 'Tue, 4 Mar 2025 08:00:00 +0000', 'carol@sante.gouv.tg'));
    r = await w.raw();
    await r.login(w.users.alice);
    await r.cmd('s', 'SELECT INBOX');
  });
  afterAll(async () => {
    r.close();
    await w.close();
  });

  it('advertises SORT, SORT=DISPLAY and both threading algorithms', async () => {
    const caps = (await r.cmd('a', 'CAPABILITY')).untagged.join(' ');
    for (const c of ['SORT', 'SORT=DISPLAY', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES']) expect(caps).toContain(` ${c}`);
  });

  it('sorts by each RFC 5256 key, REVERSE per key, with the search criteria applied', async () => {
    const sort = async (args: string) => {
      const res = await r.cmd('b', `SORT ${args}`);
      expect(res.status).toBe('OK');
      return res.untagged;
    };
    expect(await sort('(DATE) UTF-8 ALL')).toEqual(['* SORT 2 1 3 4 5']); // 10:00 +0100 is 09:00 UTC, the time of 1: the tie goes by sequence
    expect(await sort('(REVERSE SIZE) UTF-8 ALL')).toEqual(['* SORT 5 4 3 2 1']);
    expect(await sort('(SUBJECT DATE) UTF-8 ALL')).toEqual(['* SORT 1 3 4 2 5']);
    expect(await sort('(FROM) UTF-8 ALL')).toEqual(['* SORT 3 4 2 5 1']);
    expect(await sort('(DISPLAYFROM) UTF-8 ALL')).toEqual(['* SORT 3 4 2 5 1']);
    expect(await sort('(SUBJECT) UTF-8 FROM awa')).toEqual(['* SORT 3 4']);
    expect(await sort('(ARRIVAL) US-ASCII SUBJECT nothing-matches')).toEqual(['* SORT']);
    const uid = await r.cmd('c', 'UID SORT (REVERSE ARRIVAL) UTF-8 ALL');
    expect(uid.untagged).toEqual([expect.stringMatching(/^\* SORT( \d+){5}$/)]);
  });

  it('threads by subject and by references', async () => {
    expect((await r.cmd('d', 'THREAD ORDEREDSUBJECT UTF-8 ALL')).untagged).toEqual(['* THREAD (2 5)(1 (3)(4))']);
    expect((await r.cmd('e', 'THREAD REFERENCES UTF-8 ALL')).untagged).toEqual(['* THREAD (2 5)(1 3 4)']);
    expect((await r.cmd('f', 'UID THREAD REFERENCES UTF-8 SUBJECT budget')).untagged).toEqual([expect.stringMatching(/^\* THREAD \(\d+ \d+ \d+\)$/)]);
  });

  it('answers bad arguments with BAD or NO, and the session goes on', async () => {
    for (const bad of ['SORT DATE UTF-8 ALL', 'SORT () UTF-8 ALL', 'SORT (REVERSE) UTF-8 ALL', 'SORT (REVERSE REVERSE DATE) UTF-8 ALL', 'SORT (COLOUR) UTF-8 ALL', 'SORT (DATE)', 'SORT (DATE) UTF-8', 'THREAD SHUFFLE UTF-8 ALL', `SORT (${'DATE '.repeat(500)}) UTF-8 ALL`]) {
      expect((await r.cmd('g', bad)).status, bad).toBe('BAD');
    }
    expect((await r.cmd('h', 'SORT (DATE) KOI8-R ALL')).tagged).toMatch(/^h NO \[BADCHARSET \(US-ASCII UTF-8\)\]/);
    expect((await r.cmd('i', 'NOOP')).status).toBe('OK');
  });

  it('answers SORT RETURN with ESEARCH in sort order (RFC 5267 ESORT); bad options are BAD', async () => {
    expect((await r.cmd('a', 'CAPABILITY')).untagged.join(' ')).toContain(' ESORT');
    expect((await r.cmd('b', 'SORT RETURN (MIN MAX COUNT ALL) (SUBJECT DATE) UTF-8 ALL')).untagged).toEqual(['* ESEARCH (TAG "b") MIN 1 MAX 5 ALL 1,3:4,2,5 COUNT 5']);
    expect((await r.cmd('c', 'SORT RETURN (MAX) (REVERSE SIZE) UTF-8 ALL')).untagged).toEqual(['* ESEARCH (TAG "c") MAX 1']);
    expect((await r.cmd('d', 'SORT RETURN () (DATE) UTF-8 ALL')).untagged).toEqual(['* ESEARCH (TAG "d") ALL 2,1,3:5']);
    expect((await r.cmd('e', 'SORT RETURN (COUNT MIN) (DATE) UTF-8 SUBJECT nothing-matches')).untagged).toEqual(['* ESEARCH (TAG "e") COUNT 0']);
    const uid = await r.cmd('f', 'UID SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL');
    expect(uid.untagged).toEqual([expect.stringMatching(/^\* ESEARCH \(TAG "f"\) UID ALL [\d,:]+$/)]);
    for (const bad of ['SORT RETURN (SAVE) (DATE) UTF-8 ALL', 'SORT RETURN (PARTIAL) (DATE) UTF-8 ALL', 'SORT RETURN MIN (DATE) UTF-8 ALL', 'SORT RETURN (MIN) UTF-8 ALL']) {
      expect((await r.cmd('g', bad)).status, bad).toBe('BAD');
    }
  });
});
