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

export const TRANSPORT_SECURITY_ENTITIES = [MtaStsPolicyEntity];
