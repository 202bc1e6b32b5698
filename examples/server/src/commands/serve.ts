import { isLoopbackHost } from '../config.js';
import { insecureAuthAllowed } from '../config.js';
import type { Context } from '../context.js';
import { describeDatabase } from '../context.js';
import type { Output } from '../output.js';
import { ensureDemoAccount } from '../serve/demo.js';
import { HttpService } from '../serve/http-service.js';
import type { Service } from '../serve/service.js';
import { loadTls, type TlsMaterial } from '../serve/tls.js';
import { mountServices } from '../serve/services.js';
import { HousekeepingService } from '../serve/housekeeping.js';
import { prepareOpenFiles } from '../serve/open-files.js';
import { ConnectionGate } from '@palabre/core';
import { SERVE_USAGE } from './usage.js';


export const SERVE_OPTIONS = {
  host: { type: 'string' },
  hostname: { type: 'string' },
  'http-port': { type: 'string' },
  'smtp-port': { type: 'string' },
  'submission-port': { type: 'string' },
  'imap-port': { type: 'string' },
  'allow-insecure-auth': { type: 'boolean' },
  workers: { type: 'string' },
  'log-format': { type: 'string' },
} as const;

export interface RunningServer {
  readonly services: Service[];
  /** The connection details, as printed. */
  readonly banner: readonly string[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Periodic background jobs (GC, housekeeping) run here; default true. */
  background?: boolean;
  /** Do not print the connection details (a worker process: the primary prints them). */
  quiet?: boolean;
}

/** Start every listener the packages provide; resolves once all are listening. */
export async function startServer(ctx: Context, io: Output, options: StartOptions = {}): Promise<RunningServer> {
  const background = options.background ?? true;
  const { config, logger } = ctx;
  // TLS on every listener unless this is local development on loopback with no certificate given.
  const wantTls = Boolean(config.tls.certFile) || !isLoopbackHost(config.host);
  const tls: TlsMaterial | null = wantTls ? await loadTls(config) : null;
  // One gate for every listener of this process: they share its descriptors. Its global limit stays
  // below what RLIMIT_NOFILE leaves, so refusing (logged, counted) comes before running out.
  const connections = new ConnectionGate({
    perAddress: config.connections.perAddress,
    global: await prepareOpenFiles(config.connections.global, logger),
    exempt: config.connections.exempt,
    logger,
  });
  const http = new HttpService({
    host: config.host,
    port: config.ports.http,
    tls,
    logger: logger.child({ service: 'http' }),
    productLine: 'Palabre: mail, calendars, contacts and files for the administration.',
    connections,
    timeouts: config.http,
  });
  const services: Service[] = [];
  const extra = await mountServices({ ctx, http, tls, insecureAuth: insecureAuthAllowed(config), background, connections });
  if (config.ports.http !== 0) services.push(http);
  services.push(...extra);
  const housekeeping = new HousekeepingService(ctx);
  const started: Service[] = [];
  try {
    for (const service of background ? [...services, housekeeping] : services) {
      await service.start();
      started.push(service);
    }
  } catch (error) {
    for (const s of started.reverse()) await s.stop(1000).catch(() => undefined);
    throw new Error(`cannot start ${services[started.length]?.name ?? 'a listener'}: ${(error as Error).message}`);
  }
  const demo = await ensureDemoAccount(ctx);
  const banner: string[] = ['', 'Palabre is running.', `  data:      ${describeDatabase(config)}; files and messages in ${config.dataDir}/blobs`];
  for (const service of started) for (const line of service.banner(demo?.address)) banner.push(`  ${line}`);
  if (!started.some((s) => s !== housekeeping)) banner.push('  (every listener is disabled: give a port other than 0)');
  for (const line of await tlsBanner(config, tls, started)) banner.push(`  ${line}`);
  if (demo) banner.push('', 'Sign in from a mail, calendar or file app with:', `  user:      ${demo.address}`, `  password:  ${demo.password}`);
  banner.push('');
  if (!options.quiet) for (const line of banner) io.out(line);
  logger.info({ services: started.map((s) => s.name) }, 'server.started');
  return {
    services: started,
    banner,
    async stop() {
      for (const s of [...started].reverse()) await s.stop(10_000).catch(() => undefined);
    },
  };
}

const MAIL_SERVICES = new Set(['smtp', 'submission', 'submissions', 'imap']);

/**
 * What each listener really does about TLS. HTTP may run without TLS for local development on
 * loopback, while SMTP and IMAP always offer STARTTLS (with the configured or the self-signed
 * certificate): one line that said "TLS: off" for all of them was wrong for mail.
 */
async function tlsBanner(config: Context['config'], httpTls: TlsMaterial | null, started: readonly Service[]): Promise<string[]> {
  const lines: string[] = [];
  const http = started.some((s) => s.name === 'http');
  const mail = started.some((s) => MAIL_SERVICES.has(s.name));
  const describe = (m: TlsMaterial) => (m.selfSigned ? `the self-signed certificate ${m.source} (apps will ask you to trust it)` : `the certificate ${m.source}`);
  if (http && httpTls) lines.push(`TLS:       HTTPS with ${describe(httpTls)}`);
  if (http && !httpTls) lines.push('TLS:       HTTP without TLS (local development on loopback: passwords are accepted only from this machine)');
  if (mail) lines.push(`${http ? '           ' : 'TLS:       '}SMTP and IMAP: TLS with ${describe(httpTls ?? (await loadTls(config)))}`);
  return lines;
}

/** Resolves on the first SIGTERM or SIGINT (listening starts at once, so no request is lost). */
export function stopSignal(logger: Context['logger']): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'server.stopping');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** `palabre serve` in one process: run until SIGTERM or SIGINT, then shut down gracefully. */
export async function serveCommand(ctx: Context, io: Output): Promise<number> {
  // Listen for signals before anything starts, so a stop request during start-up is not lost.
  const stopRequested = stopSignal(ctx.logger);
  const server = await startServer(ctx, io);
  await stopRequested;
  await server.stop();
  ctx.logger.info({}, 'server.stopped');
  return 0;
}
