import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionGate, MailDelivery, MailStore, MalwareScanner } from '@palabre/core';
import { createMailTransportStores, SqlMtaStsPolicyStore, SqlServerKeys, SqlSieveScriptStore, SqlTlsReportStore } from '@palabre/core/storage';
import { cachingResolver, createDnssecResolver, createMailPipeline, createSmtpServer, QueueWorker, type SmtpListener } from '@palabre/mail';
import { mailFilters } from './mail-filters.js';
import type { Context } from '../context.js';
import type { Service } from '../serve/service.js';
import type { TlsCertificates } from '../serve/tls.js';

export interface SmtpWiring {
  /** The mailbox store SMTP files local mail into. */
  readonly delivery: MailDelivery;
  /** The mailbox store behind `delivery`, for Sieve's log of a fileinto to a missing mailbox. */
  readonly mailboxes?: Pick<MailStore, 'getMailbox'>;
  /** Connection limits shared with the process's other listeners. */
  readonly connections: ConnectionGate;
  /** The malware scanner shared with the drive, if one is configured. */
  readonly malware: { readonly scanner: MalwareScanner; readonly failMode: 'open' | 'closed' } | null;
  /** The process's certificates: reloads reach every SMTP listener's STARTTLS and implicit TLS. */
  readonly certificates: TlsCertificates;
}

function listenerService(
  name: string,
  listener: SmtpListener,
  host: string,
  port: number,
  describe: (port: number) => string,
  certificates: TlsCertificates,
): Service {
  let bound = port;
  certificates.onReload((material) => listener.setSecureContext(material));
  return {
    name,
    async start() {
      bound = await listener.listen(port, host);
    },
    stop: (graceMs) => listener.close(graceMs),
    banner: () => [describe(bound)],
  };
}

/**
 * SMTP for `palabre serve`: the MX (`ports.smtp`), submission with STARTTLS (`ports.submission`),
 * implicit-TLS submission (`ports.submissions`, off by default) and the outbound queue worker. STARTTLS
 * is offered even on loopback development, with the configured or the self-signed certificate.
 */
export async function smtpServices(ctx: Context, insecureAuth: boolean, wiring: SmtpWiring): Promise<Service[]> {
  const { config, logger } = ctx;
  const smtp = config.smtp;
  const tls = wiring.certificates.material;
  const stores = createMailTransportStores(ctx.db, { secrets: ctx.secrets });
  const spoolDir = join(config.dataDir, 'spool');
  await rm(spoolDir, { recursive: true, force: true }); // bodies of sessions a crash cut short
  const dns = cachingResolver();
  const dnssecServer = smtp.outbound.dnssecResolver;
  const dnssec = dnssecServer ? createDnssecResolver({ server: dnssecServer, timeoutMs: smtp.outbound.dnssecTimeoutMs }) : null;
  const worker = new QueueWorker({
    queue: stores.queue,
    blobs: ctx.blobs.mail,
    directory: ctx.stores.directory,
    delivery: wiring.delivery,
    // The pipeline below is built after the worker (it wakes the worker); the worker asks for its path when it delivers.
    localPath: () => pipeline.local,
    hostname: config.hostname,
    concurrency: smtp.outbound.concurrency,
    port: smtp.outbound.port,
    mtaSts: smtp.outbound.mtaSts,
    mtaStsStore: new SqlMtaStsPolicyStore(ctx.db),
    tlsReports: smtp.outbound.tlsReports ? new SqlTlsReportStore(ctx.db) : undefined,
    mtaStsFetch: { timeoutMs: smtp.outbound.mtaStsTimeoutMs, maxBytes: smtp.outbound.mtaStsMaxBytes },
    smarthost: smtp.smarthost ?? null,
    dns,
    dnssec,
    daneRequired: smtp.outbound.daneRequired,
    metrics: ctx.metrics,
    logger: logger.child({ service: 'smtp-queue' }),
  });
  const filters = mailFilters(config, logger, wiring.malware, ctx.metrics);
  // One pipeline for every listener: intake, filters, Sieve, vacation and the message submission that
  // features without an SMTP session send through.
  const pipeline = createMailPipeline({
    hostname: config.hostname,
    directory: ctx.stores.directory,
    blobs: ctx.blobs.mail,
    delivery: wiring.delivery,
    queue: stores.queue,
    onQueued: () => worker.kick(),
    dkimKeys: stores.dkimKeys,
    vacations: stores.vacations,
    sieveScripts: new SqlSieveScriptStore(ctx.db),
    mailboxes: wiring.mailboxes ?? null,
    serverKeys: new SqlServerKeys(ctx.db, ctx.secrets),
    dns,
    dmarc: smtp.dmarc,
    maxQueueMs: smtp.outbound.maxQueueMs,
    filters: filters.list,
    metrics: ctx.metrics,
    logger: logger.child({ service: 'smtp' }),
  });
  const common = {
    hostname: config.hostname,
    tls: { key: tls.key, cert: tls.cert, SNICallback: wiring.certificates.SNICallback },
    allowInsecureAuth: insecureAuth,
    directory: ctx.stores.directory,
    blobs: ctx.blobs.mail,
    delivery: wiring.delivery,
    authenticator: ctx.authenticator,
    pipeline,
    rateLimits: stores.rateLimits,
    audit: ctx.stores.audit,
    usage: ctx.stores.usage,
    limits: { ...smtp.limits, maxMessageBytes: smtp.maxMessageBytes, maxRecipients: smtp.maxRecipients, idleTimeoutMs: smtp.idleTimeoutMs },
    trustedNetworks: smtp.trustedNetworks,
    spoolDir,
    metrics: ctx.metrics,
    connections: wiring.connections,
    logger: logger.child({ service: 'smtp' }),
  };
  const services: Service[] = [];
  const host = config.host;
  if (config.ports.smtp !== 0) {
    const mx = createSmtpServer({ ...common, role: 'mx' });
    services.push(listenerService('smtp', mx, host, config.ports.smtp, (p) => `SMTP (MX): ${host}:${p} (STARTTLS)`, wiring.certificates));
  }
  if (config.ports.submission !== 0) {
    const sub = createSmtpServer({ ...common, role: 'submission' });
    services.push(listenerService('submission', sub, host, config.ports.submission, (p) => `submission: ${host}:${p} (STARTTLS, then AUTH PLAIN/LOGIN)`, wiring.certificates));
  }
  if (config.ports.submissions !== 0) {
    const subs = createSmtpServer({ ...common, role: 'submission', implicitTls: true });
    services.push(listenerService('submissions', subs, host, config.ports.submissions, (p) => `submission: ${host}:${p} (implicit TLS)`, wiring.certificates));
  }
  services.push({
    name: 'smtp-queue',
    async start() {
      worker.start();
    },
    stop: (graceMs) => worker.stop(graceMs),
    banner: () => [
      `outbound: ${smtp.smarthost ? `through ${smtp.smarthost.host}:${smtp.smarthost.port}` : 'direct to MX hosts'}, queue in the database`,
      smtp.smarthost
        ? 'DANE: not used (mail goes through the smarthost)'
        : dnssecServer
          ? `DANE: on (RFC 7672), DNSSEC validated by ${dnssecServer}${smtp.outbound.daneRequired.length ? `; required for ${smtp.outbound.daneRequired.join(', ')}` : ''}`
          : `DANE: off (no smtp.outbound.dnssecResolver; MTA-STS only)${smtp.outbound.daneRequired.length ? `; mail to ${smtp.outbound.daneRequired.join(', ')} waits (DANE required)` : ''}`,
      ...filters.banner,
    ],
  });
  return services;
}
