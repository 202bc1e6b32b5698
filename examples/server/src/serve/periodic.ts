import { DEFAULT_BLOB_SETTLE_MS } from '@palabre/core';
import type { Service } from './service.js';

/** Who may run a background job now: `ctx.db` (one run per cluster, see Database.runExclusive). */
export interface JobLeadership {
  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
}

/**
 * A background job as a service: run once at start and then every `intervalMs`, never two runs at
 * once, only in the process that runs background jobs (one per node) and, among the nodes sharing a
 * database, only on the one holding the job's lock at that moment; waited for on shutdown. A failing
 * run is left to the job's own logging; the next one tries again (on whichever node gets the lock).
 * `leadership: null`: the job runs on every node (it takes the locks it needs itself).
 * `again`: asked after each run that completed here; a delay in ms schedules one extra run then (the
 * blob collectors' second look, due `settleMs` after the first, instead of at the next hourly run).
 */
export function periodicJob<T>(
  name: string,
  intervalMs: number,
  setup: { background: boolean; leadership: JobLeadership | null; again?: (result: T) => number | null },
  job: () => Promise<T>,
): Service {
  let timer: NodeJS.Timeout | null = null;
  let extra: NodeJS.Timeout | null = null;
  let stopped = false;
  let running: Promise<unknown> | null = null;
  const run = () => {
    if (running) return;
    running = (setup.leadership ? setup.leadership.runExclusive(name, job) : job().then((value) => ({ ran: true as const, value })))
      .then((outcome) => {
        const delay = outcome.ran && setup.again ? setup.again(outcome.value) : null;
        if (delay === null || stopped || extra) return;
        extra = setTimeout(() => {
          extra = null;
          run();
        }, delay);
        extra.unref();
      })
      .catch(() => undefined)
      .finally(() => {
        running = null;
      });
  };
  return {
    name,
    async start() {
      if (!setup.background) return;
      run();
      timer = setInterval(run, intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      if (extra) clearTimeout(extra);
      timer = extra = null;
      await running;
    },
    banner: () => [],
  };
}

/**
 * `again` for the blob collectors: a run that trashed blobs is followed by one more just after they have
 * settled, so that an orphan is destroyed minutes after it is found, not an interval later.
 */
export function afterSettling(result: { trashed: number }): number | null {
  return result.trashed > 0 ? DEFAULT_BLOB_SETTLE_MS + 5_000 : null;
}
