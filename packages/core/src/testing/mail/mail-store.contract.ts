import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../ports/blob-store.js';
import type { DirectoryStore } from '../../directory/directory-store.js';
import type { MessageAnalysis } from '../../mail/mail-delivery.js';
import { matchesFilter } from '../../mail-filter.js';
import { mailboxListTopic, mailboxTopic, type MailStore, type MessageFilter, type MessageRecord, type NewMessage, type UidSet } from '../../mail/mail-store.js';
import type { Notifier } from '../../ports/notifier.js';
import type { UsageStore } from '../../usage/usage-store.js';
import { expectKind } from '../contracts/expect-error.js';
import { waitFor } from '../contracts/notifier.contract.js';
import type { ContractSubject } from '../contracts/subject.js';

export interface MailStoreFixture {
  readonly directory: DirectoryStore;
  readonly blobs: BlobStore;
  readonly usage: UsageStore;
  readonly notifier: Notifier;
}

/** Accounts `alice`, `bob`, `carol` (a member of group `staff`) and `secretariat` exist; quotas unlimited. */
interface World extends MailStoreFixture {
  store: MailStore;
  alice: string;
  bob: string;
  carol: string;
  secretariat: string;
  staff: string;
}

const analysis = (subject: string, headerBytes: number): MessageAnalysis => ({ headerBytes, data: { v: 1, subject } });

function rawMessage(subject: string, body = 'Hello.\r\n'): { raw: Buffer; headerBytes: number } {
  const header = `From: a@example.test\r\nSubject: ${subject}\r\n\r\n`;
  return { raw: Buffer.from(header + body), headerBytes: Buffer.byteLength(header) };
}

async function newMessage(w: World, subject: string, flags: string[] = [], body?: string): Promise<NewMessage> {
  const { raw, headerBytes } = rawMessage(subject, body);
  const blob = await w.blobs.put(raw);
  return { blobId: blob.id, size: blob.size, internalDate: new Date('2025-03-04T05:06:07Z'), analysis: analysis(subject, headerBytes), flags };
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

const EVERYTHING: UidSet = [[1, 0xffffffff]];
const sorted = (flags: readonly string[]) => [...flags].sort();

/** The behaviour every MailStore must have (memory, SQLite, PostgreSQL). Make stores with `maxTombstones: 5`. */
export function mailStoreContract(name: string, subject: ContractSubject<MailStore, MailStoreFixture>): void {
  describe(`MailStore contract: ${name}`, () => {
    let w: World;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const made = await subject.make();
      cleanup = made.cleanup;
      const dir = made.directory;
      await dir.createDomain({ name: 'sante.gouv.tg' });
      const account = async (local: string) => (await dir.createAccount({ address: `${local}@sante.gouv.tg` })).id;
      const alice = await account('alice');
      const bob = await account('bob');
      const carol = await account('carol');
      const secretariat = await account('secretariat');
      const staff = (await dir.createGroup({ name: 'staff', domain: 'sante.gouv.tg' })).id;
      await dir.addGroupMember(staff, { accountId: carol });
      w = { ...made, store: made.subject, alice, bob, carol, secretariat, staff };
    });
    afterEach(async () => cleanup());

    describe('mailboxes', () => {
      it('makes INBOX and the special-use mailboxes once, subscribed', async () => {
        const first = await w.store.ensureMailboxes(w.alice);
        const again = await w.store.ensureMailboxes(w.alice);
        expect(first.map((m) => [m.name, m.specialUse]).sort()).toEqual(
          [
            ['Archive', '\\Archive'],
            ['Drafts', '\\Drafts'],
            ['INBOX', null],
            ['Junk', '\\Junk'],
            ['Sent', '\\Sent'],
            ['Trash', '\\Trash'],
          ].sort(),
        );
        expect(again.map((m) => m.id).sort()).toEqual(first.map((m) => m.id).sort());
        expect((await w.store.listSubscriptions(w.alice)).sort()).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        for (const m of first) {
          expect(m.accountId).toBe(w.alice);
          expect(m.uidValidity).toBeGreaterThan(0);
          expect(m.uidValidity).toBeLessThanOrEqual(0xffffffff);
          expect(m.uidNext).toBe(1);
          expect(m.highestModseq).toBeGreaterThanOrEqual(1);
        }
        expect(await w.store.listMailboxes(w.bob)).toEqual([]);
      });

      it('creates with parents, normalises INBOX and NFC, refuses duplicates and bad names', async () => {
        const made = await w.store.createMailbox(w.alice, 'Projets/2025/Budget');
        expect(made.name).toBe('Projets/2025/Budget');
        expect((await w.store.listMailboxes(w.alice)).map((m) => m.name).sort()).toEqual(['Projets', 'Projets/2025', 'Projets/2025/Budget']);
        const inbox = await w.store.createMailbox(w.alice, 'inbox');
        expect(inbox.name).toBe('INBOX');
        expect((await w.store.getMailbox(w.alice, 'InBoX'))?.id).toBe(inbox.id);
        const child = await w.store.createMailbox(w.alice, 'Inbox/Factures');
        expect(child.name).toBe('INBOX/Factures');
        const decomposed = 'Re\u0301unions';
        const nfc = await w.store.createMailbox(w.alice, decomposed);
        expect(nfc.name).toBe('R\u00e9unions');
        expect((await w.store.getMailbox(w.alice, 'R\u00e9unions'))?.id).toBe(nfc.id);
        await expectKind(w.store.createMailbox(w.alice, 'Projets'), 'conflict');
        for (const bad of ['', 'a//b', '/a', 'a/', 'a*', 'b%', 'x\u0000y', 'tab\there', ' lead', 'x'.repeat(300), Array(40).fill('d').join('/')]) {
          await expectKind(w.store.createMailbox(w.alice, bad), 'invalid');
        }
        expect(await w.store.getMailbox(w.bob, 'Projets')).toBeNull();
        expect(await w.store.getMailbox(w.alice, 'a//b')).toBeNull();
        await expectKind(w.store.getMailboxById('00000000-0000-0000-0000-000000000000'), 'not-found');
      });

      it('renames with children and keeps UIDVALIDITY; refuses a taken name', async () => {
        const a = await w.store.createMailbox(w.alice, 'A/B/C');
        const b = (await w.store.getMailbox(w.alice, 'A/B'))!;
        await w.store.createMailbox(w.alice, 'Z');
        await expectKind(w.store.renameMailbox(b.id, 'Z'), 'conflict');
        const renamed = await w.store.renameMailbox(b.id, 'X/Y');
        expect(renamed.name).toBe('X/Y');
        expect(renamed.uidValidity).toBe(b.uidValidity);
        const names = (await w.store.listMailboxes(w.alice)).map((m) => m.name).sort();
        expect(names).toEqual(['A', 'X', 'X/Y', 'X/Y/C', 'Z']);
        expect((await w.store.getMailboxById(a.id)).name).toBe('X/Y/C');
      });

      it('renaming INBOX moves its messages into the new mailbox and leaves INBOX empty', async () => {
        const [inbox] = (await w.store.ensureMailboxes(w.alice)).filter((m) => m.name === 'INBOX');
        await w.store.append(inbox!.id, await newMessage(w, 'one'));
        await w.store.append(inbox!.id, await newMessage(w, 'two', ['\\Flagged']));
        const moved = await w.store.renameMailbox(inbox!.id, 'Old mail');
        expect(moved.id).not.toBe(inbox!.id);
        expect((await w.store.counts(moved.id, w.alice)).messages).toBe(2);
        const rows = await all(w.store.fetch(moved.id, w.alice, EVERYTHING));
        expect(rows.map((r) => r.flags)).toEqual([[], ['\\Flagged']]);
        const after = (await w.store.getMailbox(w.alice, 'INBOX'))!;
        expect(after.id).toBe(inbox!.id);
        expect((await w.store.counts(after.id, w.alice)).messages).toBe(0);
        expect((await w.usage.get(w.alice)).mail).toBe(rows.reduce((n, r) => n + r.size, 0));
      });

      it('deletes a mailbox with its messages and usage; refuses INBOX and a parent', async () => {
        const boxes = await w.store.ensureMailboxes(w.alice);
        const inbox = boxes.find((m) => m.name === 'INBOX')!;
        const box = await w.store.createMailbox(w.alice, 'Tmp');
        await w.store.append(box.id, await newMessage(w, 'x'));
        await w.store.setAcl(box.id, { kind: 'account', id: w.bob }, 'lr');
        expect((await w.usage.get(w.alice)).mail).toBeGreaterThan(0);
        await w.store.deleteMailbox(box.id);
        expect((await w.usage.get(w.alice)).mail).toBe(0);
        expect(await w.store.getMailbox(w.alice, 'Tmp')).toBeNull();
        await expectKind(w.store.getMailboxById(box.id), 'not-found');
        expect(await w.store.listSharedMailboxes(w.bob, [])).toEqual([]);
        await expectKind(w.store.deleteMailbox(inbox.id), 'invalid');
        await w.store.createMailbox(w.alice, 'P/Q');
        const p = (await w.store.getMailbox(w.alice, 'P'))!;
        const err = await expectKind(w.store.deleteMailbox(p.id), 'conflict');
        expect(err.detail?.reason).toBe('has-children');
        // A new mailbox of the same name starts a new UID space.
        const again = await w.store.createMailbox(w.alice, 'Tmp');
        expect(again.uidValidity).not.toBe(box.uidValidity);
      });

      it('subscribes by name, even to names that do not exist', async () => {
        await w.store.subscribe(w.bob, 'Later/Maybe');
        await w.store.subscribe(w.bob, 'Later/Maybe');
        await w.store.subscribe(w.bob, 'inbox');
        expect((await w.store.listSubscriptions(w.bob)).sort()).toEqual(['INBOX', 'Later/Maybe']);
        await w.store.unsubscribe(w.bob, 'Later/Maybe');
        await w.store.unsubscribe(w.bob, 'never subscribed');
        expect(await w.store.listSubscriptions(w.bob)).toEqual(['INBOX']);
      });
    });

    describe('messages', () => {
      it('appends with ascending UIDs and MODSEQs, stores flags, header and analysis, counts usage', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        const r1 = await w.store.append(box.id, await newMessage(w, 'first', ['\\Seen', '$Label1']));
        const r2 = await w.store.append(box.id, await newMessage(w, 'second', ['\\draft', '\\FLAGGED']));
        expect(r1.uid).toBe(1);
        expect(r2.uid).toBe(2);
        expect(r1.uidValidity).toBe(box.uidValidity);
        expect(r2.modseq).toBeGreaterThan(r1.modseq);
        const after = await w.store.getMailboxById(box.id);
        expect(after.uidNext).toBe(3);
        expect(after.highestModseq).toBe(r2.modseq);
        expect(after.keywords).toEqual(['$Label1']);
        const rows = await all(w.store.fetch(box.id, w.alice, EVERYTHING, { header: true, analysis: true }));
        expect(rows.map((r) => r.uid)).toEqual([1, 2]);
        expect(sorted(rows[0]!.flags)).toEqual(['$Label1', '\\Seen']);
        expect(sorted(rows[1]!.flags)).toEqual(['\\Draft', '\\Flagged']);
        expect(rows[0]!.header!.toString()).toBe('From: a@example.test\r\nSubject: first\r\n\r\n');
        expect(rows[0]!.analysis).toEqual({ v: 1, subject: 'first' });
        expect(rows[0]!.internalDate.toISOString()).toBe('2025-03-04T05:06:07.000Z');
        expect(rows[0]!.modseq).toBe(r1.modseq);
        const { raw } = rawMessage('first');
        expect(rows[0]!.size).toBe(raw.length);
        expect((await w.usage.get(w.alice)).mail).toBe(rows[0]!.size + rows[1]!.size);
        // Without the options, header and analysis are not loaded.
        const light = await all(w.store.fetch(box.id, w.alice, [[1, 1]]));
        expect(light[0]!.header).toBeUndefined();
        expect(light[0]!.analysis).toBeUndefined();
      });

      it('keeps the folded search text and sent date beside each message, and prefilters by it', async () => {
        const box = await w.store.createMailbox(w.alice, 'Search');
        const other = await w.store.createMailbox(w.alice, 'Other');
        const withSearch = async (subject: string, from: string) => {
          const msg = await newMessage(w, subject);
          const data = { v: 1, date: Date.UTC(2025, 0, 2), search: { subject, from, to: 'Bob <bob@x.test>', cc: '', bcc: '' } };
          return w.store.append(box.id, { ...msg, analysis: { headerBytes: msg.analysis.headerBytes, data } });
        };
        await withSearch('Réunion BUDGET 2025', 'Awa Mensah <awa@sante.gouv.tg>');
        await withSearch('Autre sujet', 'Kofi <kofi@x.test>');
        await w.store.append(box.id, await newMessage(w, 'no search member'));
        const rows = await all(w.store.fetch(box.id, w.alice, EVERYTHING, { search: true }));
        expect(rows[0]!.searchText).toBe('réunion budget 2025\nawa mensah <awa@sante.gouv.tg>\nbob <bob@x.test>\n\n');
        expect(rows[0]!.sentDate).toBe(Date.UTC(2025, 0, 2));
        expect(rows[2]!.searchText).toBeNull();
        expect(rows[0]!.analysis).toBeUndefined();
        // The prefilter keeps matching rows and rows without search text; never drops a match.
        const hits = await all(w.store.fetch(box.id, w.alice, EVERYTHING, { search: true, textContains: 'réunion' }));
        expect(hits.map((r) => r.uid)).toEqual([1, 3]);
        expect((await all(w.store.fetch(box.id, w.alice, EVERYTHING, { textContains: '100%_\\' }))).map((r) => r.uid)).toEqual([3]);
        await w.store.copy(box.id, [[1, 1]], other.id, w.alice);
        const [copied] = await all(w.store.fetch(other.id, w.alice, EVERYTHING, { search: true }));
        expect(copied!.searchText).toBe(rows[0]!.searchText);
        expect(copied!.sentDate).toBe(rows[0]!.sentDate);
      });

      it('decides search filters as matchesFilter reads them, for the owner and for another viewer', async () => {
        const [inbox] = (await w.store.ensureMailboxes(w.secretariat)).filter((m) => m.name === 'INBOX');
        const id = inbox!.id;
        const day = Date.UTC(2025, 2, 4);
        const seed: [string, string[], number, number | null, Record<string, string> | null, string][] = [
          // subject, flags, internal date, sent date, search member (null: none), body
          ['Réunion budget', ['\\Seen', '$Projet'], day + 5000, Date.UTC(2025, 2, 3, 23), { from: 'Awa <awa@sante.gouv.tg>', to: 'alice@x.test' }, 'x'],
          ['Autre', ['\\Flagged'], day - 1, null, { from: 'Kofi <kofi@x.test>', to: 'awa@x.test', cc: 'bob@x.test' }, 'y'.repeat(500)],
          ['no search member', ['\\Deleted', '\\Seen'], day + 86_400_000, Date.UTC(2025, 2, 4), null, 'z'],
          ['PROJET 100%_', ['$projet', 'Urgent'], day + 86_399_999, Date.UTC(2025, 2, 5, 1), { from: 'awa <AWA@x.test>', bcc: 'secret@x.test' }, ''],
          ['', ['\\Answered', '\\Draft'], day - 86_400_000, Date.UTC(1965, 0, 1), { subject: '', from: '' }, 'w'.repeat(40)],
        ];
        for (const [subject, flags, internal, sent, search, body] of seed) {
          const msg = await newMessage(w, subject, flags, body);
          const data: Record<string, unknown> = { v: 1, ...(sent === null ? {} : { date: sent }), ...(search ? { search: { subject, cc: '', bcc: '', to: '', ...search } } : {}) };
          await w.store.append(id, { ...msg, internalDate: new Date(internal), analysis: { headerBytes: msg.analysis.headerBytes, data } });
        }
        await w.store.storeFlags(id, w.bob, [[2, 3]], 'add', ['\\Seen']);
        const filters: MessageFilter[] = [
          { k: 'const', value: true },
          { k: 'const', value: false },
          { k: 'flag', flag: '\\seen' },
          { k: 'not', filter: { k: 'flag', flag: '\\SEEN' } },
          { k: 'flag', flag: '\\Deleted' },
          { k: 'flag', flag: '$PROJET' },
          { k: 'flag', flag: 'urgent' },
          { k: 'flag', flag: 'Urg' },
          { k: 'flag', flag: '\\Recent' },
          { k: 'flag', flag: '$Projet Urgent' },
          { k: 'flag', flag: '\u212Aey' },
          { k: 'uid', set: [[2, 3], [5, 9]] },
          { k: 'day', field: 'internal', op: 'on', day },
          { k: 'day', field: 'internal', op: 'before', day },
          { k: 'day', field: 'internal', op: 'since', day: day + 86_400_000 },
          { k: 'day', field: 'sent', op: 'on', day: Date.UTC(2025, 2, 3) },
          { k: 'day', field: 'sent', op: 'before', day },
          { k: 'not', filter: { k: 'day', field: 'sent', op: 'since', day } },
          { k: 'day', field: 'saved', op: 'since', day: Date.UTC(2000, 0, 1) },
          { k: 'internal', op: 'at-most', ms: day - 1 },
          { k: 'internal', op: 'after', ms: day - 1 },
          { k: 'size', op: 'larger', n: 100 },
          { k: 'size', op: 'smaller', n: 100 },
          { k: 'modseq', min: 3 },
          { k: 'contains', field: 'from', value: 'awa' },
          { k: 'contains', field: 'to', value: 'awa' },
          { k: 'not', filter: { k: 'contains', field: 'subject', value: 'projet' } },
          { k: 'contains', field: 'subject', value: '100%_' },
          { k: 'contains', field: 'bcc', value: 'secret' },
          { k: 'contains', field: 'cc', value: '' },
          { k: 'contains', field: 'subject', value: 'budget\nawa' },
          { k: 'contains', field: 'subject', value: 'réunion' },
          { k: 'or', filters: [{ k: 'flag', flag: '\\Flagged' }, { k: 'and', filters: [{ k: 'flag', flag: '\\Seen' }, { k: 'size', op: 'smaller', n: 80 }] }] },
          { k: 'and', filters: [] },
          { k: 'or', filters: [] },
        ];
        for (const viewer of [w.secretariat, w.bob]) {
          const rows = await all(w.store.fetch(id, viewer, EVERYTHING, { search: true }));
          for (const filter of filters) {
            const expected = rows
              .filter((r) => matchesFilter(filter, { ...r, internalDate: r.internalDate.getTime(), savedAt: r.savedAt.getTime(), sentDate: r.sentDate ?? null, searchText: r.searchText ?? null }))
              .map((r) => r.uid);
            const got = await w.store.searchUids(id, viewer, EVERYTHING, filter, { modseq: true });
            expect({ filter, viewer, uids: got.uids }).toEqual({ filter, viewer, uids: expected });
            const top = rows.filter((r) => expected.includes(r.uid)).reduce((n, r) => Math.max(n, r.modseq), 0);
            expect(got.highestModseq).toBe(top);
            // Within a scattered set (more ranges than a statement takes), the same answer cut to the set.
            const odd: UidSet = Array.from({ length: 80 }, (_, i) => [2 * i + 1, 2 * i + 1] as const);
            expect((await w.store.searchUids(id, viewer, odd, filter)).uids).toEqual(expected.filter((u) => u % 2 === 1));
          }
        }
        await expectKind(w.store.searchUids(id, w.secretariat, EVERYTHING, { k: 'contains', field: 'from', value: 'a\u0000' }), 'invalid');
        await expectKind(w.store.searchUids(id, w.secretariat, EVERYTHING, { k: 'contains', field: 'from', value: '\ud800' }), 'invalid');
        let deep: MessageFilter = { k: 'const', value: true };
        for (let i = 0; i < 40; i++) deep = { k: 'not', filter: deep };
        await expectKind(w.store.searchUids(id, w.secretariat, EVERYTHING, deep), 'invalid');
      });

      it('refuses bad flags, unknown mailboxes and missing blobs without storing anything', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        await expectKind(w.store.append(box.id, await newMessage(w, 'x', ['\\Recent'])), 'invalid');
        await expectKind(w.store.append(box.id, await newMessage(w, 'x', ['\\Bogus'])), 'invalid');
        await expectKind(w.store.append(box.id, await newMessage(w, 'x', ['bad(keyword'])), 'invalid');
        const ghost = { ...(await newMessage(w, 'x')), blobId: 'f'.repeat(64) };
        await expectKind(w.store.append(box.id, ghost), 'not-found');
        await expectKind(w.store.append('00000000-0000-0000-0000-000000000000', await newMessage(w, 'x')), 'not-found');
        expect((await w.store.getMailboxById(box.id)).uidNext).toBe(1);
        expect((await w.usage.get(w.alice)).mail).toBe(0);
      });

      it('enforces the owner quota (drive and mail together) and names the full account', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        const msg = await newMessage(w, 'quota');
        await w.directory.updateAccount(w.alice, { quotaBytes: msg.size * 2 + 10 });
        await w.usage.add(w.alice, 'drive', 10);
        await w.store.append(box.id, msg);
        await w.store.append(box.id, msg);
        const err = await expectKind(w.store.append(box.id, msg), 'quota');
        expect(err.detail?.accountId).toBe(w.alice);
        expect((await w.store.getMailboxById(box.id)).uidNext).toBe(3);
        const q = await w.store.quota(w.alice);
        expect(q).toEqual({ usedBytes: msg.size * 2 + 10, mailBytes: msg.size * 2, limitBytes: msg.size * 2 + 10, messages: 2, limitMessages: null, mailboxes: 1, limitMailboxes: null });
      });

      it('counts messages through every write and refuses APPEND, COPY, MOVE to another account and delivery past the message limit (RFC 9208 MESSAGE)', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        const other = await w.store.createMailbox(w.alice, 'Other');
        const msg = await newMessage(w, 'count');
        await w.directory.updateAccount(w.alice, { quotaMessages: 3 });
        await w.store.appendMany(box.id, [msg, msg]);
        await w.store.append(other.id, msg);
        const err = await expectKind(w.store.append(box.id, msg), 'quota');
        expect(err.detail).toMatchObject({ accountId: w.alice, resource: 'MESSAGE' });
        await expectKind(w.store.copy(box.id, [[1, 1]], other.id, w.alice), 'quota');
        await expectKind(w.store.deliver({ blobId: msg.blobId, size: msg.size, receivedAt: new Date(), analysis: msg.analysis }, [{ accountId: w.alice }]), 'quota');
        expect(await w.store.listUids(box.id)).toEqual([1, 2]);
        // A move within the account takes what it gives back: allowed at the limit.
        await w.store.move(box.id, [[1, 1]], other.id, w.alice);
        expect((await w.store.quota(w.alice)).messages).toBe(3);
        const bobs = await w.store.createMailbox(w.bob, 'In');
        await w.store.append(bobs.id, msg);
        await w.directory.updateAccount(w.bob, { quotaMessages: 1 });
        await expectKind(w.store.move(other.id, [[1, 1]], bobs.id, w.alice), 'quota');
        // Expunge, DELETE and RENAME of INBOX keep the count exact.
        await w.store.storeFlags(box.id, w.alice, [[2, 2]], 'add', ['\\Deleted']);
        await w.store.expunge(box.id);
        expect((await w.store.quota(w.alice)).messages).toBe(2);
        await w.store.deleteMailbox(other.id);
        expect((await w.store.quota(w.alice)).messages).toBe(0);
        const inbox = (await w.store.ensureMailboxes(w.alice)).find((b) => b.name === 'INBOX')!;
        await w.store.appendMany(inbox.id, [msg, msg]);
        await w.store.renameMailbox(inbox.id, 'Old');
        expect(await w.store.quota(w.alice)).toMatchObject({ messages: 2, limitMessages: 3 });
        expect((await w.usage.get(w.alice)).messages).toBe(2);
      });

      it('lets exactly one of concurrent APPENDs at the message limit through', async () => {
        const a = await w.store.createMailbox(w.alice, 'A');
        const b = await w.store.createMailbox(w.alice, 'B');
        const msg = await newMessage(w, 'race');
        await w.store.append(a.id, msg);
        await w.directory.updateAccount(w.alice, { quotaMessages: 2 });
        const results = await Promise.allSettled([a, b, a, b, a, b].map((box) => w.store.append(box.id, msg)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect((r.reason as { kind: string }).kind).toBe('quota');
        expect((await w.store.quota(w.alice)).messages).toBe(2);
        expect((await w.store.listUids(a.id)).length + (await w.store.listUids(b.id)).length).toBe(2);
      });

      it('refuses CREATE and RENAME past the mailbox limit, parents counted, default mailboxes always made (RFC 9208 MAILBOX)', async () => {
        await w.directory.updateAccount(w.alice, { quotaMailboxes: 8 });
        const defaults = await w.store.ensureMailboxes(w.alice);
        expect(defaults.length).toBe(6);
        await w.store.createMailbox(w.alice, 'One');
        const err = await expectKind(w.store.createMailbox(w.alice, 'Two/Child'), 'quota');
        expect(err.detail).toMatchObject({ accountId: w.alice, resource: 'MAILBOX' });
        expect(await w.store.getMailbox(w.alice, 'Two')).toBeNull();
        const one = (await w.store.getMailbox(w.alice, 'One'))!;
        await expectKind(w.store.renameMailbox(one.id, 'A/B/One'), 'quota');
        expect((await w.store.getMailbox(w.alice, 'One'))?.id).toBe(one.id);
        await w.store.createMailbox(w.alice, 'Two');
        await expectKind(w.store.createMailbox(w.alice, 'Three'), 'quota');
        expect(await w.store.quota(w.alice)).toMatchObject({ mailboxes: 8, limitMailboxes: 8 });
        await w.store.deleteMailbox(one.id);
        await w.store.createMailbox(w.alice, 'Three');
        // Lowering the limit under the count refuses new mailboxes but removes none; first login still makes the defaults.
        await w.directory.updateAccount(w.bob, { quotaMailboxes: 2 });
        expect((await w.store.ensureMailboxes(w.bob)).length).toBe(6);
        await expectKind(w.store.createMailbox(w.bob, 'More'), 'quota');
      });

      it('lets exactly one of concurrent CREATEs at the mailbox limit through', async () => {
        await w.store.ensureMailboxes(w.alice);
        await w.directory.updateAccount(w.alice, { quotaMailboxes: 7 });
        const results = await Promise.allSettled(['P', 'Q', 'R', 'S'].map((name) => w.store.createMailbox(w.alice, name)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect((await w.store.listMailboxes(w.alice)).length).toBe(7);
      });

      it('appends several messages in one transaction with consecutive UIDs (MULTIAPPEND)', async () => {
        const box = await w.store.createMailbox(w.alice, 'Multi');
        await w.store.append(box.id, await newMessage(w, 'before'));
        const r = await w.store.appendMany(box.id, [await newMessage(w, 'one', ['\\Seen']), await newMessage(w, 'two', ['Tag']), await newMessage(w, 'three')]);
        expect(r.uids).toEqual([2, 3, 4]);
        const after = await w.store.getMailboxById(box.id);
        expect(after.uidNext).toBe(5);
        expect(r.modseq).toBe(after.highestModseq);
        expect(after.keywords).toEqual(['Tag']);
        const rows = await all(w.store.fetch(box.id, w.alice, EVERYTHING));
        expect(rows.map((x) => [x.uid, sorted(x.flags)])).toEqual([[1, []], [2, ['\\Seen']], [3, ['Tag']], [4, []]]);
        expect(new Set(rows.map((x) => x.modseq)).size).toBe(4);
        await expectKind(w.store.appendMany(box.id, []), 'invalid');
      });

      it('stores none of a MULTIAPPEND when one message is bad or the total passes the quota', async () => {
        const box = await w.store.createMailbox(w.alice, 'Multi');
        const ok = await newMessage(w, 'ok');
        const ghost = { ...(await newMessage(w, 'x')), blobId: 'f'.repeat(64) };
        await expectKind(w.store.appendMany(box.id, [ok, ok, ghost]), 'not-found');
        await expectKind(w.store.appendMany(box.id, [ok, await newMessage(w, 'x', ['\\Bogus'])]), 'invalid');
        await w.directory.updateAccount(w.alice, { quotaBytes: ok.size * 2 });
        await expectKind(w.store.appendMany(box.id, [ok, ok, ok]), 'quota');
        expect((await w.store.getMailboxById(box.id)).uidNext).toBe(1);
        expect(await w.store.listUids(box.id)).toEqual([]);
        expect((await w.usage.get(w.alice)).mail).toBe(0);
        expect((await w.store.appendMany(box.id, [ok, ok])).uids).toEqual([1, 2]);
      });

      it('refuses a COPY past the quota but never a MOVE within the account; a MOVE to another account counts there', async () => {
        const inbox = await w.store.createMailbox(w.alice, 'In');
        const trash = await w.store.createMailbox(w.alice, 'Bin');
        const msg = await newMessage(w, 'full');
        await w.store.append(inbox.id, msg);
        await w.store.append(inbox.id, msg);
        await w.directory.updateAccount(w.alice, { quotaBytes: msg.size * 2 });
        await expectKind(w.store.copy(inbox.id, [[1, 1]], trash.id, w.alice), 'quota');
        const moved = await w.store.move(inbox.id, [[1, 2]], trash.id, w.alice);
        expect(moved.mapping).toEqual([[1, 1], [2, 2]]);
        expect((await w.usage.get(w.alice)).mail).toBe(msg.size * 2);
        const bobs = await w.store.createMailbox(w.bob, 'Shared');
        await w.directory.updateAccount(w.bob, { quotaBytes: msg.size });
        await expectKind(w.store.move(trash.id, [[1, 2]], bobs.id, w.alice), 'quota');
        expect(await w.store.listUids(trash.id)).toEqual([1, 2]);
        expect((await w.usage.get(w.bob)).mail).toBe(0);
      });

      it('fetches sparse and large UID sets in order, a batch at a time', async () => {
        const box = await w.store.createMailbox(w.alice, 'Big');
        const msg = await newMessage(w, 'bulk');
        for (let i = 0; i < 1205; i++) await w.store.append(box.id, msg);
        const everything = await all(w.store.fetch(box.id, w.alice, EVERYTHING));
        expect(everything.map((r) => r.uid)).toEqual(Array.from({ length: 1205 }, (_, i) => i + 1));
        const sparse = await all(w.store.fetch(box.id, w.alice, [[1200, 5000], [3, 3], [10, 12], [11, 11], [999_999, 999_999]]));
        expect(sparse.map((r) => r.uid)).toEqual([3, 10, 11, 12, 1200, 1201, 1202, 1203, 1204, 1205]);
        const scattered = Array.from({ length: 600 }, (_, i) => [i * 2 + 1, i * 2 + 1] as const);
        expect((await all(w.store.fetch(box.id, w.alice, scattered))).length).toBe(600);
        expect(await w.store.listUids(box.id)).toHaveLength(1205);
        expect(await all(w.store.fetch(box.id, w.alice, []))).toEqual([]);
      });

      it('stores flags with add/remove/replace, bumps MODSEQ only for real changes, honours UNCHANGEDSINCE', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        for (let i = 0; i < 3; i++) await w.store.append(box.id, await newMessage(w, `m${i}`));
        const start = (await w.store.getMailboxById(box.id)).highestModseq;
        const add = await w.store.storeFlags(box.id, w.alice, [[1, 2]], 'add', ['\\Flagged', 'Work']);
        expect(add.updated.map((u) => u.uid)).toEqual([1, 2]);
        expect(add.updated.every((u) => u.modseq === start + 1)).toBe(true);
        expect(add.highestModseq).toBe(start + 1);
        expect(add.keywords).toEqual(['Work']);
        // Same keyword in another case: no change, spelled as the mailbox first saw it.
        const again = await w.store.storeFlags(box.id, w.alice, [[1, 3]], 'add', ['WORK']);
        expect(again.updated.map((u) => [u.uid, u.flags])).toEqual([[3, ['Work']]]);
        const noop = await w.store.storeFlags(box.id, w.alice, [[1, 1]], 'remove', ['\\Deleted']);
        expect(noop.updated).toEqual([]);
        expect(noop.highestModseq).toBe(again.highestModseq);
        const replaced = await w.store.storeFlags(box.id, w.alice, [[1, 1]], 'replace', ['\\Answered']);
        expect(replaced.updated[0]!.flags).toEqual(['\\Answered']);
        const mod1 = replaced.updated[0]!.modseq;
        // UNCHANGEDSINCE: message 1 changed after `add`, message 2 did not.
        const guarded = await w.store.storeFlags(box.id, w.alice, [[1, 2]], 'add', ['\\Seen'], { unchangedSince: add.highestModseq });
        expect(guarded.modified).toEqual([1]);
        expect(guarded.updated.map((u) => u.uid)).toEqual([2]);
        const rows = await all(w.store.fetch(box.id, w.alice, EVERYTHING));
        expect(rows.map((r) => sorted(r.flags))).toEqual([['\\Answered'], ['Work', '\\Flagged', '\\Seen'], ['Work']]);
        expect(rows[0]!.modseq).toBe(mod1);
        const changed = await all(w.store.fetch(box.id, w.alice, EVERYTHING, { changedSince: replaced.highestModseq }));
        expect(changed.map((r) => r.uid)).toEqual([2]);
        await expectKind(w.store.storeFlags(box.id, w.alice, [[1, 1]], 'add', ['\\Recent']), 'invalid');
      });

      it('keeps \\Seen per user on mailboxes the viewer does not own', async () => {
        const [inbox] = (await w.store.ensureMailboxes(w.secretariat)).filter((m) => m.name === 'INBOX');
        const id = inbox!.id;
        await w.store.append(id, await newMessage(w, 'one'));
        await w.store.append(id, await newMessage(w, 'two'));
        await w.store.append(id, await newMessage(w, 'three', ['\\Seen']), w.bob);
        // bob appended message 3 as seen: seen for bob only; the owner sees it unseen.
        expect((await w.store.counts(id, w.secretariat)).unseen).toBe(3);
        expect((await w.store.counts(id, w.bob)).unseen).toBe(2);
        await w.store.storeFlags(id, w.bob, [[1, 1]], 'add', ['\\Seen', '\\Flagged']);
        await w.store.storeFlags(id, w.carol, [[2, 2]], 'add', ['\\Seen']);
        const flagsOf = async (viewer: string) => (await all(w.store.fetch(id, viewer, EVERYTHING))).map((r) => sorted(r.flags));
        expect(await flagsOf(w.bob)).toEqual([['\\Flagged', '\\Seen'], [], ['\\Seen']]);
        expect(await flagsOf(w.carol)).toEqual([['\\Flagged'], ['\\Seen'], []]);
        expect(await flagsOf(w.secretariat)).toEqual([['\\Flagged'], [], []]);
        const c = await w.store.counts(id, w.carol);
        expect([c.messages, c.unseen, c.firstUnseenUid]).toEqual([3, 2, 1]);
        for (const viewer of [w.carol, w.bob, w.secretariat]) expect(await w.store.firstUnseenUid(id, viewer)).toBe((await w.store.counts(id, viewer)).firstUnseenUid);
        expect(await w.store.firstUnseenUid(id, w.bob)).toBe(2);
        // A per-user change is still a change: MODSEQ moves so the user's other devices see it.
        const before = (await w.store.getMailboxById(id)).highestModseq;
        const r = await w.store.storeFlags(id, w.carol, [[2, 2]], 'remove', ['\\Seen']);
        expect(r.updated).toEqual([{ uid: 2, modseq: before + 1, flags: [] }]);
        const ch = await w.store.changesSince(id, w.carol, before);
        expect(ch.changed).toEqual([{ uid: 2, modseq: before + 1, flags: [] }]);
        // The owner's own \Seen is the message's.
        await w.store.storeFlags(id, w.secretariat, [[3, 3]], 'replace', ['\\Seen']);
        expect((await flagsOf(w.secretariat))[2]).toEqual(['\\Seen']);
        expect((await flagsOf(w.bob))[2]).toEqual(['\\Seen']);
        expect((await flagsOf(w.carol))[2]).toEqual([]);
      });

      it('expunges only \\Deleted messages, keeps tombstones, never reuses UIDs, updates usage', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        for (let i = 0; i < 5; i++) await w.store.append(box.id, await newMessage(w, `m${i}`));
        const usage = (await w.usage.get(w.alice)).mail;
        const size = usage / 5;
        // Flags above \Deleted's bit without it (\Draft) are not expunged.
        await w.store.storeFlags(box.id, w.alice, [[2, 2]], 'add', ['\\Draft', '\\Flagged']);
        await w.store.storeFlags(box.id, w.alice, [[1, 1], [3, 4]], 'add', ['\\Deleted']);
        const mark = (await w.store.getMailboxById(box.id)).highestModseq;
        const partial = await w.store.expunge(box.id, { uids: [[4, 5]] });
        expect(partial.expunged).toEqual([4]);
        const rest = await w.store.expunge(box.id);
        expect(rest.expunged).toEqual([1, 3]);
        expect(rest.highestModseq).toBeGreaterThan(partial.highestModseq);
        expect(await w.store.listUids(box.id)).toEqual([2, 5]);
        expect((await w.usage.get(w.alice)).mail).toBe(usage - 3 * size);
        const changes = await w.store.changesSince(box.id, w.alice, mark);
        expect(changes.expunged).toEqual([1, 3, 4]);
        expect(changes.changed).toEqual([]);
        expect((await w.store.changesSince(box.id, w.alice, partial.highestModseq)).expunged).toEqual([1, 3]);
        const nothing = await w.store.expunge(box.id);
        expect(nothing.expunged).toEqual([]);
        const next = await w.store.append(box.id, await newMessage(w, 'after'));
        expect(next.uid).toBe(6);
        const c = await w.store.counts(box.id, w.alice);
        const left = await all(w.store.fetch(box.id, w.alice, EVERYTHING));
        expect([c.messages, c.deleted, c.size]).toEqual([3, 0, left.reduce((n, r) => n + r.size, 0)]);
        expect((await w.usage.get(w.alice)).mail).toBe(c.size);
      });

      it('copies and moves with UID mapping, flags and the viewer\'s \\Seen', async () => {
        const src = await w.store.createMailbox(w.secretariat, 'Shared');
        const dst = await w.store.createMailbox(w.bob, 'Mine');
        for (let i = 0; i < 4; i++) await w.store.append(src.id, await newMessage(w, `m${i}`, i === 0 ? ['\\Flagged', 'Tag'] : []));
        await w.store.storeFlags(src.id, w.bob, [[1, 2]], 'add', ['\\Seen']);
        const copy = await w.store.copy(src.id, [[1, 2], [9, 9]], dst.id, w.bob);
        expect(copy.uidValidity).toBe(dst.uidValidity);
        expect(copy.mapping).toEqual([
          [1, 1],
          [2, 2],
        ]);
        const copied = await all(w.store.fetch(dst.id, w.bob, EVERYTHING));
        expect(copied.map((r) => sorted(r.flags))).toEqual([['Tag', '\\Flagged', '\\Seen'], ['\\Seen']]);
        expect((await w.store.getMailboxById(dst.id)).keywords).toEqual(['Tag']);
        expect((await w.usage.get(w.bob)).mail).toBe(copied[0]!.size * 2);
        const moved = await w.store.move(src.id, [[2, 3]], dst.id, w.bob);
        expect(moved.mapping).toEqual([
          [2, 3],
          [3, 4],
        ]);
        expect(moved.expunged).toEqual([2, 3]);
        expect(await w.store.listUids(src.id)).toEqual([1, 4]);
        expect((await w.store.changesSince(src.id, w.bob, 1)).expunged).toEqual([2, 3]);
        expect((await w.usage.get(w.secretariat)).mail).toBe(copied[0]!.size * 2);
        const none = await w.store.move(src.id, [[50, 60]], dst.id, w.bob);
        expect(none.mapping).toEqual([]);
        await expectKind(w.store.copy(src.id, [[1, 1]], '00000000-0000-0000-0000-000000000000', w.bob), 'not-found');
      });

      it('copy into a full account fails whole', async () => {
        const src = await w.store.createMailbox(w.alice, 'Src');
        const dst = await w.store.createMailbox(w.bob, 'Dst');
        const msg = await newMessage(w, 'x');
        for (let i = 0; i < 3; i++) await w.store.append(src.id, msg);
        await w.directory.updateAccount(w.bob, { quotaBytes: msg.size * 2 });
        const err = await expectKind(w.store.copy(src.id, EVERYTHING, dst.id, w.alice), 'quota');
        expect(err.detail?.accountId).toBe(w.bob);
        expect(await w.store.listUids(dst.id)).toEqual([]);
        await expectKind(w.store.move(src.id, EVERYTHING, dst.id, w.alice), 'quota');
        expect(await w.store.listUids(src.id)).toEqual([1, 2, 3]);
      });

      it('reports changes since a MODSEQ: new messages, flag changes, expunges', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        await w.store.append(box.id, await newMessage(w, 'a'));
        await w.store.append(box.id, await newMessage(w, 'b'));
        const mark = (await w.store.getMailboxById(box.id)).highestModseq;
        const c = await w.store.append(box.id, await newMessage(w, 'c'));
        await w.store.storeFlags(box.id, w.alice, [[1, 1]], 'add', ['\\Deleted']);
        await w.store.expunge(box.id);
        await w.store.storeFlags(box.id, w.alice, [[2, 2]], 'add', ['\\Answered']);
        const ch = await w.store.changesSince(box.id, w.alice, mark);
        expect(ch.mailbox.uidNext).toBe(4);
        expect(ch.changed.map((x) => [x.uid, x.flags])).toEqual([
          [2, ['\\Answered']],
          [3, []],
        ]);
        expect(ch.changed[1]!.modseq).toBe(c.modseq);
        expect(ch.expunged).toEqual([1]);
        const none = await w.store.changesSince(box.id, w.alice, ch.mailbox.highestModseq);
        expect(none.changed).toEqual([]);
        expect(none.expunged).toEqual([]);
      });

      it('keeps a bounded number of tombstones; asking from below the pruned floor says "compare UID lists"', async () => {
        const box = await w.store.createMailbox(w.alice, 'Churn');
        const start = (await w.store.getMailboxById(box.id)).highestModseq;
        for (let i = 0; i < 8; i++) await w.store.append(box.id, await newMessage(w, `m${i}`, ['\\Deleted']));
        const afterAppends = (await w.store.getMailboxById(box.id)).highestModseq;
        const marks: number[] = [];
        for (let uid = 1; uid <= 8; uid++) {
          marks.push((await w.store.expunge(box.id, { uids: [[uid, uid]] })).highestModseq);
        }
        // 8 tombstones, 5 kept: the first three expunges are forgotten.
        expect((await w.store.changesSince(box.id, w.alice, start)).expunged).toBeNull();
        expect((await w.store.changesSince(box.id, w.alice, afterAppends)).expunged).toBeNull();
        expect((await w.store.changesSince(box.id, w.alice, marks[2]!)).expunged).toEqual([4, 5, 6, 7, 8]);
        expect((await w.store.changesSince(box.id, w.alice, marks[6]!)).expunged).toEqual([8]);
        expect(await w.store.listUids(box.id)).toEqual([]);
      });

      it('tells which blobs messages still use (copies share one; expunged ones let go)', async () => {
        const a = await w.store.createMailbox(w.alice, 'A');
        const b = await w.store.createMailbox(w.bob, 'B');
        const kept = await newMessage(w, 'kept');
        const gone = await newMessage(w, 'gone', ['\\Deleted']);
        await w.store.append(a.id, kept);
        await w.store.append(a.id, gone);
        await w.store.copy(a.id, [[1, 1]], b.id, w.alice);
        expect(await w.store.referencedBlobs([kept.blobId, gone.blobId, 'f'.repeat(64)])).toEqual(new Set([kept.blobId, gone.blobId]));
        await w.store.expunge(a.id);
        expect(await w.store.referencedBlobs([kept.blobId, gone.blobId])).toEqual(new Set([kept.blobId]));
        await w.store.storeFlags(a.id, w.alice, [[1, 1]], 'add', ['\\Deleted']);
        await w.store.expunge(a.id);
        // Still filed in bob's mailbox.
        expect(await w.store.referencedBlobs([kept.blobId])).toEqual(new Set([kept.blobId]));
      });

      it('assigns distinct UIDs to concurrent appends', async () => {
        const box = await w.store.createMailbox(w.alice, 'Busy');
        const msg = await newMessage(w, 'race');
        const results = await Promise.all(Array.from({ length: 20 }, () => w.store.append(box.id, msg)));
        expect(results.map((r) => r.uid).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(new Set(results.map((r) => r.modseq)).size).toBe(20);
        const m = await w.store.getMailboxById(box.id);
        expect(m.uidNext).toBe(21);
        expect(m.highestModseq).toBe(Math.max(...results.map((r) => r.modseq)));
        expect((await w.usage.get(w.alice)).mail).toBe(msg.size * 20);
      });

      it('hands out \\Recent once', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        await w.store.append(box.id, await newMessage(w, 'a'));
        await w.store.append(box.id, await newMessage(w, 'b'));
        const claims = await Promise.all([w.store.claimRecent(box.id, 3), w.store.claimRecent(box.id, 3)]);
        expect(claims.filter((c) => c !== null)).toEqual([[1, 2]]);
        expect(await w.store.claimRecent(box.id, 3)).toBeNull();
        await w.store.append(box.id, await newMessage(w, 'c'));
        expect(await w.store.claimRecent(box.id, 4)).toEqual([3, 3]);
      });

      it('publishes the mailbox topic after each change', async () => {
        const box = await w.store.createMailbox(w.alice, 'Box');
        const got: unknown[] = [];
        const off = await w.notifier.subscribe(mailboxTopic(box.id), (p) => got.push(p));
        const r = await w.store.append(box.id, await newMessage(w, 'a'));
        await waitFor(() => got.length === 1);
        expect(got[0]).toEqual({ modseq: r.modseq });
        const s = await w.store.storeFlags(box.id, w.alice, [[1, 1]], 'add', ['\\Deleted']);
        await waitFor(() => got.length === 2);
        expect(got[1]).toEqual({ modseq: s.highestModseq });
        await w.store.expunge(box.id);
        await waitFor(() => got.length === 3);
        await w.store.deleteMailbox(box.id);
        await waitFor(() => got.length === 4);
        expect(got[3]).toEqual({ deleted: true });
        off();
      });

      it("publishes the account's list topic when a mailbox is created, renamed, deleted, subscribed or unsubscribed", async () => {
        let count = 0;
        const off = await w.notifier.subscribe(mailboxListTopic(w.alice), () => count++);
        const box = await w.store.createMailbox(w.alice, 'Projets');
        await waitFor(() => count === 1);
        await w.store.renameMailbox(box.id, 'Archives');
        await waitFor(() => count === 2);
        await w.store.subscribe(w.alice, 'Archives');
        await waitFor(() => count === 3);
        await w.store.unsubscribe(w.alice, 'Archives');
        await waitFor(() => count === 4);
        await w.store.deleteMailbox(box.id);
        await waitFor(() => count === 5);
        // A refused change tells nobody.
        await expect(w.store.deleteMailbox(box.id)).rejects.toThrow();
        await new Promise((r) => setTimeout(r, 50));
        expect(count).toBe(5);
        off();
      });
    });

    describe('delivery', () => {
      it('files one message for several accounts atomically, in INBOX or a special-use mailbox, and notifies', async () => {
        const msg = await newMessage(w, 'delivered');
        const topics: string[] = [];
        const results = await w.store.deliver(
          { blobId: msg.blobId, size: msg.size, receivedAt: new Date('2025-01-01T00:00:00Z'), analysis: msg.analysis, dedupeKey: 'k1' },
          [{ accountId: w.alice }, { accountId: w.bob, mailbox: '\\Junk', flags: ['$Junk'] }, { accountId: w.carol, mailbox: 'No/Such/Box' }],
        );
        expect(results.map((r) => [r.accountId, r.uid, r.duplicate])).toEqual([
          [w.alice, 1, false],
          [w.bob, 1, false],
          [w.carol, 1, false],
        ]);
        const aliceInbox = (await w.store.getMailbox(w.alice, 'INBOX'))!;
        const bobJunk = (await w.store.getMailbox(w.bob, 'Junk'))!;
        const carolInbox = (await w.store.getMailbox(w.carol, 'INBOX'))!;
        expect(results.map((r) => r.mailboxId)).toEqual([aliceInbox.id, bobJunk.id, carolInbox.id]);
        expect((await w.store.listMailboxes(w.carol)).length).toBe(6);
        const [row] = await all(w.store.fetch(bobJunk.id, w.bob, EVERYTHING, { header: true }));
        expect(row!.flags).toEqual(['$Junk']);
        expect(row!.internalDate.toISOString()).toBe('2025-01-01T00:00:00.000Z');
        expect(row!.header!.toString()).toContain('Subject: delivered');
        expect((await w.usage.get(w.bob)).mail).toBe(msg.size);
        void topics;
      });

      it('returns the earlier result for a retried submission (dedupe key per account)', async () => {
        const msg = await newMessage(w, 'retry');
        const input = { blobId: msg.blobId, size: msg.size, receivedAt: new Date(), analysis: msg.analysis, dedupeKey: 'same-submission' };
        const first = await w.store.deliver(input, [{ accountId: w.alice }]);
        const second = await w.store.deliver(input, [{ accountId: w.alice }, { accountId: w.bob }]);
        expect(second[0]).toEqual({ ...first[0], duplicate: true });
        expect(second[1]!.duplicate).toBe(false);
        expect(await w.store.listUids(first[0]!.mailboxId)).toEqual([1]);
        // The same account twice in one delivery gets one copy.
        const twice = await w.store.deliver({ ...input, dedupeKey: undefined }, [{ accountId: w.carol }, { accountId: w.carol }]);
        expect(twice[0]!.uid).toBe(twice[1]!.uid);
        expect(twice.map((r) => r.duplicate)).toEqual([false, true]);
        expect(await w.store.listUids(twice[0]!.mailboxId)).toEqual([1]);
      });

      it('counts a dedupe key only within its window: later, the same key is a new message', async () => {
        const msg = await newMessage(w, 'window');
        const input = { blobId: msg.blobId, size: msg.size, receivedAt: new Date(), analysis: msg.analysis, dedupeKey: 'short-lived' };
        const first = await w.store.deliver({ ...input, dedupeWindowMs: 60_000 }, [{ accountId: w.alice }]);
        expect((await w.store.deliver({ ...input, dedupeWindowMs: 60_000 }, [{ accountId: w.alice }]))[0]).toEqual({ ...first[0], duplicate: true });
        await new Promise((resolve) => setTimeout(resolve, 20));
        const later = await w.store.deliver({ ...input, dedupeWindowMs: 1 }, [{ accountId: w.alice }]);
        expect(later[0]!.duplicate).toBe(false);
        expect(await w.store.listUids(first[0]!.mailboxId)).toEqual([1, 2]);
        for (const dedupeWindowMs of [0, -1, 1.5, 8 * 24 * 3600_000]) await expectKind(w.store.deliver({ ...input, dedupeWindowMs }, [{ accountId: w.alice }]), 'invalid');
      });

      it('delivers to nobody when one account is over quota, and names it', async () => {
        const msg = await newMessage(w, 'big');
        await w.directory.updateAccount(w.bob, { quotaBytes: msg.size - 1 });
        const err = await expectKind(
          w.store.deliver({ blobId: msg.blobId, size: msg.size, receivedAt: new Date(), analysis: msg.analysis }, [{ accountId: w.alice }, { accountId: w.bob }]),
          'quota',
        );
        expect(err.detail?.accountId).toBe(w.bob);
        const inbox = await w.store.getMailbox(w.alice, 'INBOX');
        expect(inbox ? await w.store.listUids(inbox.id) : []).toEqual([]);
        expect((await w.usage.get(w.alice)).mail).toBe(0);
      });

      it('delivers a burst of concurrent messages each on its own merits: one over quota fails alone', async () => {
        const msg = await newMessage(w, 'burst');
        await w.directory.updateAccount(w.bob, { quotaBytes: msg.size * 3 });
        const base = { blobId: msg.blobId, size: msg.size, receivedAt: new Date(), analysis: msg.analysis };
        const outcomes = await Promise.allSettled(
          Array.from({ length: 30 }, (_, i) =>
            w.store.deliver({ ...base, dedupeKey: `burst-${i % 25}` }, i % 6 === 0 ? [{ accountId: w.bob }] : [{ accountId: w.alice }]),
          ),
        );
        const failed = outcomes.filter((o) => o.status === 'rejected');
        // Bob gets 5 attempts with distinct keys and room for 3.
        expect(failed.length).toBe(2);
        for (const f of failed) expect((f as PromiseRejectedResult).reason.kind).toBe('quota');
        const aliceInbox = (await w.store.getMailbox(w.alice, 'INBOX'))!;
        const bobInbox = (await w.store.getMailbox(w.bob, 'INBOX'))!;
        // Alice: keys burst-1..burst-24 minus Bob's (6, 12, 18, 24), and burst-25..29 repeat keys 0..4 (0 is Bob's).
        const aliceKeys = new Set(Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 6 !== 0).map((i) => i % 25));
        expect((await w.store.listUids(aliceInbox.id)).length).toBe(aliceKeys.size);
        expect(await w.store.listUids(bobInbox.id)).toEqual([1, 2, 3]);
        expect((await w.usage.get(w.bob)).mail).toBe(msg.size * 3);
        expect((await w.usage.get(w.alice)).mail).toBe(msg.size * aliceKeys.size);
      });

      it('refuses an unknown account or blob', async () => {
        const msg = await newMessage(w, 'x');
        const base = { blobId: msg.blobId, size: msg.size, receivedAt: new Date(), analysis: msg.analysis };
        await expectKind(w.store.deliver(base, [{ accountId: '00000000-0000-0000-0000-000000000000' }]), 'not-found');
        await expectKind(w.store.deliver({ ...base, blobId: 'e'.repeat(64) }, [{ accountId: w.alice }]), 'not-found');
        expect(await w.store.deliver(base, [])).toEqual([]);
      });
    });

    describe('access control lists', () => {
      it('grants to accounts, groups and anyone; lists shared mailboxes with the rights that apply', async () => {
        const [inbox] = (await w.store.ensureMailboxes(w.secretariat)).filter((m) => m.name === 'INBOX');
        const archive = await w.store.createMailbox(w.secretariat, 'Courrier/2024');
        await w.store.setAcl(inbox!.id, { kind: 'account', id: w.bob }, 'lrs');
        await w.store.setAcl(inbox!.id, { kind: 'group', id: w.staff }, 'lrswited');
        await w.store.setAcl(archive.id, { kind: 'anyone' }, 'lr');
        expect(await w.store.getAcl(inbox!.id)).toEqual(
          expect.arrayContaining([
            { grantee: { kind: 'account', id: w.bob }, rights: 'lrs' },
            { grantee: { kind: 'group', id: w.staff }, rights: 'lrswixte' },
          ]),
        );
        const bobSees = (await w.store.listSharedMailboxes(w.bob, [])).map((s) => [s.mailbox.name, s.rights]).sort();
        expect(bobSees).toEqual([
          ['Courrier/2024', 'lr'],
          ['INBOX', 'lrs'],
        ]);
        const carolSees = (await w.store.listSharedMailboxes(w.carol, [w.staff])).map((s) => [s.mailbox.name, s.rights]).sort();
        expect(carolSees).toEqual([
          ['Courrier/2024', 'lr'],
          ['INBOX', 'lrswixte'],
        ]);
        // The owner's own mailboxes are not "shared with" the owner.
        expect(await w.store.listSharedMailboxes(w.secretariat, [])).toEqual([]);
        await w.store.setAcl(inbox!.id, { kind: 'account', id: w.bob }, '');
        expect((await w.store.listSharedMailboxes(w.bob, [])).map((s) => s.mailbox.name)).toEqual(['Courrier/2024']);
        await expectKind(w.store.setAcl(inbox!.id, { kind: 'account', id: w.bob }, 'lrz'), 'invalid');
        await expectKind(w.store.setAcl('00000000-0000-0000-0000-000000000000', { kind: 'anyone' }, 'l'), 'not-found');
      });
    });

    it('reads counts per viewer', async () => {
      const box = await w.store.createMailbox(w.alice, 'Box');
      await w.store.append(box.id, await newMessage(w, 'a', ['\\Seen']));
      await w.store.append(box.id, await newMessage(w, 'b', ['\\Deleted'], 'A longer body than the others.\r\n'));
      await w.store.append(box.id, await newMessage(w, 'c'));
      const rows: MessageRecord[] = await all(w.store.fetch(box.id, w.alice, EVERYTHING));
      const c = await w.store.counts(box.id, w.alice);
      const size = rows.reduce((n, r) => n + r.size, 0);
      expect(c).toEqual({ messages: 3, unseen: 2, deleted: 1, deletedSize: rows[1]!.size, size, firstUnseenUid: 2, recent: 3 });
      await w.store.claimRecent(box.id, 3);
      expect((await w.store.counts(box.id, w.alice)).recent).toBe(1);
      expect((await w.store.counts(box.id, w.bob)).unseen).toBe(3);
    });
  });
}
