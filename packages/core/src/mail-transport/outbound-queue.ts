/**
 * The durable queue of mail that has been accepted (250 sent) but not yet handed on: to remote MX
 * hosts or a smarthost (`smtp` jobs), or to local mailboxes whose delivery failed transiently, such as a
 * full mailbox (`local` jobs). It lives in the database so that it survives restarts and is shared by
 * every node: a job is leased by one worker at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the
 * database write lock on SQLite), and a worker that dies loses its lease when it expires.
 */

export type OutboundTransport = 'smtp' | 'local';

/** RFC 3461 NOTIFY values; absent means the default (FAILURE). */
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

/**
 * RFC 8689 on a queued message: `requiretls` (MAIL FROM … REQUIRETLS): every hop over TLS with an
 * authenticated server that offers REQUIRETLS, else a bounce; `tls-required-no` (a `TLS-Required: No`
 * field from the sender): deliver even where the recipient's MTA-STS policy would refuse.
 */
export type TlsPolicy = 'requiretls' | 'tls-required-no';

export interface NewOutboundRecipient {
  /** The envelope recipient (for `local`, the account id goes in `accountId`). */
  readonly address: string;
  /** Account to deliver to, for `local` jobs. */
  readonly accountId?: string | null;
  /** RFC 3461 ORCPT, as received (`rfc822;addr`). */
  readonly orcpt?: string | null;
  readonly notify?: readonly DsnNotify[] | null;
}

export interface NewOutboundMessage {
  /** Message bytes exactly as they will be sent (signed), durable in the BlobStore. */
  readonly blobId: string;
  readonly size: number;
  /** Envelope sender; '' for the null reverse-path (bounces are never bounced). */
  readonly sender: string;
  /** RFC 3461 ENVID and RET. */
  readonly envId?: string | null;
  readonly ret?: 'FULL' | 'HDRS' | null;
  readonly tlsPolicy?: TlsPolicy | null;
  /** The submitting account, if any (for per-user listings). */
  readonly accountId?: string | null;
  /** True when the blob belongs to the queue alone and may be deleted once the message is done. */
  readonly ownsBlob: boolean;
  readonly transport: OutboundTransport;
  readonly recipients: readonly NewOutboundRecipient[];
  /** Give up (and bounce) deferred recipients after this. */
  readonly expiresAt: Date;
  /** When the first attempt may run (default now). */
  readonly notBefore?: Date;
}

export type RecipientStatus = 'pending' | 'delivered' | 'failed';

export interface OutboundRecipient {
  readonly address: string;
  readonly accountId: string | null;
  readonly orcpt: string | null;
  readonly notify: readonly DsnNotify[] | null;
  readonly status: RecipientStatus;
  /** Last SMTP reply (or local outcome) for this recipient. */
  readonly code: number | null;
  readonly enhanced: string | null;
  readonly diagnostic: string | null;
  readonly remoteMta: string | null;
}

export interface OutboundMessage {
  readonly id: string;
  readonly blobId: string;
  readonly size: number;
  readonly sender: string;
  readonly envId: string | null;
  readonly ret: 'FULL' | 'HDRS' | null;
  readonly tlsPolicy: TlsPolicy | null;
  readonly accountId: string | null;
  readonly ownsBlob: boolean;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

/** One delivery attempt's unit: the recipients of one message at one destination domain. */
export interface OutboundJob {
  readonly id: string;
  readonly message: OutboundMessage;
  readonly transport: OutboundTransport;
  /** Destination domain (A-label), or '' for local jobs. */
  readonly domain: string;
  /** Attempts made before this one. */
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastError: string | null;
  /** Only the recipients still pending. */
  readonly recipients: readonly OutboundRecipient[];
}

/** A job leased to one worker until `leaseUntil`; hand `lease` back to complete it. */
export interface ClaimedJob extends OutboundJob {
  readonly lease: string;
  readonly leaseUntil: Date;
}

export interface RecipientOutcome {
  readonly address: string;
  /** delivered / failed are final; pending means try again at `retryAt`. */
  readonly status: RecipientStatus;
  readonly code?: number | null;
  readonly enhanced?: string | null;
  readonly diagnostic?: string | null;
  readonly remoteMta?: string | null;
}

export interface JobCompletion {
  readonly outcomes: readonly RecipientOutcome[];
  /** When pending recipients are tried again; required if any outcome is pending. */
  readonly retryAt?: Date | null;
  /** Summary of the attempt for listings (never message content). */
  readonly error?: string | null;
  /** The blob is now referenced elsewhere (filed in a mailbox): the queue must never release it. */
  readonly keepBlob?: boolean;
  /** Enqueued in the same transaction (a DSN about this job): all or nothing. */
  readonly enqueue?: readonly NewOutboundMessage[];
}

export interface CompletionResult {
  /** False when the lease was lost (expired and taken by another worker): nothing was changed. */
  readonly applied: boolean;
  /** True when this completed the message's last job: the message is gone from the queue. */
  readonly messageDone: boolean;
  /** The message's blob id when messageDone and the queue owned it: the caller deletes the blob. */
  readonly releasedBlobId: string | null;
}

export interface QueueSummary {
  readonly messages: number;
  readonly jobs: number;
  readonly dueNow: number;
  readonly oldest: Date | null;
}

export interface OutboundQueue {
  /** Store a message and one job per destination (domain for smtp, one for local), atomically. */
  enqueue(message: NewOutboundMessage): Promise<OutboundMessage>;
  /**
   * Lease up to `limit` due jobs for `leaseMs`. Two workers (on any nodes) never hold the same job; a
   * job whose lease expired (a crashed worker) is due again.
   */
  claim(worker: string, options: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedJob[]>;
  /** Record an attempt's outcome. Recipients not named keep their state. */
  complete(job: ClaimedJob, completion: JobCompletion, now: Date): Promise<CompletionResult>;
  /** Give a lease back without an attempt (shutdown): the job is due again at `retryAt`. */
  release(job: ClaimedJob, retryAt: Date): Promise<void>;
  /** When the earliest queued job is due (or its lease ends); null when the queue is empty. */
  nextDue(): Promise<Date | null>;
  /** Jobs still queued, oldest first (administration). */
  list(options?: { limit?: number; accountId?: string }): Promise<OutboundJob[]>;
  summary(now: Date): Promise<QueueSummary>;
  /** Make every queued job due now (administration: "flush"). Returns how many. */
  flush(now: Date): Promise<number>;
  /** Which of these blob ids queued messages still hold (for the mail blob collector). */
  referencedBlobs(blobIds: readonly string[]): Promise<Set<string>>;
}
