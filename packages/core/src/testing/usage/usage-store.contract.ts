import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UsageStore } from '../../usage/usage-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

/** `make` also returns an existing account id (usage rows belong to accounts). */
export function usageStoreContract(name: string, subject: ContractSubject<UsageStore, { accountId: string }>): void {
  describe(`UsageStore contract: ${name}`, () => {
    let store: UsageStore;
    let accountId: string;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, accountId, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('adds and removes bytes per kind, never below zero', async () => {
      expect(await store.get(accountId)).toEqual({ drive: 0, mail: 0, calendar: 0, contacts: 0, total: 0, messages: 0 });
      await store.add(accountId, 'drive', 1000);
      await store.add(accountId, 'mail', 250);
      await store.add(accountId, 'drive', -400);
      expect(await store.get(accountId)).toEqual({ drive: 600, mail: 250, calendar: 0, contacts: 0, total: 850, messages: 0 });
      await store.add(accountId, 'calendar', 40);
      await store.add(accountId, 'contacts', 60);
      expect(await store.get(accountId)).toEqual({ drive: 600, mail: 250, calendar: 40, contacts: 60, total: 950, messages: 0 });
      await store.add(accountId, 'calendar', -40);
      await store.add(accountId, 'contacts', -60);
      await store.add(accountId, 'mail', -10_000);
      expect(await store.get(accountId)).toEqual({ drive: 600, mail: 0, calendar: 0, contacts: 0, total: 600, messages: 0 });
      await store.add(accountId, 'drive', 0);
      expect((await store.get(accountId)).drive).toBe(600);
    });

    it('adds up concurrent updates exactly', async () => {
      await Promise.all(Array.from({ length: 30 }, () => store.add(accountId, 'mail', 7)));
      expect((await store.get(accountId)).mail).toBe(210);
    });

    it('refuses unknown kinds and fractional deltas', async () => {
      await expectKind(store.add(accountId, 'photos' as never, 1), 'invalid');
      await expectKind(store.add(accountId, 'drive', 1.5), 'invalid');
      expect((await store.get(accountId)).total).toBe(0);
    });
  });
}
