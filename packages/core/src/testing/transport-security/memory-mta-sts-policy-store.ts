import { checkStsDomain, checkStsPolicy } from '../../transport-security/mta-sts-policy-rules.js';
import type { MtaStsPolicy, MtaStsPolicyStore } from '../../transport-security/mta-sts-policy-store.js';

export class MemoryMtaStsPolicyStore implements MtaStsPolicyStore {
  private readonly policies = new Map<string, MtaStsPolicy>();

  async get(domain: string): Promise<MtaStsPolicy | null> {
    const p = this.policies.get(checkStsDomain(domain));
    return p ? { ...p, mx: [...p.mx], fetchedAt: new Date(p.fetchedAt.getTime()) } : null;
  }

  async put(policy: MtaStsPolicy): Promise<void> {
    const p = checkStsPolicy(policy);
    this.policies.set(p.domain, p);
  }

  async delete(domain: string): Promise<void> {
    this.policies.delete(checkStsDomain(domain));
  }
}
