import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger, PalabreConfig } from '@palabre/core';
import { adminService, startServer, stopSignal } from '../commands/serve.js';
import type { Service } from './service.js';
import { isLoopbackHost } from '../config.js';
import { openContext, type Context } from '../context.js';
import type { LogFormat } from '../log-output.js';
import type { Output } from '../output.js';
import { ensureDemoAccount } from './demo.js';
import { IpcNotifier, isNotifyMessage } from './ipc-notifier.js';
import { loadTls } from './tls.js';

/**
 * `palabre serve --workers N`: N processes share every listening port (Node's cluster module), so a
 * node uses all its cores for TLS, HTTP, SMTP and IMAP. The primary prepares what must happen once
 * (migrations, the demo account, the self-signed certificate), prints the connection details, relays
 * change notifications between workers when the database is SQLite, restarts a worker that dies, and
 * stops them all on SIGTERM/SIGINT. Worker 1 also runs the periodic background jobs.
 */

type ToPrimary = { palabre: 'ready'; banner: string[] } | { palabre: 'failed'; error: string };

const RESTART_DELAY_MS = 1000;

export function workerCount(config: PalabreConfig): number {
  return config.workers === 0 ? availableParallelism() : config.workers;
}

export async function runPrimary(ctx: Context, io: Output, count: number, logFormat: LogFormat): Promise<number> {
  const { config, logger } = ctx;
  const stopRequested = stopSignal(logger);
  // Done once here, so that N workers do not race to create them.
  if (Boolean(config.tls.certFile) || !isLoopbackHost(config.host) || config.ports.smtp || config.ports.submission || config.ports.imap) {
    await loadTls(config);
  }
  await ensureDemoAccount(ctx);
  // The admin listener lives here, not in the workers (which share ports round-robin: a scrape would
  // reach one of them): it asks every worker for its series and adds them up (prom-client's cluster
  // aggregation, by each metric's `aggregate`), and checks readiness on the primary's own connection.
  let admin: Service | null = null;
  if (config.admin.port !== 0) {
    const { default: client } = await import('prom-client');
    const aggregator = new client.AggregatorRegistry();
    admin = await adminService(ctx, { scrape: () => aggregator.clusterMetrics(), contentType: aggregator.contentType });
    await admin.start().catch((error: unknown) => {
      throw new Error(`cannot start admin: ${(error as Error).message}`);
    });
  } else {
    await ctx.close();
  }

  let stopping = false;
  const workers = new Map<Worker, number>();
  // `systemctl reload` signals the primary only: each worker reloads its own certificates.
  const relayHangup = () => {
    for (const worker of workers.keys()) worker.process.kill('SIGHUP');
  };
  process.on('SIGHUP', relayHangup);
  const fork = (index: number) => {
    // Workers write to the same stdout as the primary: they take its log format.
    const worker = cluster.fork({ PALABRE_WORKER_INDEX: String(index), PALABRE_LOG_FORMAT: logFormat });
    workers.set(worker, index);
    worker.on('message', (message: unknown) => {
      // Relay change notifications to every other worker (SQLite has no LISTEN/NOTIFY).
      if (!isNotifyMessage(message)) return;
      for (const other of workers.keys()) if (other !== worker && other.isConnected()) other.send(message);
    });
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      if (stopping) return;
      logger.error({ worker: index, code, signal }, 'server.worker-died');
      setTimeout(() => {
        if (!stopping) fork(index);
      }, RESTART_DELAY_MS).unref();
    });
    return worker;
  };

  const ready = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const worker = fork(i + 1);
      return new Promise<ToPrimary>((resolve) => {
        const onMessage = (message: ToPrimary) => {
          if (message?.palabre === 'ready' || message?.palabre === 'failed') {
            worker.off('message', onMessage);
            resolve(message);
          }
        };
        worker.on('message', onMessage);
        worker.once('exit', (code) => resolve({ palabre: 'failed', error: `worker exited with code ${code}` }));
      });
    }),
  );
  const failure = ready.find((r) => r.palabre === 'failed');
  if (failure && failure.palabre === 'failed') {
    stopping = true;
    await admin?.stop(1000);
    for (const worker of workers.keys()) worker.kill('SIGTERM');
    throw new Error(failure.error);
  }
  const first = ready[0] as { banner: string[] };
  const banner = [...first.banner];
  if (admin) {
    // After the workers' lines, before the blank line and the sign-in details.
    const at = banner.findIndex((line, i) => i > 1 && !line.startsWith('  '));
    banner.splice(at < 0 ? banner.length : at, 0, ...admin.banner().map((line) => `  ${line}`));
  }
  for (const line of banner) io.out(line.replace('Palabre is running.', `Palabre is running (${count} worker processes).`));

  await stopRequested;
  process.off('SIGHUP', relayHangup);
  stopping = true;
  await admin?.stop(1000);
  await Promise.all(
    [...workers.keys()].map(
      (worker) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => worker.kill('SIGKILL'), 15_000);
          worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          worker.kill('SIGTERM');
        }),
    ),
  );
  logger.info({}, 'server.stopped');
  return 0;
}

/** One worker: the same listeners as a single-process server, told to stop by its primary. */
export async function runWorker(config: PalabreConfig, logger: Logger, io: Output): Promise<number> {
  const index = Number(process.env.PALABRE_WORKER_INDEX ?? '1');
  const log = logger.child({ worker: index });
  let metrics;
  if (config.admin.port !== 0) {
    // Answer the primary's scrapes with this registry (prom-client listens for them in every worker).
    const [{ createPrometheusMetrics }, { default: client }] = await Promise.all([import('./prometheus-metrics.js'), import('prom-client')]);
    metrics = createPrometheusMetrics();
    client.AggregatorRegistry.setRegistries([metrics.registry]);
    new client.AggregatorRegistry(); // eslint-disable-line no-new -- its constructor installs the worker's answering listener
  }
  const ctx = await openContext(config, log, {
    metrics,
    migrate: false,
    notifier: config.databaseUrl ? undefined : async () => new IpcNotifier(),
  });
  const stopRequested = Promise.race([
    stopSignal(log),
    // The primary is gone (even killed with -9): a worker never outlives it.
    new Promise<void>((resolve) => process.once('disconnect', () => resolve())),
  ]);
  let server;
  try {
    server = await startServer(ctx, io, { background: index === 1, quiet: true });
  } catch (error) {
    process.send?.({ palabre: 'failed', error: (error as Error).message } satisfies ToPrimary);
    await ctx.close();
    return 1;
  }
  process.send?.({ palabre: 'ready', banner: [...server.banner] } satisfies ToPrimary);
  await stopRequested;
  await server.stop();
  await ctx.close();
  if (process.connected) process.disconnect(); // nothing else keeps a worker alive: let it exit
  return 0;
}

export const isWorkerProcess = () => cluster.isWorker;
