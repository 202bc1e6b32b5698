import type { Envelope } from '../delivery/intake.js';

/** What a filter sees of a message: the envelope and its bytes as received (header, then body). */
export interface FilterInput {
  readonly id: string;
  readonly envelope: Envelope;
  readonly size: number;
  /** A fresh stream of the message each call (filters may run one after another). */
  message(): AsyncIterable<Buffer>;
}

/**
 * A filter's decision. `reject` refuses at SMTP time (5xx), `defer` asks the client to retry (4xx:
 * greylisting, a scanner down with fail-closed), `junk` files the message in the recipients' Junk,
 * `accept` lets it through. `headers` (CRLF-terminated fields) are prepended to the stored copy.
 */
export type FilterVerdict = FilterPass | FilterRefusal;
export interface FilterPass {
  readonly action: 'accept' | 'junk';
  readonly headers?: string;
}
export interface FilterRefusal {
  readonly action: 'reject' | 'defer';
  readonly reason: string;
  /** RFC 3463 enhanced status code. */
  readonly code?: string;
}

/** One step of the intake between the checks and the mailbox: rspamd, ClamAV, later Sieve. */
export interface MessageFilter {
  /** A closed name for logs and metrics (`rspamd`, `clamd`). */
  readonly name: string;
  scan(input: FilterInput): Promise<FilterVerdict>;
}

/** What a scanner that could not answer does: let the message through, or ask the client to retry. */
export type FailMode = 'open' | 'closed';
