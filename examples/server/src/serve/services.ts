import { ClamdScanner, type ConnectionGate, type MalwareScanner, type PalabreConfig } from '@palabre/core';
import { SqlMailStore, SqlMtaStsPolicyStore, SqlTlsReportStore, createMailTransportStores } from '@palabre/core/storage';
import type { Context } from '../context.js';
import type { HttpService } from './http-service.js';
import type { Service } from './service.js';
import type { TlsCertificates, TlsMaterial } from './tls.js';
import { mountDrive } from './drive.js';
import { mountOnboarding } from './onboarding.js';
import { afterSettling, periodicJob } from './periodic.js';

/** How often mail blobs that no mailbox or queued message holds any more are collected. */
const MAIL_GC_INTERVAL_MS = 60 * 60_000;

export interface ServiceSetup {
  readonly ctx: Context;
  readonly http: HttpService;
  readonly tls: TlsMaterial | null;
  /** Every TLS listener's certificates (null when none speaks TLS); mail listeners always do. */
  readonly certificates: TlsCertificates | null;
  /** Plaintext passwords accepted (local development on loopback, or explicitly allowed). */
  readonly insecureAuth: boolean;
  /** Run periodic background jobs (garbage collection): true in exactly one process of a node. */
  readonly background: boolean;
  /** The process's connection limits, shared by every listener. */
  readonly connections: ConnectionGate;
}

/**
 * The one place protocol packages are wired in: each feature mounts its HTTP handlers on `http` and
 * returns any listeners of its own (SMTP, IMAP). Features arrive with their issues.
 */
export async function mountServices(setup: ServiceSetup): Promise<Service[]> {
  // One malware scanner for mail and drive uploads alike (config `antivirus.clamd`).
  const malware = malwareScanner(setup.ctx.config);
  const services: Service[] = [...(await mountDrive(setup, malware))];
  await mountOnboarding(setup);
  const { ctx } = setup;
  const { ports } = ctx.config;
  // Mail's libraries (SPF/DKIM/DMARC, SMTP, IMAP, TLS generation) load only when a mail listener is on:
  // a node that serves only the drive stays small.
  if ([ports.smtp, ports.submission, ports.submissions, ports.imap, ports.imaps].every((p) => p === 0)) return services;
  const [{ smtpServices }, { imapServices }] = await Promise.all([import('../services/smtp.js'), import('../services/imap.js')]);
  const mailStore = new SqlMailStore(ctx.db, { blobs: ctx.blobs.mail, usage: ctx.stores.usage, notifier: await ctx.notifier(), logger: ctx.logger });
  services.push(...(await smtpServices(ctx, setup.insecureAuth, { delivery: mailStore, mailboxes: mailStore, connections: setup.connections, certificates: setup.certificates!, malware })));
  services.push(...(await imapServices(ctx, setup.insecureAuth, { store: mailStore, connections: setup.connections, certificates: setup.certificates! })));
  if (ports.imap !== 0 || ports.imaps !== 0) {
    const { manageSieveServices } = await import('../services/managesieve.js');
    services.push(...manageSieveServices(ctx, setup.insecureAuth, { connections: setup.connections, certificates: setup.certificates! }));
  }
  // Expunged and bounced messages leave their blobs behind (shared by recipients and copies, so no
  // single EXPUNGE may delete one): collected here once nothing holds them.
  const { collectMailGarbage, cachingResolver, TlsReporter } = await import('@palabre/mail');
  const transport = createMailTransportStores(ctx.db, { secrets: ctx.secrets });
  const queue = transport.queue;
  const logger = ctx.logger.child({ service: 'mail-gc' });
  services.push(
    periodicJob('mail-gc', MAIL_GC_INTERVAL_MS, { background: setup.background, leadership: ctx.db, again: afterSettling }, () =>
      collectMailGarbage({
        blobs: ctx.blobs.mail,
        references: [(ids) => mailStore.referencedBlobs(ids), (ids) => queue.referencedBlobs(ids)],
        logger,
      }),
    ),
  );
  // RFC 8460: yesterday's TLS report goes out once a day; the counts are taken by one node only, so the
  // hourly run and several nodes send it once.
  if (ctx.config.smtp.outbound.tlsReports && !ctx.config.smtp.smarthost) {
    const reporter = new TlsReporter({
      counts: new SqlTlsReportStore(ctx.db),
      policies: new SqlMtaStsPolicyStore(ctx.db),
      resolver: cachingResolver(),
      queue,
      blobs: ctx.blobs.mail,
      dkimKeys: transport.dkimKeys,
      hostname: ctx.config.hostname,
      logger: ctx.logger.child({ service: 'tls-rpt' }),
    });
    services.push(periodicJob('tls-rpt', MAIL_GC_INTERVAL_MS, { background: setup.background, leadership: ctx.db }, () => reporter.send(TlsReporter.yesterday(new Date()))));
  }
  // "Publish then activate": a key `palabre dkim rotate` made signs once its DNS record resolves, checked
  // by one node of the cluster.
  const [{ activatePublishedKeys }, { DKIM_ACTIVATION_MINUTES }, { Resolver }] = await Promise.all([import('../dkim-publication.js'), import('../commands/dkim.js'), import('node:dns/promises')]);
  const dkimLog = ctx.logger.child({ service: 'dkim' });
  services.push(
    periodicJob('dkim-activate', DKIM_ACTIVATION_MINUTES * 60_000, { background: setup.background, leadership: ctx.db }, () =>
      activatePublishedKeys(transport.dkimKeys, new Resolver({ timeout: 5_000, tries: 2 }), dkimLog).catch((error: unknown) => dkimLog.warn({ err: (error as Error).message }, 'dkim.activation-failed')),
    ),
  );
  return services;
}

/** clamd as configured, with its fail mode; null when no antivirus is configured. */
export function malwareScanner(config: PalabreConfig): { readonly scanner: MalwareScanner; readonly failMode: 'open' | 'closed' } | null {
  const av = config.antivirus.clamd;
  if (!av) return null;
  return { scanner: new ClamdScanner({ socket: av.socket, host: av.host, port: av.port, timeoutMs: av.timeoutMs, maxBytes: av.maxBytes }), failMode: av.failMode };
}
