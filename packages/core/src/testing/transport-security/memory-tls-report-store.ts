import { checkTlsaPolicy, checkTlsDay, checkTlsSessionKey } from '../../transport-security/tls-report-rules.js';
import type { TlsaPolicy, TlsReportStore, TlsSessionCount, TlsSessionKey } from '../../transport-security/tls-report-store.js';

export class MemoryTlsReportStore implements TlsReportStore {
  private readonly counts = new Map<string, TlsSessionCount>();
  private readonly policies = new Map<string, TlsaPolicy>();

  async count(key: TlsSessionKey, n = 1): Promise<void> {
    const k = checkTlsSessionKey(key, n);
    const id = JSON.stringify([k.day, k.domain, k.policyType, k.policyId, k.resultType, k.receivingMx]);
    this.counts.set(id, { ...k, count: (this.counts.get(id)?.count ?? 0) + n });
  }

  async notePolicy(policy: TlsaPolicy): Promise<void> {
    const p = checkTlsaPolicy(policy);
    const id = `${p.day} ${p.id}`;
    if (!this.policies.has(id)) this.policies.set(id, p);
  }

  async take(day: string): Promise<TlsSessionCount[]> {
    checkTlsDay(day);
    const out: TlsSessionCount[] = [];
    for (const [id, c] of this.counts) {
      if (c.day !== day) continue;
      const tlsa = c.policyType === 'tlsa' ? this.policies.get(`${day} ${c.policyId}`) : undefined;
      out.push(tlsa ? { ...c, tlsa } : c);
      this.counts.delete(id);
    }
    for (const [id, p] of this.policies) if (p.day === day) this.policies.delete(id);
    return out;
  }
}
