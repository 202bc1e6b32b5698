/**
 * Why the mail pipeline refuses a message, as a type: the pipeline says what happened and the adapter
 * in front of it says it in its own protocol (SMTP replies: `toSmtpError` in smtp/smtp-error.ts, the one
 * table of codes). `permanent` is the pipeline's call: the sender's MTA retries a transient refusal.
 */
export type RejectionKind =
  /** A submitter writing another person's address in From:/Sender:. */
  | 'not-your-address'
  /** An originator field that cannot be read one way only (RFC 5322 §3.6.2). */
  | 'malformed-originator'
  /** The sender domain's DMARC policy says reject. */
  | 'authentication-policy'
  /** Every recipient's Sieve script rejects it (RFC 5429). */
  | 'refused-by-recipient'
  | 'mailbox-full'
  /** A remote recipient without a submitter to relay for. */
  | 'relay-denied'
  /** A content filter (spam, malware) refuses or defers it; `enhanced` is the filter's own code if any. */
  | 'filtered'
  /** SPF/DKIM/DMARC could not be evaluated now. */
  | 'checks-unavailable';

export class MessageRejection extends Error {
  readonly permanent: boolean;
  /** An RFC 3463 code the refusing party chose (a filter's), kept over the kind's default. */
  readonly enhanced: string | null;

  constructor(
    readonly kind: RejectionKind,
    readonly reason: string,
    options: { permanent?: boolean; enhanced?: string | null; cause?: unknown } = {},
  ) {
    super(reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MessageRejection';
    this.permanent = options.permanent ?? true;
    this.enhanced = options.enhanced ?? null;
  }
}
