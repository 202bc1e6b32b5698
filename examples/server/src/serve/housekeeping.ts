import type { Context } from '../context.js';
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
 * that have not signed in for `auth.knownDeviceMs`, old deletion records of sync collections, and temp
 * files that writers killed mid-upload left in the blob store (older than an hour, so no live upload
 * is touched). Runs once at start, then on an interval, never twice at the same time.
 */
export class HousekeepingService implements Service {
  readonly name = 'housekeeping';
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly ctx: Context,
    private readonly options: HousekeepingOptions = {},
  ) {}

  async runOnce(): Promise<void> {
    const { ctx } = this;
    const now = new Date();
    try {
      await ctx.stores.throttle.sweep(now, ctx.config.auth.failureWindowMs, ctx.config.auth.knownDeviceMs);
      // Deletion records of sync collections (drive, calendars, address books) are kept, newest first, up
      // to this many per collection; a client holding an older sync token resynchronises.
      const pruned = await ctx.stores.changeLog.pruneTombstones(this.options.changeTombstonesKept ?? CHANGE_TOMBSTONES_KEPT);
      if (pruned > 0) ctx.logger.info({ collections: pruned }, 'housekeeping.changes-pruned');
      let removed = 0;
      for (const store of Object.values(ctx.blobs)) removed += await store.sweepTemp(60 * 60_000, now.getTime());
      if (removed > 0) ctx.logger.info({ removed }, 'housekeeping.temp-swept');
    } catch (error) {
      ctx.logger.warn({ err: (error as Error).message }, 'housekeeping.failed');
    }
  }

  async start(): Promise<void> {
    const tick = () => {
      if (this.running) return;
      this.running = this.runOnce().finally(() => {
        this.running = null;
      });
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? 10 * 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  banner(): string[] {
    return [];
  }
}
