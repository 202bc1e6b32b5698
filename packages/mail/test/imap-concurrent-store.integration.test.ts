import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '@palabre/core/testing';
import { message, startImap, type ImapWorld, type RawClient } from './imap-harness.js';

/** `* n FETCH (UID u FLAGS (...) MODSEQ (m))` → [uid, flags, modseq]. */
function parseFetch(line: string): [number, string, number] | null {
  const m = /^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)$/.exec(line);
  return m ? [Number(m[1]), m[2]!, Number(m[3])] : null;
}

/** Two sessions storing on the same messages at once, STOREs pipelined so they interleave in the server. */
describe.each(await testBackends())('concurrent STOREs from two sessions ($name)', (backend) => {
  let w: ImapWorld;
  beforeAll(async () => {
    w = await startImap({ backend });
    const c = await w.client('alice');
    await c.mailboxCreate('Together');
    for (let i = 1; i <= 4; i++) await c.append('Together', message(`together ${i}`));
    await c.logout();
  });
  afterAll(async () => w.close());

  async function session(): Promise<RawClient> {
    const r = await w.raw();
    await r.login(w.users.alice);
    expect((await r.cmd('e', 'ENABLE CONDSTORE')).status).toBe('OK');
    expect((await r.cmd('s', 'SELECT Together')).status).toBe('OK');
    return r;
  }

  it('keeps MODSEQs strictly increasing and shows every change to the other session', async () => {
    const a = await session();
    const b = await session();
    const rounds = 25;
    // Pipelined: each client sends all its STOREs without waiting, so the two streams meet in the server.
    const send = (r: RawClient, who: string, flag: string) => {
      let text = '';
      // Message 1 + (i % 4), its flag set and cleared in turn: every STORE changes something.
      for (let i = 0; i < rounds; i++) text += `${who}${i} STORE ${1 + (i % 4)} ${Math.floor(i / 4) % 2 ? '-' : '+'}FLAGS (${flag})\r\n`;
      r.write(text);
    };
    const collect = async (r: RawClient, who: string) => {
      const own: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const res = await r.until(`${who}${i}`);
        expect(res.status).toBe('OK');
        const seq = 1 + (i % 4);
        // Its own change comes first (the other session's follow, reported after it).
        const mine = parseFetch(res.untagged.find((l) => l.startsWith(`* ${seq} FETCH`)) ?? '');
        expect(mine).toBeTruthy();
        own.push(mine![2]);
      }
      return own;
    };
    send(a, 'a', '\\Seen');
    send(b, 'b', '\\Flagged');
    const [modA, modB] = await Promise.all([collect(a, 'a'), collect(b, 'b')]);
    // Each session's STOREs changed something every time, so each got a MODSEQ above its previous one,
    // and no two changes of the mailbox share one.
    for (const list of [modA, modB]) for (let i = 1; i < list.length; i++) expect(list[i]!).toBeGreaterThan(list[i - 1]!);
    expect(new Set([...modA, ...modB]).size).toBe(2 * rounds);
    // After a NOOP each session's view of every message equals the store's (\Recent is per session).
    const truth = await w.client('alice');
    await truth.mailboxOpen('Together');
    const stored = new Map<number, string[]>();
    for await (const m of truth.fetch('1:*', { uid: true, flags: true })) stored.set(m.uid, [...(m.flags ?? [])].sort());
    await truth.logout();
    for (const r of [a, b]) {
      await r.cmd('n', 'NOOP');
      const view = await r.cmd('f', 'FETCH 1:4 (UID FLAGS MODSEQ)');
      const seen = new Map(view.untagged.map(parseFetch).filter((x) => x !== null).map(([uid, flags]) => [uid, flags.split(' ').filter((f) => f && f !== '\\Recent').sort()]));
      expect(seen).toEqual(stored);
    }
    // Message 1's last STORE (round 24) set the flag; the others' last (rounds 21–23) cleared it.
    expect([...stored.values()]).toEqual([['\\Flagged', '\\Seen'], [], [], []]);
    a.close();
    b.close();
  });

  it('a session that only reads sees every flag change the other made, each at most once per NOOP', async () => {
    const writer = await session();
    const reader = await session();
    const noops: string[][] = [];
    for (let i = 0; i < 6; i++) {
      expect((await writer.cmd(`w${i}`, `STORE 2 ${i % 2 ? '-' : '+'}FLAGS.SILENT (\\Answered)`)).status).toBe('OK');
      noops.push((await reader.cmd(`n${i}`, 'NOOP')).untagged);
    }
    let last = 0;
    for (const [i, lines] of noops.entries()) {
      const updates = lines.map(parseFetch).filter((x) => x !== null);
      expect(updates).toHaveLength(1);
      const [uid, flags, modseq] = updates[0]!;
      expect(uid).toBe(2);
      expect(flags.includes('\\Answered')).toBe(i % 2 === 0);
      expect(modseq).toBeGreaterThan(last);
      last = modseq;
    }
    writer.close();
    reader.close();
  });
});
