import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewMessage } from '@palabre/core';
import { testBackends } from '@palabre/core/testing';
import { analyzeMessage } from '../src/mime/analyze.js';
import { startImap, type ImapWorld, type RawClient } from './imap-harness.js';

const SENDERS = ['"Awa Mensah" <awa@sante.gouv.tg>', 'KOFI <Kofi@x.test>', '=?utf-8?q?=C3=89lodie?= <elodie@x.test>', 'bot@x.test', ''];
const SUBJECTS = ['Réunion budget', 'RE: budget 2025', 'Rapport mensuel', '100%_ sûr', 'message'];
const KEYWORDS = [[], ['$Projet'], ['$projet', 'Urgent'], ['NonJunk'], []];
const SYSTEM = [[], ['\\Seen'], ['\\Seen', '\\Flagged'], ['\\Deleted'], ['\\Answered', '\\Draft', '\\Seen']];
const DAY = 86_400_000;

/** A mailbox of varied messages: senders, subjects, Date headers (some missing), sizes, flags, keywords, dates. */
async function seed(w: ImapWorld, mailboxId: string, n: number): Promise<void> {
  const batch: NewMessage[] = [];
  for (let i = 0; i < n; i++) {
    const from = SENDERS[i % SENDERS.length]!;
    const subject = `${SUBJECTS[(i >> 1) % SUBJECTS.length]} ${i}`;
    const day = Date.UTC(2025, 0, 1) + (i % 23) * DAY + ((i * 7919) % DAY);
    const headers = [
      ...(from ? [`From: ${from}`] : []),
      `To: ${i % 3 ? 'alice@sante.gouv.tg' : 'Équipe <equipe@sante.gouv.tg>, bob@sante.gouv.tg'}`,
      ...(i % 4 === 0 ? ['Cc: carol@sante.gouv.tg'] : []),
      `Subject: ${subject}`,
      ...(i % 6 ? [`Date: ${new Date(day - ((i % 5) - 2) * 3600_000 * 11).toUTCString().replace('GMT', i % 2 ? '+1100' : '-0500')}`] : []),
      `Message-ID: <m${i}@test>`,
    ];
    const raw = Buffer.from(`${headers.join('\r\n')}\r\n\r\nBody ${i} ${'lorem ipsum '.repeat(i % 17)}token${i % 5}\r\n`);
    const blob = await w.blobs.put(raw);
    const analysis = await analyzeMessage(raw);
    batch.push({
      blobId: blob.id,
      size: blob.size,
      internalDate: new Date(day),
      analysis: { headerBytes: analysis.headerBytes, data: analysis.data },
      header: raw.subarray(0, analysis.headerBytes),
      flags: [...SYSTEM[i % SYSTEM.length]!, ...KEYWORDS[(i >> 2) % KEYWORDS.length]!],
    });
  }
  for (let i = 0; i < batch.length; i += 50) await w.store.appendMany(mailboxId, batch.slice(i, i + 50));
}

// What SEARCH is asked: flags and keywords, dates, sizes, envelope text, sets, and mixes with keys only
// this side evaluates (HEADER, BODY, TEXT), under NOT and OR too.
const QUERIES = [
  'ALL',
  'SEEN',
  'UNSEEN',
  'DELETED',
  'UNDELETED',
  'FLAGGED UNANSWERED',
  'DRAFT',
  'NOT DRAFT',
  'KEYWORD $projet',
  'UNKEYWORD $PROJET',
  'KEYWORD urgent',
  'KEYWORD Urg',
  'KEYWORD NONJUNK',
  'NEW',
  'OLD',
  'RECENT',
  'UID 1:50',
  'UID 10,20,30:35,200:*',
  'UID *',
  '1:20',
  '5,9,100:*',
  '*',
  'SINCE 10-Jan-2025',
  'BEFORE 10-Jan-2025',
  'ON 10-Jan-2025',
  'SINCE 1-Feb-2030',
  'SENTSINCE 10-Jan-2025',
  'SENTBEFORE 10-Jan-2025',
  'SENTON 10-Jan-2025',
  'NOT SENTON 11-Jan-2025',
  'SAVEDSINCE 1-Jan-2000',
  'SAVEDBEFORE 1-Jan-2000',
  'LARGER 300',
  'SMALLER 250',
  'LARGER 200 SMALLER 260',
  'FROM awa',
  'FROM AWA',
  'FROM "élodie"',
  'FROM "x.test"',
  'TO equipe',
  'TO "équipe"',
  'CC carol',
  'BCC carol',
  'SUBJECT budget',
  'SUBJECT "RÉUNION"',
  'SUBJECT "100%_"',
  'SUBJECT ""',
  'NOT SUBJECT budget',
  'OR FROM kofi SUBJECT rapport',
  'OR SEEN FLAGGED',
  'NOT (OR SEEN DELETED)',
  'SEEN NOT FLAGGED SINCE 5-Jan-2025 LARGER 220',
  'OR (KEYWORD $Projet SENTSINCE 15-Jan-2025) (UID 1:40 UNSEEN)',
  'MODSEQ 1',
  'MODSEQ 3 SEEN',
  'YOUNGER 1000000000',
  'OLDER 1000000000',
  'HEADER Message-ID "m1"',
  'HEADER Message-ID "m1" SEEN',
  'NOT HEADER Message-ID "m1"',
  'OR HEADER Message-ID "m2" FLAGGED',
  'BODY token3',
  'BODY token3 FROM awa',
  'NOT BODY token3 UID 1:60',
  'TEXT kofi UNSEEN',
  'OR TEXT token1 (SUBJECT rapport NOT SEEN)',
  'CHARSET UTF-8 SUBJECT "sûr"',
  'RETURN (MIN MAX COUNT ALL) UNSEEN',
  'RETURN (COUNT) FROM awa',
  'RETURN (MIN) BODY token2',
  'RETURN (ALL) MODSEQ 2',
];

async function answer(r: RawClient, tag: string, command: string): Promise<string[]> {
  const out = await r.cmd(tag, command);
  // The tag is in ESEARCH answers; both sides use the same tags.
  return [...out.untagged, out.status ?? 'none'];
}

describe.each(await testBackends())('SEARCH decided by the store on $name gives what evaluating every message gives', (backend) => {
  let indexed: ImapWorld;
  let plain: ImapWorld;
  let db: Awaited<ReturnType<typeof backend.open>>;
  let asked = 0;

  beforeAll(async () => {
    db = await backend.open();
    indexed = await startImap({ database: { db: db.db, blobDir: await tmpBlobDir() }, seed: true });
    plain = await startImap({ database: { db: db.db, blobDir: indexed.blobDir }, seed: false, indexedSearch: false });
    const box = await indexed.store.createMailbox(indexed.users.alice.id, 'Seeded');
    await seed(indexed, box.id, 240);
    await indexed.store.setAcl(box.id, { kind: 'account', id: indexed.users.bob.id }, 'lrs');
    // bob's own \Seen on a mailbox he does not own: per user, not the owner's.
    await indexed.store.storeFlags(box.id, indexed.users.bob.id, [[3, 90]], 'add', ['\\Seen']);
    // Expunged and changed after the UIDs were handed out: holes in the UID space, later MODSEQs.
    await indexed.store.expunge(box.id, { uids: [[1, 30]] });
    await indexed.store.storeFlags(box.id, indexed.users.alice.id, [[100, 140]], 'add', ['\\Flagged']);
    for (const w of [indexed, plain]) {
      const store = w.store;
      const original = store.searchUids.bind(store);
      store.searchUids = (...args) => {
        if (w === plain) throw new Error('the non-indexed server asked the store to search');
        asked++;
        return original(...args);
      };
    }
  });
  afterAll(async () => {
    await plain?.close();
    await indexed?.close();
    await db?.cleanup();
    if (indexed) await rm(indexed.blobDir, { recursive: true, force: true });
  });

  for (const [user, path, rev2] of [
    ['alice', 'Seeded', false],
    ['alice', 'Seeded', true],
    ['bob', 'Shared/alice@sante.gouv.tg/Seeded', false],
  ] as const) {
    it(`${user} on ${path}${rev2 ? ' (IMAP4rev2)' : ''}: the same answers, byte for byte, for ${QUERIES.length} queries by UID and by number`, async () => {
      const sessions: RawClient[] = [];
      for (const w of [indexed, plain]) {
        const r = await w.raw();
        await r.login(w.users[user]);
        if (rev2) await r.cmd('E', 'ENABLE IMAP4rev2');
        // EXAMINE on both: no \Recent claimed by either session, so RECENT means the same to both.
        expect((await r.cmd('S', `EXAMINE "${path}"`)).status).toBe('OK');
        sessions.push(r);
      }
      const [a, b] = sessions as [RawClient, RawClient];
      const before = asked;
      for (const [i, q] of QUERIES.entries()) {
        for (const prefix of ['UID SEARCH', 'SEARCH']) {
          const tag = `q${i}`;
          const got = await answer(a, tag, `${prefix} ${q}`);
          const want = await answer(b, tag, `${prefix} ${q}`);
          expect({ q: `${prefix} ${q}`, got }).toEqual({ q: `${prefix} ${q}`, got: want });
          expect({ q, status: got.at(-1) }).toEqual({ q, status: 'OK' });
        }
      }
      // SEARCHRES: a saved result searched again, by both.
      for (const r of [a, b]) expect((await r.cmd('v', 'UID SEARCH RETURN (SAVE) OR FROM kofi DELETED')).status).toBe('OK');
      for (const q of ['UID SEARCH $', 'UID SEARCH UID $ SEEN', 'SEARCH NOT UID $']) expect(await answer(a, 'w', q)).toEqual(await answer(b, 'w', q));
      expect(asked - before).toBeGreaterThan(QUERIES.length);
      a.close();
      b.close();
    });
  }

  it('new mail the session has not been told of stays out of its answers', async () => {
    const r = await indexed.raw();
    await r.login(indexed.users.alice);
    await r.cmd('S', 'SELECT "Seeded"');
    const before = await answer(r, 'a', 'UID SEARCH RETURN (COUNT) ALL');
    const box = (await indexed.store.getMailbox(indexed.users.alice.id, 'Seeded'))!;
    const blob = await indexed.blobs.put(Buffer.from('Subject: late\r\n\r\nx'));
    await indexed.store.append(box.id, { blobId: blob.id, size: blob.size, internalDate: new Date(), analysis: { headerBytes: 17, data: { search: { subject: 'late' } } } });
    // SEARCH may not report EXISTS (RFC 9051 §7.5.1 allows it; ours reports after the answer), and the
    // answer counts what the session knew when it began.
    const during = await r.cmd('a', 'UID SEARCH RETURN (COUNT) ALL');
    expect(during.untagged.find((l) => l.startsWith('* ESEARCH'))).toBe(before[0]);
    r.close();
  });
});

const tmpBlobDir = () => mkdtemp(join(tmpdir(), 'palabre-search-blobs-'));
