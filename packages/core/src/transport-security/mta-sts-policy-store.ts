/**
 * RFC 8461 §5.1: a recipient domain's MTA-STS policy as last fetched, kept until its max_age runs
 * out. It lives in the database so that every node delivers under the same policy: an attacker who
 * blocks the policy host later cannot make one node forget what another learnt.
 */
export interface MtaStsPolicy {
  /** The recipient domain (A-label, lower case). */
  readonly domain: string;
  /** The `id=` of the `_mta-sts` TXT record the policy was fetched for (1–32 letters and digits). */
  readonly id: string;
  readonly mode: 'enforce' | 'testing' | 'none';
  /** `mx:` patterns: a host name, or `*.` and a domain (one label). */
  readonly mx: readonly string[];
  /** `max_age` in seconds (at most 31,557,600). */
  readonly maxAge: number;
  readonly fetchedAt: Date;
}

export interface MtaStsPolicyStore {
  get(domain: string): Promise<MtaStsPolicy | null>;
  /** Replace the domain's policy. */
  put(policy: MtaStsPolicy): Promise<void>;
  delete(domain: string): Promise<void>;
}
