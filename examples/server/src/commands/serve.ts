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
import { SERVE_USAGE } from './usage.js';


export const SERVE_OPTIONS = {
  host: { type: 'string' },
  hostname: { type: 'string' },
  'http-port': { type: 'string' },
  'smtp-port': { type: 'string' },
  'submission-port': { type: 'string' },
  'imap-port': { type: 'string' },
  'allow-insecure-auth': { type: 'boolean' },
} as const;

export interface RunningServer {
  readonly services: Service[];
  stop(): Promise<void>;
}

/** Start every listener the packages provide; resolves once all are listening. */
export async function startServer(ctx: Context, io: Output): Promise<RunningServer> {
  const { config, logger } = ctx;
  // TLS on every listener unless this is local development on loopback with no certificate given.
  const wantTls = Boolean(config.tls.certFile) || !isLoopbackHost(config.host);
  const tls: TlsMaterial | null = wantTls ? await loadTls(config) : null;
  const http = new HttpService({
    host: config.host,
    port: config.ports.http,
    tls,
    logger: logger.child({ service: 'http' }),
    productLine: 'Palabre: mail, calendars, contacts and files for the administration.',
  });
  const services: Service[] = [];
  const extra = await mountServices({ ctx, http, tls, insecureAuth: insecureAuthAllowed(config) });
  if (config.ports.http !== 0) services.push(http);
  services.push(...extra);
  const housekeeping = new HousekeepingService(ctx);
  const started: Service[] = [];
  try {
    for (const service of [...services, housekeeping]) {
      await service.start();
      started.push(service);
    }
  } catch (error) {
    for (const s of started.reverse()) await s.stop(1000).catch(() => undefined);
    throw new Error(`cannot start ${services[started.length]?.name ?? 'a listener'}: ${(error as Error).message}`);
  }
  const demo = await ensureDemoAccount(ctx);
  io.out('');
  io.out('Palabre is running.');
  io.out(`  data:      ${describeDatabase(config)}; files and messages in ${config.dataDir}/blobs`);
  for (const service of started) for (const line of service.banner(demo?.address)) io.out(`  ${line}`);
  if (!started.some((s) => s !== housekeeping)) io.out('  (every listener is disabled: give a port other than 0)');
  if (tls?.selfSigned) io.out(`  TLS:       self-signed certificate ${tls.source}; apps will ask you to trust it`);
  if (!tls) io.out('  TLS:       off (local development on loopback; passwords are accepted only from this machine)');
  if (demo) {
    io.out('');
    io.out('Sign in from a mail, calendar or file app with:');
    io.out(`  user:      ${demo.address}`);
    io.out(`  password:  ${demo.password}`);
  }
  io.out('');
  logger.info({ services: started.map((s) => s.name) }, 'server.started');
  return {
    services: started,
    async stop() {
      for (const s of [...started].reverse()) await s.stop(10_000).catch(() => undefined);
    },
  };
}

/** `palabre serve`: run until SIGTERM or SIGINT, then shut down gracefully. */
export async function serveCommand(ctx: Context, io: Output): Promise<number> {
  // Listen for signals before anything starts, so a stop request during start-up is not lost.
  const stopRequested = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      ctx.logger.info({ signal }, 'server.stopping');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  const server = await startServer(ctx, io);
  await stopRequested;
  await server.stop();
  ctx.logger.info({}, 'server.stopped');
  return 0;
}
