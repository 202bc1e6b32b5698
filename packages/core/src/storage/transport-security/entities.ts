import { EntitySchema } from 'typeorm';

/** RFC 8461 policies by recipient domain (mx patterns one per line). */
export interface MtaStsPolicyRow {
  domain: string;
  policyId: string;
  mode: string;
  mx: string;
  maxAge: number;
  fetchedAt: number;
}

export const MtaStsPolicyEntity = new EntitySchema<MtaStsPolicyRow>({
  name: 'MtaStsPolicy',
  tableName: 'mta_sts_policies',
  columns: {
    domain: { type: 'varchar', length: 253, primary: true },
    policyId: { type: 'varchar', length: 32, name: 'policy_id' },
    mode: { type: 'varchar', length: 8 },
    mx: { type: 'text' },
    maxAge: { type: 'integer', name: 'max_age' },
    fetchedAt: { type: 'bigint', name: 'fetched_at' },
  },
});

/** RFC 8460 session counts until the day's report takes them. */
export interface TlsReportCountRow {
  day: string;
  domain: string;
  policyType: string;
  policyId: string;
  resultType: string;
  receivingMx: string;
  count: number;
}

export const TlsReportCountEntity = new EntitySchema<TlsReportCountRow>({
  name: 'TlsReportCount',
  tableName: 'tls_report_counts',
  columns: {
    day: { type: 'varchar', length: 10, primary: true },
    domain: { type: 'varchar', length: 253, primary: true },
    policyType: { type: 'varchar', length: 16, name: 'policy_type', primary: true },
    policyId: { type: 'varchar', length: 32, name: 'policy_id', primary: true },
    resultType: { type: 'varchar', length: 40, name: 'result_type', primary: true },
    receivingMx: { type: 'varchar', length: 253, name: 'receiving_mx', primary: true },
    count: { type: 'integer' },
  },
});

/** RFC 8460 TLSA policies (records one per line) of the day's 'tlsa' counts, until the report takes them. */
export interface TlsaPolicyRow {
  day: string;
  policyId: string;
  policyDomain: string;
  records: string;
}

export const TlsaPolicyEntity = new EntitySchema<TlsaPolicyRow>({
  name: 'TlsaPolicy',
  tableName: 'tls_report_tlsa_policies',
  columns: {
    day: { type: 'varchar', length: 10, primary: true },
    policyId: { type: 'varchar', length: 32, name: 'policy_id', primary: true },
    policyDomain: { type: 'varchar', length: 253, name: 'policy_domain' },
    records: { type: 'text' },
  },
});

export const TRANSPORT_SECURITY_ENTITIES = [MtaStsPolicyEntity, TlsReportCountEntity, TlsaPolicyEntity];
