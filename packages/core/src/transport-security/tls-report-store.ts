/**
 * RFC 8460 (SMTP TLS Reporting): outbound TLS sessions counted per UTC day, recipient domain, policy
 * and result, shared by every node, until the daily report takes them. `resultType` is '' for a
 * successful session, else an RFC 8460 §4.3 result type.
 */
export interface TlsSessionKey {
  /** UTC day, `YYYY-MM-DD`. */
  readonly day: string;
  /** The policy domain (the recipient domain, A-label). */
  readonly domain: string;
  /** RFC 8460 §4.4: 'tlsa' for a session under DANE (RFC 7672), 'sts' under MTA-STS. */
  readonly policyType: 'sts' | 'tlsa' | 'no-policy-found';
  /** The MTA-STS policy id, or for 'tlsa' the id of its `TlsaPolicy` (`tlsaPolicyId`); '' without one. */
  readonly policyId: string;
  readonly resultType: string;
  /** The MX host the session was with ('' for a policy fetch failure). */
  readonly receivingMx: string;
}

export interface TlsSessionCount extends TlsSessionKey {
  readonly count: number;
  /** For a 'tlsa' count: the TLSA records the sessions were checked against, when they were noted. */
  readonly tlsa?: TlsaPolicy;
}

/**
 * RFC 8460 §4.4 for a DANE session: the TLSA base domain (RFC 7672 §2.2.3) and its usable TLSA records in
 * presentation format (`3 1 1 <hex>`), which the report quotes as its `policy-string`. Kept apart from the
 * counts, once per day and policy, since a record set does not fit in a key column.
 */
export interface TlsaPolicy {
  readonly day: string;
  /** `tlsaPolicyId(domain, records)`. */
  readonly id: string;
  readonly domain: string;
  readonly records: readonly string[];
}

export interface TlsReportStore {
  /** Add `n` sessions (atomic across nodes). */
  count(key: TlsSessionKey, n?: number): Promise<void>;
  /** Keep a TLSA policy the day's 'tlsa' counts refer to (noting it again changes nothing). */
  notePolicy(policy: TlsaPolicy): Promise<void>;
  /** Remove and return the day's counts, with their TLSA policies: only one node gets them, so one report goes out. */
  take(day: string): Promise<TlsSessionCount[]>;
}
