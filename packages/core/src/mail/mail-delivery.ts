/**
 * The seam between SMTP intake and the mailbox store. SMTP writes the message bytes to the BlobStore,
 * analyses them once (headers, envelope, body structure — done by @palabre/mail), then asks the store
 * to file the message for each local recipient. The mailbox store (MailStore, which extends this)
 * implements it over the database.
 */

/** What the mail package's MIME analysis produces; stored with the message so IMAP never re-parses it. */
export interface MessageAnalysis {
  /** Length in bytes of the header section, including the blank line that ends it. */
  readonly headerBytes: number;
  /** Structured data the IMAP layer needs (ENVELOPE, BODYSTRUCTURE, search fields), JSON-serialisable. */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface MessageToDeliver {
  /** The full message as it will be served (our trace headers included), durable in the BlobStore. */
  readonly blobId: string;
  readonly size: number;
  readonly receivedAt: Date;
  readonly analysis: MessageAnalysis;
  /**
   * Identifies one transaction independently of our trace headers (SMTP: envelope, Message-ID and the
   * bytes the client sent; the queue: its message id): a client retrying after a lost 250 must not get
   * a second copy, so a delivery whose key was already delivered to an account within
   * `dedupeWindowMs` returns the earlier result. Only what is provably a retry may carry a key: a
   * delivery that finds its key gets no new message.
   */
  readonly dedupeKey?: string;
  /** How long the key counts (default and at most `DEDUPE_WINDOW_MS`, 7 days). */
  readonly dedupeWindowMs?: number;
  /** The raw header section (`analysis.headerBytes` long) when the caller has it, so it is not read back. */
  readonly header?: Uint8Array | null;
}

export interface DeliveryTarget {
  readonly accountId: string;
  /** Mailbox name; default INBOX. A special-use name (`\\Junk`, `\\Sent`) picks that mailbox. */
  readonly mailbox?: string;
  readonly flags?: readonly string[];
}

export interface DeliveryResult {
  readonly accountId: string;
  readonly mailboxId: string;
  readonly uid: number;
  /** True when this was a retry of an already-filed submission (nothing new was stored). */
  readonly duplicate: boolean;
}

export interface MailDelivery {
  /**
   * File one message for every target atomically: either every recipient has it (metadata rows that
   * share the one blob, UIDs assigned, usage counted) or none does. QuotaExceededError names the
   * account that is full; the caller decides per recipient (452/552) and retries the others.
   * Resolves only once durable; notifies IDLE sessions after commit.
   */
  deliver(message: MessageToDeliver, targets: readonly DeliveryTarget[]): Promise<DeliveryResult[]>;
}
