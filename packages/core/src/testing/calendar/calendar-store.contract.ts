import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CalendarCollection, CalendarStore, ObjectIndex } from '../../calendar/calendar-store.js';
import { MAX_INSTANCES } from '../../calendar/calendar-rules.js';
import type { Account, Group } from '../../directory/directory.js';
import type { DirectoryStore } from '../../directory/directory-store.js';
import type { UsageStore } from '../../usage/usage-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

export interface CalendarContractExtra {
  directory: DirectoryStore;
  usage: UsageStore;
}

const H = 3600_000;

/** An index as the protocol package would compute it for a simple object. */
export function simpleIndex(uid: string, instances: { start: number; end: number }[], extra: Partial<ObjectIndex> = {}): ObjectIndex {
  return {
    uid,
    component: 'VEVENT',
    firstStart: instances[0]?.start ?? null,
    lastEnd: instances.length ? Math.max(...instances.map((i) => i.end)) : null,
    floating: false,
    recurring: instances.length > 1,
    instances,
    instancesUntil: null,
    instancesFrom: null,
    exact: true,
    searchText: null,
    ...extra,
  };
}

const ics = (uid: string, summary = 'Réunion') => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;

async function expectReason(promise: Promise<unknown>, reason: string): Promise<Record<string, unknown>> {
  const error = await expectKind(promise, 'conflict');
  const detail = (error.detail ?? {}) as Record<string, unknown>;
  expect(detail.reason).toBe(reason);
  return detail;
}

export function calendarStoreContract(name: string, subject: ContractSubject<CalendarStore, CalendarContractExtra>): void {
  describe(`CalendarStore contract: ${name}`, () => {
    let store: CalendarStore;
    let directory: DirectoryStore;
    let usage: UsageStore;
    let cleanup: () => Promise<void>;
    let alice: Account;
    let bob: Account;
    let cal: CalendarCollection;

    const put = (n: string, uid: string, instances: { start: number; end: number }[], extra: Partial<ObjectIndex> = {}, options = {}) =>
      store.putObject(cal.id, n, ics(uid), simpleIndex(uid, instances, extra), options);
    const names = async (query: Parameters<CalendarStore['queryObjects']>[1]) => (await store.queryObjects(cal.id, query)).map((q) => `${q.object.name}${q.check ? '?' : ''}`);

    beforeEach(async () => {
      ({ subject: store, directory, usage, cleanup } = await subject.make());
      await directory.createDomain({ name: 'sante.example.tg' });
      alice = await directory.createAccount({ address: 'alice@sante.example.tg', displayName: 'Alice', quotaBytes: 2000 });
      bob = await directory.createAccount({ address: 'bob@sante.example.tg', displayName: 'Bob' });
      cal = await store.createCollection(alice.id, { kind: 'calendar', name: 'travail', displayName: 'Travail' });
    });
    afterEach(async () => cleanup());

    it('makes collections per account, with unique names, default components and a counter', async () => {
      expect(cal).toMatchObject({ kind: 'calendar', accountId: alice.id, name: 'travail', displayName: 'Travail', components: ['VEVENT', 'VTODO'], readOnly: false, seq: 0 });
      const book = await store.createCollection(alice.id, { kind: 'addressbook', name: 'contacts' });
      expect(book.components).toEqual([]);
      await expectReason(store.createCollection(alice.id, { kind: 'calendar', name: 'travail' }), 'exists');
      // Another account may use the same name.
      expect((await store.createCollection(bob.id, { kind: 'calendar', name: 'travail' })).accountId).toBe(bob.id);
      expect((await store.listCollections(alice.id)).map((c) => c.name)).toEqual(['contacts', 'travail']);
      expect((await store.listCollections(alice.id, 'addressbook')).map((c) => c.name)).toEqual(['contacts']);
      expect((await store.findCollection(alice.id, 'travail'))?.id).toBe(cal.id);
      expect(await store.findCollection(alice.id, 'Travail')).toBeNull();
      await expectKind(store.createCollection('00000000-0000-0000-0000-000000000000', { kind: 'calendar', name: 'x' }), 'not-found');
      await expectKind(store.createCollection(alice.id, { kind: 'calendar', name: 'a/b' }), 'invalid');
      await expectKind(store.createCollection(alice.id, { kind: 'calendar', name: '..' }), 'invalid');
      await expectKind(store.createCollection(alice.id, { kind: 'calendar', name: 'x', components: ['VCARD' as never] }), 'invalid');
      await expectKind(store.createCollection(alice.id, { kind: 'calendar', name: 'x', components: [] }), 'invalid');
      const updated = await store.updateCollection(cal.id, { displayName: 'Bureau', description: 'Agenda du bureau' });
      expect(updated).toMatchObject({ displayName: 'Bureau', description: 'Agenda du bureau' });
    });

    it('keeps objects byte for byte with strong ETags, and counts every change', async () => {
      const first = await put('a.ics', 'uid-a', [{ start: 10 * H, end: 11 * H }]);
      expect(first.created).toBe(true);
      expect(first.object).toMatchObject({ name: 'a.ics', uid: 'uid-a', component: 'VEVENT', size: Buffer.byteLength(ics('uid-a')) });
      const same = await put('a.ics', 'uid-a', [{ start: 10 * H, end: 11 * H }]);
      expect(same.created).toBe(false);
      expect(same.object.etag).toBe(first.object.etag);
      const other = await store.putObject(cal.id, 'a.ics', ics('uid-a', 'Autre'), simpleIndex('uid-a', []));
      expect(other.object.etag).not.toBe(first.object.etag);
      expect((await store.getObject(cal.id, 'a.ics', { withData: true }))?.data).toBe(ics('uid-a', 'Autre'));
      expect((await store.getObject(cal.id, 'a.ics'))?.data).toBeUndefined();
      expect((await store.getCollection(cal.id))?.seq).toBe(3);
      expect((await store.findObjectByUid(cal.id, 'uid-a'))?.name).toBe('a.ics');
    });

    it('refuses a second object with the same UID, and writes that break a precondition', async () => {
      const a = await put('a.ics', 'uid-a', []);
      const detail = await expectReason(put('b.ics', 'uid-a', []), 'uid-conflict');
      expect(detail.name).toBe('a.ics');
      await expectReason(put('a.ics', 'uid-a', [], {}, { ifNoneMatch: true }), 'precondition');
      await expectReason(put('a.ics', 'uid-a', [], {}, { ifMatch: 'not-the-tag' }), 'precondition');
      await expectReason(put('new.ics', 'uid-new', [], {}, { ifMatch: '*' }), 'precondition');
      expect((await put('a.ics', 'uid-a', [], {}, { ifMatch: a.object.etag })).created).toBe(false);
      await expectReason(store.deleteObject(cal.id, 'a.ics', { ifMatch: 'stale' }), 'precondition');
      await store.deleteObject(cal.id, 'a.ics', { ifMatch: '*' });
      await expectKind(store.deleteObject(cal.id, 'a.ics'), 'not-found');
      // The UID is free again.
      expect((await put('b.ics', 'uid-a', [])).created).toBe(true);
      expect((await store.listObjects(cal.id)).map((o) => o.name)).toEqual(['b.ics']);
    });

    it('lets exactly one of concurrent writers with the same UID win, and serialises writers of one name', async () => {
      const results = await Promise.allSettled(['x1.ics', 'x2.ics', 'x3.ics'].map((n) => put(n, 'shared-uid', [])));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const sameName = await Promise.all([1, 2, 3].map(() => put('same.ics', 'same', [])));
      expect(sameName.filter((r) => r.created)).toHaveLength(1);
      expect((await store.getCollection(cal.id))?.seq).toBe(4);
    });

    it('refuses malformed objects and indexes, and stores nothing of them', async () => {
      await expectKind(store.putObject(cal.id, 'a/b.ics', ics('u'), simpleIndex('u', [])), 'invalid');
      await expectKind(store.putObject(cal.id, 'a.ics', ics('u'), simpleIndex('', [])), 'invalid');
      await expectKind(store.putObject(cal.id, 'a.ics', ics('u'), simpleIndex('u'.repeat(5000), [])), 'too-large');
      await expectKind(store.putObject(cal.id, 'a.ics', 'x'.repeat(9 * 1024 * 1024), simpleIndex('u', [])), 'too-large');
      await expectKind(store.putObject(cal.id, 'a.ics', ics('u'), simpleIndex('u', [{ start: 5, end: 1 }])), 'invalid');
      await expectKind(store.putObject(cal.id, 'a.ics', ics('u'), simpleIndex('u', [{ start: 5, end: 6 }, { start: 1, end: 2 }])), 'invalid');
      await expectKind(store.putObject(cal.id, 'a.ics', ics('u'), simpleIndex('u', [{ start: Number.NaN, end: 6 }])), 'invalid');
      const many = Array.from({ length: MAX_INSTANCES + 1 }, (_, i) => ({ start: i, end: i + 1 }));
      await expectKind(store.putObject(cal.id, 'a.ics', ics('u'), simpleIndex('u', many)), 'too-large');
      await expectKind(store.putObject(cal.id, 'a.ics', 'BEGIN:VCARD', simpleIndex('u', [], { component: 'VCARD' })), 'invalid');
      await expectKind(store.putObject(cal.id, 'a.ics', ics('u'), simpleIndex('u', [], { component: 'VJOURNAL' })), 'invalid');
      expect(await store.listObjects(cal.id)).toEqual([]);
      expect((await store.getCollection(cal.id))?.seq).toBe(0);
      expect((await usage.get(alice.id)).calendar).toBe(0);
    });

    it('counts bytes against the owner quota, and gives them back on delete', async () => {
      await put('a.ics', 'uid-a', []);
      const size = Buffer.byteLength(ics('uid-a'));
      expect(await usage.get(alice.id)).toMatchObject({ calendar: size, total: size });
      await expectKind(store.putObject(cal.id, 'big.ics', 'y'.repeat(2500), simpleIndex('big', [])), 'quota');
      const book = await store.createCollection(alice.id, { kind: 'addressbook', name: 'contacts' });
      await store.putObject(book.id, 'c.vcf', 'BEGIN:VCARD\r\nEND:VCARD\r\n', simpleIndex('c', [], { component: 'VCARD' }));
      expect((await usage.get(alice.id)).contacts).toBe(Buffer.byteLength('BEGIN:VCARD\r\nEND:VCARD\r\n'));
      await store.deleteObject(cal.id, 'a.ics');
      await store.deleteCollection(book.id);
      expect(await usage.get(alice.id)).toMatchObject({ calendar: 0, contacts: 0, total: 0 });
      expect(await store.getCollection(book.id)).toBeNull();
    });

    it('answers time ranges from the index: spans overlap, instants fall inside, long spans and series are found', async () => {
      await put('span.ics', 'span', [{ start: 10 * H, end: 20 * H }]);
      await put('instant.ics', 'instant', [{ start: 20 * H, end: 20 * H }]);
      await put('long.ics', 'long', [{ start: 0, end: 1000 * H }]);
      await put('weekly.ics', 'weekly', [0, 1, 2].map((w) => ({ start: (100 + w * 168) * H, end: (101 + w * 168) * H })));
      await put('floating.ics', 'floating', [{ start: 30 * H, end: 31 * H }], { floating: true });
      await put('open.ics', 'open', [{ start: 5 * H, end: 6 * H }], { recurring: true, instancesUntil: 6 * H, lastEnd: null });
      await put('todo.ics', 'todo', [{ start: 40 * H, end: 40 * H }], { component: 'VTODO', exact: false });
      expect(await names({ timeRange: { start: 15 * H, end: 20 * H } })).toEqual(['floating.ics?', 'long.ics', 'open.ics?', 'span.ics']);
      expect(await names({ timeRange: { start: 20 * H, end: 21 * H } })).toEqual(['floating.ics?', 'instant.ics', 'long.ics', 'open.ics?']);
      expect(await names({ timeRange: { start: 19 * H, end: 20 * H }, floatingSlackMs: 0 })).toEqual(['long.ics', 'open.ics?', 'span.ics']);
      // Floating times are local: within the widest offset of the range they are candidates to check.
      expect(await names({ timeRange: { start: 40 * H, end: 41 * H }, component: 'VEVENT' })).toEqual(['floating.ics?', 'long.ics', 'open.ics?']);
      expect(await names({ timeRange: { start: 40 * H, end: 41 * H }, floatingSlackMs: H, component: 'VEVENT' })).toEqual(['long.ics', 'open.ics?']);
      expect(await names({ timeRange: { start: 268 * H, end: 269 * H } })).toEqual(['long.ics', 'open.ics?', 'weekly.ics']);
      expect(await names({ timeRange: { start: 2000 * H, end: null }, component: 'VEVENT' })).toEqual(['open.ics?']);
      expect(await names({ timeRange: { start: null, end: 1 * H }, component: 'VEVENT', floatingSlackMs: 0 })).toEqual(['long.ics']);
      // A VTODO's rows are a superset: always checked.
      expect(await names({ timeRange: { start: 39 * H, end: 41 * H }, component: 'VTODO' })).toEqual(['todo.ics?']);
      expect(await names({ timeRange: { start: 50 * H, end: 51 * H }, component: 'VTODO' })).toEqual([]);
      // Replacing an object replaces its instances.
      await put('span.ics', 'span', [{ start: 500 * H, end: 501 * H }]);
      expect(await names({ timeRange: { start: 15 * H, end: 20 * H }, component: 'VEVENT' })).toEqual(['floating.ics?', 'long.ics', 'open.ics?']);
    });

    it('asks the rule of a long series before the instances it kept', async () => {
      // Instances kept from 300 h on (those around now); the series began at 0.
      await put('window.ics', 'window', [{ start: 300 * H, end: 301 * H }, { start: 324 * H, end: 325 * H }], { recurring: true, firstStart: 0, lastEnd: 325 * H, instancesFrom: 300 * H });
      expect(await names({ timeRange: { start: 100 * H, end: 101 * H } })).toEqual(['window.ics?']);
      expect(await names({ timeRange: { start: 300 * H, end: 301 * H } })).toEqual(['window.ics']);
      expect(await names({ timeRange: { start: 302 * H, end: 303 * H } })).toEqual([]);
      expect(await names({ timeRange: { start: 400 * H, end: 401 * H } })).toEqual([]);
    });

    it('pages queries and listings by name, filters text, and gives data when asked', async () => {
      for (const n of ['c', 'a', 'b', 'é', 'd']) {
        await store.putObject(cal.id, `${n}.ics`, ics(n), simpleIndex(n, [{ start: H, end: 2 * H }], { searchText: `summary:réunion ${n}` }));
      }
      expect((await store.listObjects(cal.id, { limit: 2 })).map((o) => o.name)).toEqual(['a.ics', 'b.ics']);
      expect((await store.listObjects(cal.id, { after: 'b.ics', limit: 2 })).map((o) => o.name)).toEqual(['c.ics', 'd.ics']);
      // A listing's entries: the same pages in the same order as listObjects, with the same fields, and nothing else.
      for (const options of [{ limit: 2 }, { after: 'b.ics', limit: 2 }, { after: 'd.ics' }, {}]) {
        const full = await store.listObjects(cal.id, options);
        expect(await store.listEntries(cal.id, options)).toEqual(full.map(({ name, component, etag, size, createdAt, modifiedAt }) => ({ name, component, etag, size, createdAt, modifiedAt })));
      }
      expect((await store.queryObjects(cal.id, { timeRange: { start: 0, end: 3 * H }, after: 'c.ics', limit: 1 })).map((q) => q.object.name)).toEqual(['d.ics']);
      expect((await store.queryObjects(cal.id, { textContains: ['réunion é'] })).map((q) => q.object.name)).toEqual(['é.ics']);
      expect(await store.queryObjects(cal.id, { textContains: ['100%'] })).toEqual([]);
      expect(await store.queryObjects(cal.id, { textContains: ['r_union'] })).toEqual([]);
      const [withData] = await store.queryObjects(cal.id, { textContains: ['réunion a'], withData: true });
      expect(withData?.object.data).toBe(ics('a'));
      const many = await store.getObjects(cal.id, ['a.ics', 'missing.ics', 'é.ics']);
      expect(many.map((o) => [o.name, o.data])).toEqual(expect.arrayContaining([['a.ics', ics('a')], ['é.ics', ics('é')]]));
      expect(many).toHaveLength(2);
      const bare = await store.getObjects(cal.id, ['a.ics', 'missing.ics'], { withData: false });
      expect(bare.map((o) => [o.name, o.etag, o.data])).toEqual([['a.ics', many.find((o) => o.name === 'a.ics')!.etag, undefined]]);
      // dataUpTo: the text of the objects that small, the others without it (read later in batches).
      const a = many.find((o) => o.name === 'a.ics')!;
      const small = await store.getObjects(cal.id, ['a.ics', 'é.ics'], { dataUpTo: a.size });
      const big = many.find((o) => o.name === 'é.ics')!;
      const expected = [['a.ics', ics('a')], ['é.ics', big.size <= a.size ? ics('é') : undefined]];
      expect(small.map((o) => [o.name, o.data])).toEqual(expect.arrayContaining(expected));
      expect((await store.getObjects(cal.id, ['a.ics'], { dataUpTo: a.size - 1 }))[0]!.data).toBeUndefined();
      expect((await store.getObjects(cal.id, ['a.ics'], { dataUpTo: a.size - 1 }))[0]!).not.toHaveProperty('data');
    });

    it('answers a time range with more candidates than one batch of ids: in name order, paged, only this collection', async () => {
      // Bob has no quota: 620 objects, next to one of Alice's at the same time with the same name.
      const big = await store.createCollection(bob.id, { kind: 'calendar', name: 'grand' });
      const n = (i: number) => `e${String(i).padStart(4, '0')}.ics`;
      for (let i = 0; i < 620; i++) {
        await store.putObject(big.id, n(i), ics(`u${i}`), simpleIndex(`u${i}`, [{ start: (i % 7) * H, end: (i % 7) * H + H }], { searchText: `summary:${i % 2 ? 'impair' : 'pair'}` }));
      }
      await put('e0001.ics', 'u1', [{ start: 0, end: H }]);
      const all = (await store.queryObjects(big.id, { timeRange: { start: 0, end: 7 * H }, component: 'VEVENT' })).map((q) => q.object);
      expect(all.map((o) => o.name)).toEqual(Array.from({ length: 620 }, (_, i) => n(i)));
      expect(all.every((o) => o.collectionId === big.id)).toBe(true);
      const page = await store.queryObjects(big.id, { timeRange: { start: 0, end: 7 * H }, after: n(300), limit: 2, textContains: ['impair'] });
      expect(page.map((q) => q.object.name)).toEqual([n(301), n(303)]);
      // Page after page (the store reads only each page's rows), with their text: the same answer as one query.
      const paged: string[] = [];
      for (let after: string | null = null; ; ) {
        const part = await store.queryObjects(big.id, { timeRange: { start: 0, end: 7 * H }, after, limit: 250, withData: true });
        expect(part.every((q) => q.object.data === ics(q.object.uid))).toBe(true);
        paged.push(...part.map((q) => q.object.name));
        if (part.length < 250) break;
        after = part.at(-1)!.object.name;
      }
      expect(paged).toEqual(all.map((o) => o.name));
      expect((await store.queryObjects(cal.id, { timeRange: { start: 0, end: H } })).map((q) => q.object.name)).toEqual(['e0001.ics']);
    }, 180_000);

    it('tells a client exactly what changed since its counter, and refuses foreign and future ones', async () => {
      await put('a.ics', 'a', []);
      const token = (await store.getCollection(cal.id))!.seq;
      await put('b.ics', 'b', []);
      await put('a.ics', 'a', [{ start: 1, end: 2 }]);
      await store.deleteObject(cal.id, 'b.ics');
      const since = await store.changesSince(cal.id, token);
      expect(since).toMatchObject({ truncated: false, changes: [{ name: 'a.ics', kind: 'put' }, { name: 'b.ics', kind: 'delete' }] });
      expect(since !== 'expired' && since.seq).toBe((await store.getCollection(cal.id))!.seq);
      expect(await store.changesSince(cal.id, 999)).toBe('expired');
      expect(await store.changesSince(cal.id, -1)).toBe('expired');
      const first = await store.changesSince(cal.id, 0, 1);
      expect(first !== 'expired' && first.truncated).toBe(true);
      // A new collection of the same name does not accept the old one's counter.
      await store.deleteCollection(cal.id);
      const again = await store.createCollection(alice.id, { kind: 'calendar', name: 'travail' });
      expect(again.id).not.toBe(cal.id);
      expect(await store.changesSince(again.id, token)).toBe('expired');
    });

    it('changes properties all at once or not at all, and keeps a sharee\u2019s own apart', async () => {
      await store.patchCollectionProperties(cal.id, [
        { op: 'set', name: '{http://apple.com/ns/ical/}calendar-color', value: '<x:calendar-color xmlns:x="http://apple.com/ns/ical/">#FF0000</x:calendar-color>' },
        { op: 'set', name: '{urn:x}a', value: '<a xmlns="urn:x">1</a>' },
      ]);
      await expectKind(store.patchCollectionProperties(cal.id, [{ op: 'remove', name: '{urn:x}a' }, { op: 'set', name: 'no-namespace', value: '<x/>' }]), 'invalid');
      expect((await store.collectionProperties([cal.id])).get(cal.id)!.map((p) => p.name)).toEqual(['{http://apple.com/ns/ical/}calendar-color', '{urn:x}a']);
      await store.patchCollectionProperties(cal.id, [{ op: 'set', name: '{DAV:}displayname', value: '<d:displayname xmlns:d="DAV:">Agenda d’Alice</d:displayname>' }], bob.id);
      expect((await store.shareeProperties(bob.id, [cal.id])).get(cal.id)!.map((p) => p.name)).toEqual(['{DAV:}displayname']);
      expect((await store.collectionProperties([cal.id])).get(cal.id)).toHaveLength(2);
    });

    it('shares with accounts and groups, widest access wins, and unshares', async () => {
      const team: Group = await directory.createGroup({ name: 'secretariat', domain: 'sante.example.tg' });
      await directory.addGroupMember(team.id, { accountId: bob.id });
      await store.share(cal.id, { kind: 'group', id: team.id }, 'read');
      expect((await store.sharedWith(bob.id, [team.id])).map((s) => [s.collection.id, s.access])).toEqual([[cal.id, 'read']]);
      await store.share(cal.id, { kind: 'account', id: bob.id }, 'read-write');
      expect((await store.sharedWith(bob.id, [team.id]))[0]?.access).toBe('read-write');
      expect((await store.sharesOf(cal.id)).map((s) => `${s.grantee.kind}:${s.access}`)).toEqual(['account:read-write', 'group:read']);
      expect(await store.sharedWith(alice.id, [])).toEqual([]);
      await expectKind(store.share(cal.id, { kind: 'account', id: alice.id }, 'read'), 'invalid');
      await expectKind(store.share(cal.id, { kind: 'account', id: '00000000-0000-0000-0000-000000000000' }, 'read'), 'not-found');
      await expectKind(store.share(cal.id, { kind: 'account', id: bob.id }, 'admin' as never), 'invalid');
      await store.unshare(cal.id, { kind: 'account', id: bob.id });
      await store.unshare(cal.id, { kind: 'group', id: team.id });
      expect(await store.sharedWith(bob.id, [team.id])).toEqual([]);
    });

    it('keeps an invitation per account share: pending with a notice, accepted or declined by the sharee, renewed by a new share', async () => {
      const team: Group = await directory.createGroup({ name: 'invites', domain: 'sante.example.tg' });
      expect((await store.getCollection(cal.id))!.shared).toBe(false);
      await store.share(cal.id, { kind: 'account', id: bob.id }, 'read');
      await store.share(cal.id, { kind: 'group', id: team.id }, 'read');
      expect((await store.getCollection(cal.id))!.shared).toBe(true);
      expect((await store.listCollections(alice.id, 'calendar')).find((c) => c.id === cal.id)!.shared).toBe(true);
      const states = async () => (await store.sharesOf(cal.id)).map((s) => `${s.grantee.kind}:${s.access}:${s.status}:${s.notice}`);
      expect(await states()).toEqual(['account:read:pending:true', 'group:read:accepted:false']);
      const invites = await store.invitesFor(bob.id);
      expect(invites.map((i) => [i.collection.id, i.share.status])).toEqual([[cal.id, 'pending']]);
      expect(await store.invitesFor(alice.id)).toEqual([]);
      // Pending is in force: the sharee's clients that cannot answer see it.
      expect((await store.sharedWith(bob.id, [])).map((s) => s.collection.id)).toEqual([cal.id]);

      await store.dismissShareNotice(cal.id, bob.id);
      await expectKind(store.dismissShareNotice(cal.id, bob.id), 'not-found');
      expect(await store.repliesTo(alice.id)).toEqual([]);
      await store.replyToShare(cal.id, bob.id, 'declined');
      expect(await states()).toEqual(['account:read:declined:false', 'group:read:accepted:false']);
      expect(await store.sharedWith(bob.id, [])).toEqual([]);
      // The answer is a notice for the owner, and only for the owner, until the owner puts it away.
      const replies = async () => (await store.repliesTo(alice.id)).map((r) => `${r.collection.id}:${r.share.grantee.id}:${r.share.status}`);
      expect(await replies()).toEqual([`${cal.id}:${bob.id}:declined`]);
      expect(await store.repliesTo(bob.id)).toEqual([]);
      await expectKind(store.dismissReplyNotice(cal.id, alice.id), 'not-found');
      await expectKind(store.dismissReplyNotice(cal.id, team.id), 'not-found');
      await store.dismissReplyNotice(cal.id, bob.id);
      await expectKind(store.dismissReplyNotice(cal.id, bob.id), 'not-found');
      expect(await replies()).toEqual([]);
      // The same share again is no new invitation; a new one after a decline is.
      await store.share(cal.id, { kind: 'account', id: bob.id }, 'read');
      expect(await states()).toEqual(['account:read:pending:true', 'group:read:accepted:false']);
      await store.replyToShare(cal.id, bob.id, 'declined');
      expect(await replies()).toEqual([`${cal.id}:${bob.id}:declined`]);
      // A new invitation makes the old answer's notice stale.
      await store.share(cal.id, { kind: 'account', id: bob.id }, 'read');
      expect(await replies()).toEqual([]);
      await store.replyToShare(cal.id, bob.id, 'accepted');
      expect(await replies()).toEqual([`${cal.id}:${bob.id}:accepted`]);
      const accepted = (await store.sharesOf(cal.id))[0]!;
      await store.share(cal.id, { kind: 'account', id: bob.id }, 'read');
      expect((await store.sharesOf(cal.id))[0]).toEqual(accepted);
      await store.dismissShareNotice(cal.id, bob.id);
      await store.share(cal.id, { kind: 'account', id: bob.id }, 'read-write');
      expect(await states()).toEqual(['account:read-write:accepted:true', 'group:read:accepted:false']);

      await expectKind(store.replyToShare(cal.id, alice.id, 'accepted'), 'not-found');
      await expectKind(store.replyToShare(cal.id, bob.id, 'maybe' as never), 'invalid');
      // A group's share is nobody's to answer.
      await expectKind(store.replyToShare(cal.id, team.id, 'declined'), 'not-found');
      expect(await replies()).toEqual([`${cal.id}:${bob.id}:accepted`]);
      await store.unshare(cal.id, { kind: 'account', id: bob.id });
      expect(await store.invitesFor(bob.id)).toEqual([]);
      expect(await store.repliesTo(alice.id)).toEqual([]);
      await store.unshare(cal.id, { kind: 'group', id: team.id });
      expect((await store.getCollection(cal.id))!.shared).toBe(false);
    });

    it('records delegates of a whole calendar home', async () => {
      const team = await directory.createGroup({ name: 'cabinet', domain: 'sante.example.tg' });
      await store.setDelegate(alice.id, { kind: 'account', id: bob.id }, 'read');
      await store.setDelegate(alice.id, { kind: 'group', id: team.id }, 'read-write');
      expect((await store.delegatesOf(alice.id)).map((d) => `${d.delegate.kind}:${d.access}`)).toEqual(['account:read', 'group:read-write']);
      expect((await store.delegationsTo(bob.id, [])).map((d) => [d.ownerId, d.access])).toEqual([[alice.id, 'read']]);
      expect((await store.delegationsTo(bob.id, [team.id])).map((d) => [d.ownerId, d.access])).toEqual([[alice.id, 'read-write']]);
      await expectKind(store.setDelegate(alice.id, { kind: 'account', id: alice.id }, 'read'), 'invalid');
      await store.setDelegate(alice.id, { kind: 'account', id: bob.id }, null);
      await store.setDelegate(alice.id, { kind: 'group', id: team.id }, null);
      expect(await store.delegationsTo(bob.id, [team.id])).toEqual([]);
    });

    it('keeps one read-only address book per domain that only the server writes', async () => {
      const domain = (await directory.findDomain('sante.example.tg'))!;
      const books = await Promise.all([1, 2, 3].map(() => store.ensureDomainAddressBook(domain.id, 'annuaire', 'Annuaire')));
      expect(new Set(books.map((b) => b.id)).size).toBe(1);
      const gal = books[0]!;
      expect(gal).toMatchObject({ kind: 'addressbook', accountId: null, domainId: domain.id, readOnly: true });
      const card = 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:alice\r\nFN:Alice\r\nEND:VCARD\r\n';
      await expectKind(store.putObject(gal.id, 'alice.vcf', card, simpleIndex('alice', [], { component: 'VCARD' })), 'forbidden');
      await store.putObject(gal.id, 'alice.vcf', card, simpleIndex('alice', [], { component: 'VCARD' }), { system: true });
      await expectKind(store.deleteObject(gal.id, 'alice.vcf'), 'forbidden');
      await expectKind(store.updateCollection(gal.id, { displayName: 'x' }), 'forbidden');
      expect((await store.findDomainAddressBook(domain.id))?.seq).toBe(1);
      await store.deleteObject(gal.id, 'alice.vcf', { system: true });
    });
  });
}
