import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TlsReportStore, TlsSessionKey } from '../../transport-security/tls-report-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

const ok: TlsSessionKey = { day: '2026-03-01', domain: 'example.org', policyType: 'sts', policyId: '20260301', resultType: '', receivingMx: 'mx.example.org' };
const sorted = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();

export function tlsReportStoreContract(name: string, subject: ContractSubject<TlsReportStore>): void {
  describe(`TlsReportStore contract: ${name}`, () => {
    let store: TlsReportStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('adds up sessions per day, domain, policy and result, also concurrently, and hands a day out once', async () => {
      await Promise.all(Array.from({ length: 20 }, () => store.count(ok)));
      await store.count({ ...ok, resultType: 'certificate-host-mismatch' }, 3);
      await store.count({ ...ok, domain: 'EXAMPLE.net', policyType: 'no-policy-found', policyId: '', receivingMx: 'MX.example.net' });
      await store.count({ ...ok, day: '2026-03-02' });
      // DANE (RFC 7672) sessions: policy type tlsa, no policy id.
      await store.count({ ...ok, policyType: 'tlsa', policyId: '', resultType: 'tlsa-invalid' }, 2);
      expect(sorted(await store.take('2026-03-01'))).toEqual(
        sorted([
          { ...ok, policyType: 'tlsa', policyId: '', resultType: 'tlsa-invalid', count: 2 },
          { ...ok, count: 20 },
          { ...ok, resultType: 'certificate-host-mismatch', count: 3 },
          { ...ok, domain: 'example.net', policyType: 'no-policy-found', policyId: '', receivingMx: 'mx.example.net', count: 1 },
        ]),
      );
      expect(await store.take('2026-03-01')).toEqual([]);
      expect((await store.take('2026-03-02')).map((c) => c.count)).toEqual([1]);
    });

    it('refuses keys no delivery can produce', async () => {
      await expectKind(store.count({ ...ok, day: '2026-3-1' }), 'invalid');
      await expectKind(store.count({ ...ok, resultType: 'pwned' }), 'invalid');
      await expectKind(store.count({ ...ok, policyType: 'dane' as never }), 'invalid');
      await expectKind(store.count({ ...ok, receivingMx: 'mx\r\nx' }), 'invalid');
      await expectKind(store.count({ ...ok, domain: 'not a domain' }), 'invalid');
      await expectKind(store.count(ok, 0), 'invalid');
      await expectKind(store.take("2026-03-01' OR 1=1"), 'invalid');
      expect(await store.take('2026-03-01')).toEqual([]);
    });
  });
}
