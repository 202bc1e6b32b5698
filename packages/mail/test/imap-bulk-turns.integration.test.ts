import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewMessage } from '@palabre/core';
import { testBackends } from '@palabre/core/testing';
import { analyzeMessage } from '../src/mime/analyze.js';
import { startImap, type ImapWorld, type RawClient } from './imap-harness.js';

/** More than two slices of a text search (1,024 messages each) and a remainder. */
const MESSAGES = 4_500;

async function seed(w: ImapWorld, mailboxId: string): Promise<void> {
  let batch: NewMessage[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const raw = Buffer.from(`From: ${i % 3 ? 'awa@sante.gouv.tg' : 'Kofi <kofi@x.test>'}\r\nTo: alice@sante.gouv.tg\r\nSubject: rapport ${i}${i % 7 ? '' : ' budget'}\r\nMessage-ID: <b${i}@test>\r\n\r\nBody ${i}\r\n`);
    const blob = await w.blobs.put(raw);
    const analysis = await analyzeMessage(raw);
    batch.push({ blobId: blob.id, size: blob.size, internalDate: new Date(Date.UTC(2025, 0, 1) + i * 60_000), analysis: { headerBytes: analysis.headerBytes, data: analysis.data }, header: raw.subarray(0, analysis.headerBytes), flags: i % 2 ? ['\\Seen'] : [] });
    if (batch.length === 250) {
      await w.store.appendMany(mailboxId, batch);
      batch = [];
    }
  }
  if (batch.length) await w.store.appendMany(mailboxId, batch);
}

describe.each(await testBackends())('bulk commands take turns on $name', (backend) => {
  let indexed: ImapWorld;
  let plain: ImapWorld;
  let db: Awaited<ReturnType<typeof backend.open>>;

  beforeAll(async () => {
    db = await backend.open();
    const blobDir = await mkdtemp(join(tmpdir(), 'palabre-bulk-blobs-'));
    indexed = await startImap({ database: { db: db.db, blobDir }, seed: true });
    plain = await startImap({ database: { db: db.db, blobDir }, seed: false, indexedSearch: false });
    const box = await indexed.store.createMailbox(indexed.users.alice.id, 'Big');
    await seed(indexed, box.id);
    // Holes in every slice, so that slice bounds fall between UIDs that are gone.
    const holes: [number, number][] = [[2040, 2060], [4090, 4100], [4499, 4500]];
    await indexed.store.storeFlags(box.id, indexed.users.alice.id, holes, 'add', ['\\Deleted']);
    await indexed.store.expunge(box.id, { uids: holes });
  }, 120_000);
  afterAll(async () => {
    await plain?.close();
    await indexed?.close();
    await db?.cleanup();
    if (indexed) await rm(indexed.blobDir, { recursive: true, force: true });
  });

  async function open(w: ImapWorld): Promise<RawClient> {
    const r = await w.raw();
    await r.login(w.users.alice);
    expect((await r.cmd('S', 'EXAMINE Big')).status).toBe('OK');
    return r;
  }

  it('a text search asked of the store in slices answers what evaluating every message answers', async () => {
    const [a, b] = [await open(indexed), await open(plain)];
    for (const q of ['SUBJECT budget', 'FROM kofi', 'NOT SUBJECT budget', 'OR FROM kofi SUBJECT "rapport 4321"', 'SUBJECT budget SEEN', 'RETURN (MIN MAX COUNT) FROM kofi', 'SUBJECT "rapport 2047"', 'SUBJECT "rapport 4498"']) {
      for (const prefix of ['UID SEARCH', 'SEARCH']) {
        const got = await a.cmd('q', `${prefix} ${q}`);
        const want = await b.cmd('q', `${prefix} ${q}`);
        expect({ q: `${prefix} ${q}`, got: got.untagged, status: got.status }).toEqual({ q: `${prefix} ${q}`, got: want.untagged, status: 'OK' });
      }
    }
    a.close();
    b.close();
  });

  it("another session's NOOP is answered while a FETCH of thousands of messages is still being sent", async () => {
    const [big, small] = [await open(indexed), await open(indexed)];
    // Small responses (no body): the whole FETCH fits the socket buffers, so nothing but the turns lets
    // the NOOP in before it ends.
    big.write('f UID FETCH 1:* (UID FLAGS)\r\n');
    const noop = await small.cmd('n', 'NOOP');
    expect(noop.status).toBe('OK');
    expect(big.holds('\r\nf OK')).toBe(false);
    const fetched = await big.until('f', 30_000);
    expect(fetched.status).toBe('OK');
    expect(fetched.untagged.filter((l) => l.includes(' FETCH ')).length).toBe(MESSAGES - 21 - 11 - 2);
    big.close();
    small.close();
  });
});
