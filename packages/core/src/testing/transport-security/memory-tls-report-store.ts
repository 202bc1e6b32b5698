import { checkTlsDay, checkTlsSessionKey } from '../../transport-security/tls-report-rules.js';
import type { TlsReportStore, TlsSessionCount, TlsSessionKey } from '../../transport-security/tls-report-store.js';

export class MemoryTlsReportStore implements TlsReportStore {
  private readonly counts = new Map<string, TlsSessionCount>();

  async count(key: TlsSessionKey, n = 1): Promise<void> {
    const k = checkTlsSessionKey(key, n);
    const id = JSON.stringify([k.day, k.domain, k.policyType, k.policyId, k.resultType, k.receivingMx]);
    this.counts.set(id, { ...k, count: (this.counts.get(id)?.count ?? 0) + n });
  }

  async take(day: string): Promise<TlsSessionCount[]> {
    checkTlsDay(day);
    const out: TlsSessionCount[] = [];
    for (const [id, c] of this.counts) {
      if (c.day !== day) continue;
      out.push(c);
      this.counts.delete(id);
    }
    return out;
  }
}
