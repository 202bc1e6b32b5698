import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MtaStsPolicy, MtaStsPolicyStore } from '../../transport-security/mta-sts-policy-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

const T0 = new Date('2026-03-01T08:00:00Z');
const policy = (over: Partial<MtaStsPolicy> = {}): MtaStsPolicy => ({
  domain: 'example.org',
  id: '20260301T1',
  mode: 'enforce',
  mx: ['mail.example.org', '*.mx.example.org'],
  maxAge: 604_800,
  fetchedAt: T0,
  ...over,
});

export function mtaStsPolicyStoreContract(name: string, subject: ContractSubject<MtaStsPolicyStore>): void {
  describe(`MtaStsPolicyStore contract: ${name}`, () => {
    let store: MtaStsPolicyStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('keeps one policy per domain, replaced by the next fetch, case-insensitively', async () => {
      expect(await store.get('example.org')).toBeNull();
      await store.put(policy());
      expect(await store.get('EXAMPLE.org')).toEqual(policy());
      await store.put(policy({ domain: 'Example.ORG', id: 'v2', mode: 'testing', mx: ['MX2.example.org'], maxAge: 86_400, fetchedAt: new Date(T0.getTime() + 1000) }));
      expect(await store.get('example.org')).toEqual(policy({ id: 'v2', mode: 'testing', mx: ['mx2.example.org'], maxAge: 86_400, fetchedAt: new Date(T0.getTime() + 1000) }));
      await store.put(policy({ domain: 'other.example', mode: 'none', mx: [] }));
      await store.delete('example.org');
      expect(await store.get('example.org')).toBeNull();
      expect((await store.get('other.example'))!.mode).toBe('none');
    });

    it('refuses what no policy file can produce, and keeps the old policy', async () => {
      await store.put(policy());
      await expectKind(store.put(policy({ id: 'bad id; drop' })), 'invalid');
      await expectKind(store.put(policy({ id: 'x'.repeat(33) })), 'invalid');
      await expectKind(store.put(policy({ mode: 'always' as never })), 'invalid');
      await expectKind(store.put(policy({ maxAge: 31_557_601 })), 'invalid');
      await expectKind(store.put(policy({ maxAge: -1 })), 'invalid');
      await expectKind(store.put(policy({ mx: ['mail.example.org\r\nevil'] })), 'invalid');
      await expectKind(store.put(policy({ mx: ['*.*.example.org'] })), 'invalid');
      await expectKind(store.put(policy({ mx: Array.from({ length: 65 }, (_, i) => `mx${i}.example.org`) })), 'invalid');
      await expectKind(store.put(policy({ domain: '../etc' })), 'invalid');
      await expectKind(store.get('not a domain'), 'invalid');
      expect(await store.get('example.org')).toEqual(policy());
    });
  });
}
