import type { BlobStore, DriveStore, Logger } from '@palabre/core';
import { silentLogger } from '@palabre/core';

export interface DriveGcOptions {
  store: DriveStore;
  /** The drive's own blob store: every blob in it that no node uses is garbage. Never share it with mail. */
  blobs: BlobStore;
  /** Blobs younger than this are kept (an upload whose metadata is being committed). Default 1 hour. */
  graceMs?: number;
  now?: Date;
  logger?: Logger;
}

export interface DriveGcResult {
  readonly examined: number;
  readonly removed: number;
  readonly bytes: number;
  readonly tempFiles: number;
}

const BATCH = 1000;

/**
 * Remove blobs that no drive node references (uploads interrupted by a crash after the bytes were
 * durable, overwritten and deleted files) and temp files left by crashed writers. Safe to run while serving.
 */
export async function collectDriveGarbage(options: DriveGcOptions): Promise<DriveGcResult> {
  const log = options.logger ?? silentLogger;
  const now = (options.now ?? new Date()).getTime();
  const grace = options.graceMs ?? 60 * 60_000;
  let examined = 0;
  let removed = 0;
  let bytes = 0;
  try {
    const sweep = (options.blobs as { sweepTemp?: (olderThanMs: number, now: number) => Promise<number> }).sweepTemp;
    const tempFiles = sweep ? await sweep.call(options.blobs, grace, now) : 0;
    let batch: { id: string; size: number }[] = [];
    const flush = async () => {
      const used = await options.store.referencedBlobs(batch.map((b) => b.id));
      for (const b of batch) {
        if (used.has(b.id)) continue;
        await options.blobs.delete(b.id);
        removed++;
        bytes += b.size;
      }
      batch = [];
    };
    for await (const entry of options.blobs.list()) {
      examined++;
      if (now - entry.modifiedAt.getTime() < grace) continue;
      batch.push({ id: entry.id, size: entry.size });
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length) await flush();
    log.info({ examined, removed, bytes, tempFiles }, 'drive.gc.done');
    return { examined, removed, bytes, tempFiles };
  } catch (error) {
    log.error({ examined, removed, error: (error as Error).message }, 'drive.gc.failed');
    throw error;
  }
}
