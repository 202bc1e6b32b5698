import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '@palabre/core/testing';
import { message, startImap, type ImapWorld, type RawClient } from './imap-harness.js';

/** The UIDs a session got at SELECT, by sequence number (what the node's UID list copy gave it). */
async function selectedUids(r: RawClient, tag: string): Promise<number[]> {
  const out = await r.cmd(tag, 'UID SEARCH ALL');
  return (out.untagged.find((l) => l.startsWith('* SEARCH')) ?? '* SEARCH').split(' ').slice(2).map(Number);
}

describe.each(await testBackends())('SELECT from the node\'s UID list copy on $name', (backend) => {
  let w: ImapWorld;
  beforeAll(async () => {
    // Few tombstones, so that the copy must be read again once expunges outrun them.
    w = await startImap({ backend, maxTombstones: 3 });
  });
  afterAll(async () => w.close());

  it('gives every later SELECT the UIDs the store has after appends, flag changes and expunges elsewhere', async () => {
    const box = await w.store.createMailbox(w.users.alice.id, 'Copy');
    for (let i = 0; i < 12; i++) await w.deliver(['alice'], message(`m${i}`), 'Copy');
    const first = await w.raw();
    await first.login(w.users.alice);
    await first.cmd('s', 'SELECT Copy');
    expect(await selectedUids(first, 'a')).toEqual(await w.store.listUids(box.id));
    const steps: (() => Promise<unknown>)[] = [
      () => w.store.storeFlags(box.id, w.users.alice.id, [[2, 4]], 'add', ['\\Deleted', '\\Seen']),
      () => w.store.expunge(box.id),
      () => w.deliver(['alice'], message('late'), 'Copy'),
      () => w.store.storeFlags(box.id, w.users.alice.id, [[5, 5]], 'add', ['$Projet']),
      // More expunges than tombstones kept: the copy cannot be brought up to date, it is read again.
      () => w.store.storeFlags(box.id, w.users.alice.id, [[5, 9]], 'add', ['\\Deleted']).then(() => w.store.expunge(box.id)),
      () => w.deliver(['alice'], message('later'), 'Copy'),
    ];
    for (const [i, step] of steps.entries()) {
      await step();
      const r = await w.raw();
      await r.login(w.users.alice);
      const sel = await r.cmd('s', 'SELECT Copy');
      const uids = await w.store.listUids(box.id);
      expect(sel.untagged).toContain(`* ${uids.length} EXISTS`);
      expect({ step: i, uids: await selectedUids(r, 'b') }).toEqual({ step: i, uids });
      r.close();
    }
    first.close();
  });
});
