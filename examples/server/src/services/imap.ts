import type { ConnectionGate, MailStore } from '@palabre/core';
import { createImapServer, QueuedJunkTraining } from '@palabre/mail';
import { SqlMailMetadataStore } from '@palabre/core/storage';
import { spamClient } from './mail-filters.js';
import type { Context } from '../context.js';
import type { Service } from '../serve/service.js';
import type { TlsCertificates } from '../serve/tls.js';

export interface ImapWiring {
  /** The mailbox store SMTP delivers into. */
  readonly store: MailStore;
  /** Connection limits shared with the process's other listeners. */
  readonly connections: ConnectionGate;
  /** The process's certificates: reloads reach this server's STARTTLS and implicit-TLS listeners. */
  readonly certificates: TlsCertificates;
}

/**
 * IMAP for `palabre serve`: `ports.imap` (STARTTLS; LOGINDISABLED until then unless plaintext
 * passwords are allowed for loopback development) and `ports.imaps` (implicit TLS, off by default).
 * STARTTLS is offered even on loopback with the configured or the self-signed certificate (mbsync
 * and Thunderbird use it). Change notifications cross nodes through the context's notifier.
 */
export async function imapServices(ctx: Context, insecureAuth: boolean, wiring: ImapWiring): Promise<Service[]> {
  const { config, logger } = ctx;
  if (config.ports.imap === 0 && config.ports.imaps === 0) return [];
  const tls = wiring.certificates.material;
  const server = createImapServer({
    store: wiring.store,
    blobs: ctx.blobs.mail,
    directory: ctx.stores.directory,
    authenticator: ctx.authenticator,
    metadata: new SqlMailMetadataStore(ctx.db),
    notifier: await ctx.notifier(),
    logger: logger.child({ service: 'imap' }),
    metrics: ctx.metrics,
    tls: { key: tls.key, cert: tls.cert, SNICallback: wiring.certificates.SNICallback },
    allowInsecureAuth: insecureAuth,
    compress: config.imap.compress,
    limits: { maxMessageBytes: config.smtp.maxMessageBytes },
    connections: wiring.connections,
    ...junkTraining(ctx, wiring.store),
  });
  wiring.certificates.onReload((material) => server.setSecureContext(material));
  const host = config.host;
  const bound: string[] = [];
  return [
    {
      name: 'imap',
      async start() {
        if (config.ports.imap !== 0) {
          const { port } = await server.listen({ port: config.ports.imap, host, security: 'starttls' });
          bound.push(`IMAP:      ${host}:${port} (STARTTLS${insecureAuth ? '; plaintext LOGIN allowed on loopback' : ''})`);
        }
        if (config.ports.imaps !== 0) {
          const { port } = await server.listen({ port: config.ports.imaps, host, security: 'implicit' });
          bound.push(`IMAPS:     ${host}:${port} (implicit TLS)`);
        }
      },
      stop: (graceMs) => server.close(graceMs),
      banner: () => bound,
    },
  ];
}

/** With an rspamd controller configured, what users move into and out of Junk teaches it. */
function junkTraining(ctx: Context, store: MailStore): { junkTraining?: QueuedJunkTraining } {
  const learner = ctx.config.spam.rspamd?.controllerUrl ? spamClient(ctx.config) : null;
  if (!learner) return {};
  return { junkTraining: new QueuedJunkTraining({ store, blobs: ctx.blobs.mail, learner, logger: ctx.logger.child({ service: 'imap' }) }) };
}
