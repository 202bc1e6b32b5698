import type { BlobStore, DriveStore, Logger } from '@palabre/core';
import { collectUnreferencedBlobs, silentLogger } from '@palabre/core';

export interface DriveGcOptions {
  store: DriveStore;
  /** The drive's own blob store: every blob in it that no node uses is garbage. Never share it with mail. */
  blobs: BlobStore;
  /** Blobs younger than this are kept (an upload whose metadata is being committed). Default 1 hour. */
  graceMs?: number;
  /** How long trashed blobs wait for their second look (core's DEFAULT_BLOB_SETTLE_MS). */
  settleMs?: number;
  now?: Date;
  logger?: Logger;
}

export interface DriveGcResult {
  readonly examined: number;
  /** Set aside by this run; destroyed by the next unless something refers to them again. */
  readonly trashed: number;
  readonly restored: number;
  readonly removed: number;
  readonly bytes: number;
  readonly tempFiles: number;
}

/**
 * Remove blobs that no drive node references (uploads interrupted by a crash after the bytes were
 * durable, overwritten and deleted files) and temp files left by crashed writers. Safe to run while
 * serving (core's collectUnreferencedBlobs loop, asking the drive store).
 */
export async function collectDriveGarbage(options: DriveGcOptions): Promise<DriveGcResult> {
  const log = options.logger ?? silentLogger;
  const now = (options.now ?? new Date()).getTime();
  const grace = options.graceMs ?? 60 * 60_000;
  try {
    const tempFiles = await options.blobs.sweepTemp(grace, now);
    const result = await collectUnreferencedBlobs({
      blobs: options.blobs,
      references: [(ids) => options.store.referencedBlobs(ids)],
      graceMs: grace,
      ...(options.settleMs === undefined ? {} : { settleMs: options.settleMs }),
      now,
      batch: 1000,
    });
    log.info({ ...result, tempFiles }, 'drive.gc.done');
    return { ...result, tempFiles };
  } catch (error) {
    log.error({ error: (error as Error).message }, 'drive.gc.failed');
    throw error;
  }
}
