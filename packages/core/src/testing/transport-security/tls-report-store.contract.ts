import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tlsaPolicyId } from '../../transport-security/tls-report-rules.js';
import type { TlsaPolicy, TlsReportStore, TlsSessionKey } from '../../transport-security/tls-report-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

const ok: TlsSessionKey = { day: '2026-03-01', domain: 'example.org', policyType: 'sts', policyId: '20260301', resultType: '', receivingMx: 'mx.example.org' };
const sorted = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();
const records = ['3 1 1 ' + 'AB'.repeat(32), '2 0 1 ' + '0F'.repeat(32)];
const tlsa: TlsaPolicy = { day: '2026-03-01', id: tlsaPolicyId('mx.example.org', records), domain: 'mx.example.org', records };

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

    it('keeps the TLSA records a day\'s tlsa counts refer to, once, and hands them out with the day', async () => {
      // The same record set in another order, from several nodes at once: one policy, one id.
      expect(tlsaPolicyId('MX.example.org', [...records].reverse())).toBe(tlsa.id);
      await Promise.all([store.notePolicy(tlsa), store.notePolicy(tlsa), store.notePolicy({ ...tlsa, records: [...records].reverse() })]);
      const other = { ...tlsa, day: '2026-03-02' };
      await store.notePolicy(other);
      await store.count({ ...ok, policyType: 'tlsa', policyId: tlsa.id }, 4);
      await store.count({ ...ok, policyType: 'tlsa', policyId: tlsa.id, resultType: 'tlsa-invalid' });
      await store.count({ ...ok, policyType: 'tlsa', policyId: '', resultType: 'dnssec-invalid' });
      await store.count({ ...other, ...ok, day: '2026-03-02', policyType: 'tlsa', policyId: tlsa.id });
      const day = await store.take('2026-03-01');
      const withPolicy = day.filter((c) => c.tlsa);
      expect(withPolicy.map((c) => c.count).sort()).toEqual([1, 4]);
      for (const c of withPolicy) {
        expect(c.tlsa!.id).toBe(tlsa.id);
        expect(c.tlsa!.domain).toBe('mx.example.org');
        expect([...c.tlsa!.records].sort()).toEqual([...records].sort());
      }
      expect(day.find((c) => c.resultType === 'dnssec-invalid')!.tlsa).toBeUndefined();
      // The next day keeps its own copy; a taken day has none left.
      expect((await store.take('2026-03-02'))[0]!.tlsa!.id).toBe(tlsa.id);
      await store.count({ ...ok, policyType: 'tlsa', policyId: tlsa.id });
      expect((await store.take('2026-03-01'))[0]!.tlsa).toBeUndefined();
    });

    it('refuses TLSA policies no DNS answer can produce', async () => {
      const bad = (p: Partial<TlsaPolicy>) => store.notePolicy({ ...tlsa, ...p });
      await expectKind(bad({ id: 'a'.repeat(32) }), 'invalid');
      await expectKind(bad({ records: ['3 1 1 ABCD', "3 1 1 AB'); DROP TABLE tls_report_counts; --"] }), 'invalid');
      await expectKind(bad({ records: ['3 1 1 ABC'] }), 'invalid');
      await expectKind(bad({ records: ['256 1 1 AB'] }), 'invalid');
      await expectKind(bad({ records: ['3 1 1 AB\n3 1 1 CD'] }), 'invalid');
      await expectKind(bad({ records: ['3 1 1 ' + 'AB'.repeat(9000)] }), 'invalid');
      await expectKind(bad({ records: Array.from({ length: 17 }, (_, i) => `3 1 1 ${i.toString(16).padStart(2, '0')}`) }), 'invalid');
      await expectKind(bad({ records: [] }), 'invalid');
      await expectKind(bad({ domain: 'not a domain' }), 'invalid');
      await expectKind(bad({ day: '2026-13-01' }), 'invalid');
      await store.count({ ...ok, policyType: 'tlsa', policyId: tlsa.id });
      expect((await store.take('2026-03-01'))[0]!.tlsa).toBeUndefined();
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
