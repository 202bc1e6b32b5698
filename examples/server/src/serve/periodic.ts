import type { Service } from './service.js';

/**
 * A background job as a service: run once at start and then every `intervalMs`, never two runs at
 * once, only in the process that runs background jobs (one per node), waited for on shutdown. A failing
 * run is left to the job's own logging; the next one tries again.
 */
export function periodicJob(name: string, intervalMs: number, background: boolean, job: () => Promise<unknown>): Service {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  const run = () => {
    if (running) return;
    running = job()
      .catch(() => undefined)
      .finally(() => {
        running = null;
      });
  };
  return {
    name,
    async start() {
      if (!background) return;
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
