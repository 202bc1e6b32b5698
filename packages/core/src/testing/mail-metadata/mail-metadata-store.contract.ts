import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_METADATA_ENTRIES, MAX_METADATA_VALUE_BYTES } from '../../mail-metadata/mail-metadata-rules.js';
import type { MailMetadataStore } from '../../mail-metadata/mail-metadata-store.js';
import type { ContractSubject } from '../contracts/subject.js';
import { expectKind } from '../contracts/expect-error.js';

const BOX = '11111111-1111-1111-1111-111111111111';
const OTHER = '22222222-2222-2222-2222-222222222222';
const ALICE = 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa';
const BOB = 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb';

/** What every MailMetadataStore does (memory, SQLite, PostgreSQL). */
export function mailMetadataStoreContract(name: string, subject: ContractSubject<MailMetadataStore>): void {
  describe(`MailMetadataStore contract: ${name}`, () => {
    let store: MailMetadataStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    const alice = { mailboxId: BOX, accountId: ALICE };
    const bob = { mailboxId: BOX, accountId: BOB };
    const server = { mailboxId: null, accountId: ALICE };

    it('keeps private entries per account and shared ones per mailbox or server; names are case-insensitive', async () => {
      await store.set(alice, [{ name: '/private/Comment', value: 'mine' }]);
      await store.set(bob, [{ name: '/private/comment', value: 'his' }, { name: '/shared/comment', value: 'ours' }]);
      await store.set(server, [{ name: '/shared/comment', value: 'server' }]);
      expect(await store.get(alice, '/private/COMMENT', '0')).toEqual([{ name: '/private/comment', value: 'mine' }]);
      expect(await store.get(bob, '/private/comment', '0')).toEqual([{ name: '/private/comment', value: 'his' }]);
      // Shared entries are everyone's: written by bob, read by alice.
      expect(await store.get(alice, '/shared/comment', '0')).toEqual([{ name: '/shared/comment', value: 'ours' }]);
      expect(await store.get({ mailboxId: null, accountId: BOB }, '/shared/comment', '0')).toEqual([{ name: '/shared/comment', value: 'server' }]);
      expect(await store.get({ mailboxId: OTHER, accountId: ALICE }, '/private/comment', '0')).toEqual([]);
      expect(await store.get(server, '/private/comment', '0')).toEqual([]);
    });

    it('answers depth 0, 1 and infinity in name order, with LIKE characters taken literally', async () => {
      await store.set(alice, [
        { name: '/private/a', value: '1' },
        { name: '/private/a/b', value: '2' },
        { name: '/private/a/b/c', value: '3' },
        { name: '/private/a_x', value: '4' },
        { name: '/private/ab', value: '5' },
      ]);
      const names = async (n: string, d: '0' | '1' | 'infinity') => (await store.get(alice, n, d)).map((e) => e.name);
      expect(await names('/private/a', '0')).toEqual(['/private/a']);
      expect(await names('/private/a', '1')).toEqual(['/private/a', '/private/a/b']);
      expect(await names('/private/a', 'infinity')).toEqual(['/private/a', '/private/a/b', '/private/a/b/c']);
      expect(await names('/private/a_', 'infinity')).toEqual([]);
    });

    it('writes all changes or none; NIL deletes; limits on names, values and entry count', async () => {
      await store.set(alice, [{ name: '/private/keep', value: 'x' }]);
      await expectKind(store.set(alice, [{ name: '/private/new', value: 'y' }, { name: '/private/../x', value: 'z' }]), 'invalid');
      for (const bad of ['/private//x', '/private/x/', '/private/*', '/private/%', '/private/é', '/other/x', '/private', '/private/.', 'private/x', `/private/${'a'.repeat(300)}`]) {
        await expectKind(store.set(alice, [{ name: bad, value: 'v' }]), 'invalid');
      }
      // A bad shared change takes the good private one with it.
      await expectKind(store.set(alice, [{ name: '/private/new', value: 'y' }, { name: '/shared/x/', value: 'v' }]), 'invalid');
      await expectKind(store.set(alice, [{ name: '/private/big', value: 'x'.repeat(MAX_METADATA_VALUE_BYTES + 1) }]), 'invalid');
      expect((await store.get(alice, '/private/new', '0')).length).toBe(0);
      const many = Array.from({ length: MAX_METADATA_ENTRIES }, (_, i) => ({ name: `/private/n/${i}`, value: 'v' }));
      await expectKind(store.set(alice, [{ name: '/shared/ok', value: 'v' }, ...many]), 'quota');
      expect(await store.get(alice, '/private/n', 'infinity')).toEqual([]);
      expect(await store.get(alice, '/shared/ok', '0')).toEqual([]);
      await store.set(alice, [{ name: '/private/keep', value: null }, { name: '/private/gone', value: null }]);
      expect(await store.get(alice, '/private/keep', '0')).toEqual([]);
    });

    it('forgets a deleted mailbox, private and shared, and nothing else', async () => {
      await store.set(alice, [{ name: '/private/x', value: '1' }, { name: '/shared/x', value: '2' }]);
      await store.set({ mailboxId: OTHER, accountId: ALICE }, [{ name: '/shared/x', value: '3' }]);
      await store.set(server, [{ name: '/private/x', value: '4' }]);
      await store.deleteMailbox(BOX);
      expect(await store.get(alice, '/private/x', '0')).toEqual([]);
      expect(await store.get(alice, '/shared/x', '0')).toEqual([]);
      expect((await store.get({ mailboxId: OTHER, accountId: BOB }, '/shared/x', '0')).length).toBe(1);
      expect((await store.get(server, '/private/x', '0')).length).toBe(1);
    });
  });
}
