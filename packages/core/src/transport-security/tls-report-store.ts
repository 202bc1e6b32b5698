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
  /** The MTA-STS policy id ('' without one). */
  readonly policyId: string;
  readonly resultType: string;
  /** The MX host the session was with ('' for a policy fetch failure). */
  readonly receivingMx: string;
}

export interface TlsSessionCount extends TlsSessionKey {
  readonly count: number;
}

export interface TlsReportStore {
  /** Add `n` sessions (atomic across nodes). */
  count(key: TlsSessionKey, n?: number): Promise<void>;
  /** Remove and return the day's counts: only one node gets them, so one report goes out. */
  take(day: string): Promise<TlsSessionCount[]>;
}
