import { isLoopbackHost } from '../config.js';
import { insecureAuthAllowed } from '../config.js';
import type { Context } from '../context.js';
import { describeDatabase } from '../context.js';
import type { Output } from '../output.js';
import { ensureDemoAccount } from '../serve/demo.js';
import { HttpService } from '../serve/http-service.js';
import type { Service } from '../serve/service.js';
import { loadTls, TlsCertificates, type TlsMaterial } from '../serve/tls.js';
import { mountServices } from '../serve/services.js';
import { housekeepingService } from '../serve/housekeeping.js';
import { AdminService } from '../serve/admin-service.js';
import { RedirectService } from '../serve/redirect-service.js';
import { prepareReadiness, readinessChecks } from '../serve/readiness.js';
import { registerStoreGauges } from '../serve/store-gauges.js';
import { prepareOpenFiles } from '../serve/open-files.js';
import { ConnectionGate, isPalabreError } from '@palabre/core';
import { SERVE_USAGE } from './usage.js';


export const SERVE_OPTIONS = {
  host: { type: 'string' },
  hostname: { type: 'string' },
  'http-port': { type: 'string' },
  'smtp-port': { type: 'string' },
  'submission-port': { type: 'string' },
  'imap-port': { type: 'string' },
  'sieve-port': { type: 'string' },
  'admin-port': { type: 'string' },
  'http-redirect-port': { type: 'string' },
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
  /**
   * The Prometheus text of `ctx.metrics`, for the admin listener started here; absent in a worker
   * (its primary serves the admin listener for all of them) or when `admin.port` is 0.
   */
  scrape?: { scrape(): Promise<string>; contentType: string };
}

/** Start every listener the packages provide; resolves once all are listening. */
export async function startServer(ctx: Context, io: Output, options: StartOptions = {}): Promise<RunningServer> {
  const background = options.background ?? true;
  const { config, logger } = ctx;
  // TLS on every listener unless this is local development on loopback with no certificate given.
  const wantTls = Boolean(config.tls.certFile) || !isLoopbackHost(config.host);
  const { ports } = config;
  const mailOn = [ports.smtp, ports.submission, ports.submissions, ports.imap, ports.imaps].some((p) => p !== 0);
  // One certificate store for every TLS listener: reloaded on SIGHUP and when its files change.
  const certificates = wantTls || mailOn ? await TlsCertificates.open(config, logger) : null;
  const tls: TlsMaterial | null = wantTls ? certificates!.material : null;
  // One gate for every listener of this process: they share its descriptors. Its global limit stays
  // below what RLIMIT_NOFILE leaves, so refusing (logged, counted) comes before running out.
  const connections = new ConnectionGate({
    perAddress: config.connections.perAddress,
    global: await prepareOpenFiles(config.connections.global, logger),
    exempt: config.connections.exempt,
    logger,
    metrics: ctx.metrics,
  });
  const http = new HttpService({
    host: config.host,
    port: config.ports.http,
    tls,
    logger: logger.child({ service: 'http' }),
    productLine: 'Palabre: mail, calendars, contacts and files for the administration.',
    metrics: ctx.metrics,
    connections,
    timeouts: config.http,
    ...(tls && certificates ? { SNICallback: certificates.SNICallback } : {}),
    hstsMaxAgeSeconds: config.tls.hstsMaxAgeSeconds,
  });
  if (tls) certificates!.onReload((material) => http.setSecureContext(material));
  // Read from the shared stores: one process of a node measures them.
  if (background) registerStoreGauges(ctx);
  const services: Service[] = [];
  const extra = await mountServices({ ctx, http, tls, insecureAuth: insecureAuthAllowed(config), background, connections, certificates });
  if (config.ports.http !== 0) services.push(http);
  services.push(...extra);
  // Plain HTTP only to send clients to HTTPS: without HTTPS there is nowhere to send them.
  if (config.ports.httpRedirect !== 0 && tls && config.ports.http !== 0) {
    services.push(
      new RedirectService({
        host: config.host,
        port: config.ports.httpRedirect,
        httpsPort: () => http.port,
        hostname: config.hostname,
        acmeWebroot: config.tls.acmeWebroot,
        logger: logger.child({ service: 'http-redirect' }),
        connections,
      }),
    );
  } else if (config.ports.httpRedirect !== 0) {
    logger.warn({ port: config.ports.httpRedirect }, 'server.redirect-off');
  }
  if (options.scrape && config.admin.port !== 0) services.push(await adminService(ctx, options.scrape, connections));
  const housekeeping = housekeepingService(ctx);
  const started: Service[] = [];
  const stopStarted = async () => {
    for (const s of [...started].reverse()) await s.stop(1000).catch(() => undefined);
  };
  try {
    for (const service of background ? [...services, housekeeping] : services) {
      await service.start();
      started.push(service);
    }
  } catch (error) {
    await stopStarted();
    throw new Error(`cannot start ${services[started.length]?.name ?? 'a listener'}: ${(error as Error).message}`);
  }
  // The demo account is for a first start on an empty directory; a node that starts while its
  // database is briefly down (a PostgreSQL restart) serves on and answers 503 until it is back, as a
  // running node does. Anything else that fails here stops what was started: never a half-started node.
  let demo: Awaited<ReturnType<typeof ensureDemoAccount>> = null;
  try {
    demo = await ensureDemoAccount(ctx);
  } catch (error) {
    if (!isPalabreError(error, 'unavailable')) {
      await stopStarted();
      throw error;
    }
    logger.warn({ err: (error as Error).message }, 'server.demo-skipped');
  }
  const banner: string[] = ['', 'Palabre is running.', `  data:      ${describeDatabase(config)}; files and messages in ${config.blobs.kind === 's3' ? ctx.blobsWhere : `${config.dataDir}/blobs`}`];
  for (const service of started) for (const line of service.banner(demo?.address)) banner.push(`  ${line}`);
  if (!started.some((s) => s !== housekeeping)) banner.push('  (every listener is disabled: give a port other than 0)');
  for (const line of await tlsBanner(config, tls, started, certificates)) banner.push(`  ${line}`);
  if (demo) banner.push('', 'Sign in from a mail, calendar or file app with:', `  user:      ${demo.address}`, `  password:  ${demo.password}`);
  banner.push('');
  if (!options.quiet) for (const line of banner) io.out(line);
  logger.info({ services: started.map((s) => s.name) }, 'server.started');
  // `systemctl reload` (ExecReload sends SIGHUP) and renewals written to disk: new handshakes get the
  // new certificate, connections already open are left alone.
  const onHangup = () => void certificates?.reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  certificates?.watch();
  return {
    services: started,
    banner,
    async stop() {
      process.off('SIGHUP', onHangup);
      certificates?.close();
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
async function tlsBanner(
  config: Context['config'],
  httpTls: TlsMaterial | null,
  started: readonly Service[],
  certificates: TlsCertificates | null,
): Promise<string[]> {
  const lines: string[] = [];
  const http = started.some((s) => s.name === 'http');
  const mail = started.some((s) => MAIL_SERVICES.has(s.name));
  const describe = (m: TlsMaterial) => (m.selfSigned ? `the self-signed certificate ${m.source} (apps will ask you to trust it)` : `the certificate ${m.source}`);
  if (http && httpTls) lines.push(`TLS:       HTTPS with ${describe(httpTls)}`);
  if (http && !httpTls) lines.push('TLS:       HTTP without TLS (local development on loopback: passwords are accepted only from this machine)');
  if (mail) lines.push(`${http ? '           ' : 'TLS:       '}SMTP and IMAP: TLS with ${describe(httpTls ?? certificates?.material ?? (await loadTls(config)))}`);
  const sni = certificates?.sniNames ?? [];
  if (sni.length && (mail || httpTls)) lines.push(`           by host name (SNI): ${sni.join(', ')}; reloaded on SIGHUP and when the files change`);
  else if (certificates && (mail || httpTls)) lines.push('           reloaded on SIGHUP and when the files change');
  return lines;
}

/** The operations listener of this process (or, with `scrape` aggregating workers, of a primary). */
export async function adminService(ctx: Context, scrape: NonNullable<StartOptions['scrape']>, connections?: ConnectionGate): Promise<AdminService> {
  await prepareReadiness(ctx);
  return new AdminService({
    host: ctx.config.admin.host,
    port: ctx.config.admin.port,
    logger: ctx.logger.child({ service: 'admin' }),
    scrape: () => scrape.scrape(),
    contentType: scrape.contentType,
    readiness: readinessChecks(ctx),
    connections,
  });
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
export async function serveCommand(ctx: Context, io: Output, scrape?: StartOptions['scrape']): Promise<number> {
  // Listen for signals before anything starts, so a stop request during start-up is not lost.
  const stopRequested = stopSignal(ctx.logger);
  const server = await startServer(ctx, io, { scrape });
  await stopRequested;
  await server.stop();
  ctx.logger.info({}, 'server.stopped');
  return 0;
}
