import type { Context } from '../context.js';
import { periodicJob } from './periodic.js';
import type { Service } from './service.js';

/** Deletion records kept per sync collection. */
export const CHANGE_TOMBSTONES_KEPT = 10_000;

export interface HousekeepingOptions {
  /** How often to run; default 10 minutes. */
  intervalMs?: number;
  /** Deletion records kept per sync collection; default CHANGE_TOMBSTONES_KEPT. */
  changeTombstonesKept?: number;
}

/**
 * Periodic clean-up that no request path should pay for: expired login-failure counters, devices
 * that have not signed in for `auth.knownDeviceMs` and old deletion records of sync collections (once
 * per cluster: the node holding the job's lock), and temp files that writers killed mid-upload left in
 * the blob stores (older than an hour, so no live upload is touched; on every node, since a node's
 * blob folder may be its own).
 */
export async function runHousekeeping(ctx: Context, options: HousekeepingOptions = {}): Promise<void> {
  const now = new Date();
  try {
    await ctx.db.runExclusive('housekeeping', async () => {
      await ctx.stores.throttle.sweep(now, ctx.config.auth.failureWindowMs, ctx.config.auth.knownDeviceMs);
      // Deletion records of sync collections (drive, calendars, address books) are kept, newest first,
      // up to this many per collection; a client holding an older sync token resynchronises.
      const pruned = await ctx.stores.changeLog.pruneTombstones(options.changeTombstonesKept ?? CHANGE_TOMBSTONES_KEPT);
      if (pruned > 0) ctx.logger.info({ collections: pruned }, 'housekeeping.changes-pruned');
    });
    let removed = 0;
    for (const store of Object.values(ctx.blobs)) removed += await store.sweepTemp(60 * 60_000, now.getTime());
    if (removed > 0) ctx.logger.info({ removed }, 'housekeeping.temp-swept');
  } catch (error) {
    ctx.logger.warn({ err: (error as Error).message }, 'housekeeping.failed');
  }
}

/** Housekeeping once at start, then on an interval, never two runs at once. */
export function housekeepingService(ctx: Context, options: HousekeepingOptions = {}): Service {
  return periodicJob('housekeeping', options.intervalMs ?? 10 * 60_000, { background: true, leadership: null }, () => runHousekeeping(ctx, options));
}
