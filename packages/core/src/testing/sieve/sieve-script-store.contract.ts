import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SieveScriptStore } from '../../sieve/sieve-script-store.js';
import { MAX_SIEVE_SCRIPTS } from '../../sieve/sieve-script-rules.js';
import type { ContractSubject } from '../contracts/subject.js';
import { expectKind } from '../contracts/expect-error.js';

export interface SieveContractExtra {
  readonly accounts: readonly [string, string];
  readonly domainId: string;
}

export function sieveScriptStoreContract(name: string, subject: ContractSubject<SieveScriptStore, SieveContractExtra>): void {
  describe(`SieveScriptStore contract: ${name}`, () => {
    let store: SieveScriptStore;
    let extra: SieveContractExtra;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      const made = await subject.make();
      ({ subject: store, cleanup } = made);
      extra = made;
    });
    afterEach(async () => cleanup());

    it('stores scripts by name per account, one active at a time', async () => {
      const [a, b] = extra.accounts;
      await store.put(a, 'vacances', 'keep;');
      await store.put(a, 'Règles', 'discard;');
      await store.put(b, 'vacances', 'stop;');
      expect((await store.list(a)).map((s) => [s.name, s.active, s.size])).toEqual([
        ['Règles', false, 8],
        ['vacances', false, 5],
      ]);
      expect(await store.getActive(a)).toBeNull();
      await store.setActive(a, 'vacances');
      await store.setActive(a, 'Règles');
      expect((await store.list(a)).filter((s) => s.active).map((s) => s.name)).toEqual(['Règles']);
      expect((await store.getActive(a))!.content).toBe('discard;');
      expect(await store.getActive(b)).toBeNull();
      // Replacing keeps the active flag.
      const info = await store.put(a, 'Règles', 'keep; stop;');
      expect(info.active).toBe(true);
      expect((await store.get(a, 'Règles'))!.content).toBe('keep; stop;');
      await store.setActive(a, null);
      expect(await store.getActive(a)).toBeNull();
      expect((await store.get(b, 'vacances'))!.content).toBe('stop;');
    });

    it('renames and deletes, refusing the active script and unknown names', async () => {
      const [a] = extra.accounts;
      await store.put(a, 'one', 'keep;');
      await store.put(a, 'two', 'keep;');
      await store.setActive(a, 'one');
      await expectKind(store.delete(a, 'one'), 'conflict');
      await expectKind(store.delete(a, 'nope'), 'not-found');
      await expectKind(store.rename(a, 'one', 'two'), 'conflict');
      await expectKind(store.rename(a, 'nope', 'three'), 'not-found');
      await expectKind(store.setActive(a, 'nope'), 'not-found');
      await store.rename(a, 'one', 'three');
      expect((await store.getActive(a))!.name).toBe('three');
      await store.delete(a, 'two');
      expect((await store.list(a)).map((s) => s.name)).toEqual(['three']);
    });

    it('refuses bad names, oversized scripts and too many scripts, changing nothing', async () => {
      const [a] = extra.accounts;
      await expectKind(store.put(a, '', 'keep;'), 'invalid');
      await expectKind(store.put(a, 'a\nb', 'keep;'), 'invalid');
      await expectKind(store.put(a, 'x'.repeat(129), 'keep;'), 'invalid');
      await expectKind(store.put(a, 'big', 'x'.repeat(256 * 1024 + 1)), 'invalid');
      for (let i = 0; i < MAX_SIEVE_SCRIPTS; i++) await store.put(a, `s${i}`, 'keep;');
      await expectKind(store.put(a, 'one-more', 'keep;'), 'quota');
      await store.put(a, 's0', 'discard;'); // replacing is still allowed
      expect(await store.list(a)).toHaveLength(MAX_SIEVE_SCRIPTS);
    });

    it('keeps one domain script', async () => {
      expect(await store.getDomainScript(extra.domainId)).toBeNull();
      await store.setDomainScript(extra.domainId, 'keep;');
      await store.setDomainScript(extra.domainId, 'require "fileinto"; fileinto "Archive";');
      expect(await store.getDomainScript(extra.domainId)).toBe('require "fileinto"; fileinto "Archive";');
      await store.setDomainScript(extra.domainId, null);
      expect(await store.getDomainScript(extra.domainId)).toBeNull();
    });
  });
}
