import { collectUnreferencedBlobs, silentLogger, type BlobReferences, type BlobStore, type Logger } from '@palabre/core';

/** Events of the mail blob collector (a closed set, like the IMAP and SMTP ones). */
export const MAIL_GC_LOG_EVENTS = ['mail.gc.done', 'mail.gc.failed'] as const;

export interface MailGcOptions {
  /** The mail blob store (never one another feature shares). */
  readonly blobs: BlobStore;
  /**
   * Everything that may hold a mail blob: the mailbox store (`MailStore.referencedBlobs`), the
   * outbound queue… A blob is deleted only when none of them uses it.
   */
  readonly references: readonly BlobReferences[];
  /** Blobs younger than this are left alone: a delivery or APPEND writes the blob before its row (default 1 h). */
  readonly graceMs?: number;
  /** How long trashed blobs wait for their second look (core's DEFAULT_BLOB_SETTLE_MS). */
  readonly settleMs?: number;
  readonly now?: Date;
  readonly logger?: Logger;
}

export interface MailGcResult {
  readonly examined: number;
  /** Set aside by this run; destroyed by the next unless something refers to them again. */
  readonly trashed: number;
  readonly restored: number;
  readonly removed: number;
  readonly bytes: number;
}

/**
 * Delete mail blobs nothing refers to any more. Blobs are content-addressed and shared (one delivery
 * to many recipients, COPY, the outbound queue), so an EXPUNGE cannot delete its blob; this sweep does,
 * later, asking every holder (core's collectUnreferencedBlobs loop).
 */
export async function collectMailGarbage(options: MailGcOptions): Promise<MailGcResult> {
  const log = options.logger ?? silentLogger;
  try {
    const result = await collectUnreferencedBlobs({
      blobs: options.blobs,
      references: options.references,
      graceMs: options.graceMs ?? 60 * 60_000,
      ...(options.settleMs === undefined ? {} : { settleMs: options.settleMs }),
      now: (options.now ?? new Date()).getTime(),
    });
    log.info({ ...result }, 'mail.gc.done');
    return result;
  } catch (error) {
    log.error({ err: (error as Error).message }, 'mail.gc.failed');
    throw error;
  }
}
