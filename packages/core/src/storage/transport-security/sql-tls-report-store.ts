import { checkTlsDay, checkTlsSessionKey } from '../../transport-security/tls-report-rules.js';
import type { TlsReportStore, TlsSessionCount, TlsSessionKey } from '../../transport-security/tls-report-store.js';
import type { Database } from '../database.js';

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

  // DELETE … RETURNING: two nodes running the daily report never both get a day's counts.
  async take(day: string): Promise<TlsSessionCount[]> {
    const d = checkTlsDay(day);
    const result: unknown = await this.db.run(
      (m) => m.query(this.db.sql('DELETE FROM tls_report_counts WHERE day = ? RETURNING day, domain, policy_type, policy_id, result_type, receiving_mx, count'), [d]),
      'taking the TLS report counts',
    );
    // PostgreSQL's driver answers a DELETE with [rows, affected]; SQLite's with the rows.
    const rows = (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : Array.isArray(result) ? result : []) as Row[];
    return rows.map((r) => ({
      day: r.day,
      domain: r.domain,
      policyType: r.policy_type as TlsSessionCount['policyType'],
      policyId: r.policy_id,
      resultType: r.result_type,
      receivingMx: r.receiving_mx,
      count: Number(r.count),
    }));
  }
}
