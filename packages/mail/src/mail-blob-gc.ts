import { silentLogger, type BlobStore, type Logger } from '@palabre/core';

/** Events of the mail blob collector (a closed set, like the IMAP and SMTP ones). */
export const MAIL_GC_LOG_EVENTS = ['mail.gc.done', 'mail.gc.failed'] as const;

/** Which of these blob ids a holder still uses. */
export type BlobReferences = (blobIds: readonly string[]) => Promise<Set<string>>;

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
  readonly now?: Date;
  readonly logger?: Logger;
}

export interface MailGcResult {
  readonly examined: number;
  readonly removed: number;
  readonly bytes: number;
}

const BATCH = 500;

/**
 * Delete mail blobs nothing refers to any more. Blobs are content-addressed and shared (one delivery
 * to many recipients, COPY, the outbound queue), so an EXPUNGE cannot delete its blob; this sweep does,
 * later, asking every holder in batches.
 */
export async function collectMailGarbage(options: MailGcOptions): Promise<MailGcResult> {
  const log = options.logger ?? silentLogger;
  const now = (options.now ?? new Date()).getTime();
  const grace = options.graceMs ?? 60 * 60_000;
  let examined = 0;
  let removed = 0;
  let bytes = 0;
  let batch: { id: string; size: number }[] = [];
  const flush = async () => {
    const ids = batch.map((b) => b.id);
    const used = new Set<string>();
    for (const refs of options.references) for (const id of await refs(ids)) used.add(id);
    for (const b of batch) {
      if (used.has(b.id)) continue;
      await options.blobs.delete(b.id);
      removed++;
      bytes += b.size;
    }
    batch = [];
  };
  try {
    for await (const entry of options.blobs.list()) {
      examined++;
      if (now - entry.modifiedAt.getTime() < grace) continue;
      batch.push({ id: entry.id, size: entry.size });
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length) await flush();
    log.info({ examined, removed, bytes }, 'mail.gc.done');
    return { examined, removed, bytes };
  } catch (error) {
    log.error({ examined, removed, err: (error as Error).message }, 'mail.gc.failed');
    throw error;
  }
}
