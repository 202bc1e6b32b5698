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
 */
export function periodicJob(name: string, intervalMs: number, setup: { background: boolean; leadership: JobLeadership | null }, job: () => Promise<unknown>): Service {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  const run = () => {
    if (running) return;
    running = (setup.leadership ? setup.leadership.runExclusive(name, job) : job())
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
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
    banner: () => [],
  };
}
