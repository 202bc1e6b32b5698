import { checkTlsaPolicy, checkTlsDay, checkTlsSessionKey } from '../../transport-security/tls-report-rules.js';
import type { TlsaPolicy, TlsReportStore, TlsSessionCount, TlsSessionKey } from '../../transport-security/tls-report-store.js';
import type { Database } from '../database.js';
import { returnedRows } from '../returned-rows.js';

interface Row {
  day: string;
  domain: string;
  policy_type: string;
  policy_id: string;
  result_type: string;
  receiving_mx: string;
  count: number | string;
}

export class SqlTlsReportStore implements TlsReportStore {
  constructor(private readonly db: Database) {}

  // One atomic UPSERT: sessions counted by several nodes at once all count.
  async count(key: TlsSessionKey, n = 1): Promise<void> {
    const k = checkTlsSessionKey(key, n);
    await this.db.run(
      (m) =>
        m.query(
          this.db.sql(
            `INSERT INTO tls_report_counts (day, domain, policy_type, policy_id, result_type, receiving_mx, count) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (day, domain, policy_type, policy_id, result_type, receiving_mx) DO UPDATE SET count = tls_report_counts.count + excluded.count`,
          ),
          [k.day, k.domain, k.policyType, k.policyId, k.resultType, k.receivingMx, n],
        ),
      'counting a TLS session',
    );
  }

  // The id is the hash of the records: nodes noting the same policy write the same row, the first one stays.
  async notePolicy(policy: TlsaPolicy): Promise<void> {
    const p = checkTlsaPolicy(policy);
    await this.db.run(
      (m) =>
        m.query(this.db.sql('INSERT INTO tls_report_tlsa_policies (day, policy_id, policy_domain, records) VALUES (?, ?, ?, ?) ON CONFLICT (day, policy_id) DO NOTHING'), [
          p.day,
          p.id,
          p.domain,
          p.records.join('\n'),
        ]),
      'noting a TLSA policy',
    );
  }

  // DELETE … RETURNING in one transaction: two nodes running the daily report never both get a day's counts.
  async take(day: string): Promise<TlsSessionCount[]> {
    const d = checkTlsDay(day);
    const { rows, policies } = await this.db.transaction(
      async (m) => ({
        rows: returnedRows<Row>(await m.query(this.db.sql('DELETE FROM tls_report_counts WHERE day = ? RETURNING day, domain, policy_type, policy_id, result_type, receiving_mx, count'), [d])),
        policies: returnedRows<PolicyRow>(await m.query(this.db.sql('DELETE FROM tls_report_tlsa_policies WHERE day = ? RETURNING day, policy_id, policy_domain, records'), [d])),
      }),
      { what: 'taking the TLS report counts' },
    );
    const byId = new Map(policies.map((p) => [p.policy_id, { day: p.day, id: p.policy_id, domain: p.policy_domain, records: p.records.split('\n') } satisfies TlsaPolicy]));
    return rows.map((r) => ({
      day: r.day,
      domain: r.domain,
      policyType: r.policy_type as TlsSessionCount['policyType'],
      policyId: r.policy_id,
      resultType: r.result_type,
      receivingMx: r.receiving_mx,
      count: Number(r.count),
      ...(r.policy_type === 'tlsa' && byId.has(r.policy_id) ? { tlsa: byId.get(r.policy_id)! } : {}),
    }));
  }
}

interface PolicyRow {
  day: string;
  policy_id: string;
  policy_domain: string;
  records: string;
}
