import { checkStsDomain, checkStsPolicy } from '../../transport-security/mta-sts-policy-rules.js';
import type { MtaStsPolicy, MtaStsPolicyStore } from '../../transport-security/mta-sts-policy-store.js';
import type { Database } from '../database.js';
import { MtaStsPolicyEntity, type MtaStsPolicyRow } from './entities.js';

export class SqlMtaStsPolicyStore implements MtaStsPolicyStore {
  constructor(private readonly db: Database) {}

  async get(domain: string): Promise<MtaStsPolicy | null> {
    const d = checkStsDomain(domain);
    return this.db.run(async (m) => {
      const row = await m.findOne(MtaStsPolicyEntity, { where: { domain: d } });
      return row ? toPolicy(row) : null;
    }, 'reading an MTA-STS policy');
  }

  async put(policy: MtaStsPolicy): Promise<void> {
    const p = checkStsPolicy(policy);
    const row: MtaStsPolicyRow = { domain: p.domain, policyId: p.id, mode: p.mode, mx: p.mx.join('\n'), maxAge: p.maxAge, fetchedAt: p.fetchedAt.getTime() };
    await this.db.transaction(
      async (m) => {
        // Two nodes fetching at once both write; the last one wins, and both wrote a valid policy.
        if (await m.exists(MtaStsPolicyEntity, { where: { domain: p.domain } })) await m.update(MtaStsPolicyEntity, { domain: p.domain }, row);
        else await m.insert(MtaStsPolicyEntity, row);
      },
      { what: 'saving an MTA-STS policy' },
    );
  }

  async delete(domain: string): Promise<void> {
    const d = checkStsDomain(domain);
    await this.db.run((m) => m.delete(MtaStsPolicyEntity, { domain: d }), 'deleting an MTA-STS policy');
  }
}

function toPolicy(row: MtaStsPolicyRow): MtaStsPolicy {
  return {
    domain: row.domain,
    id: row.policyId,
    mode: row.mode as MtaStsPolicy['mode'],
    mx: row.mx ? row.mx.split('\n') : [],
    maxAge: Number(row.maxAge),
    fetchedAt: new Date(Number(row.fetchedAt)),
  };
}
