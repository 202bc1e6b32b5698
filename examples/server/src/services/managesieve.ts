import type { ConnectionGate } from '@palabre/core';
import { SqlSieveScriptStore } from '@palabre/core/storage';
import { createManageSieveServer } from '@palabre/mail';
import type { Context } from '../context.js';
import type { Service } from '../serve/service.js';
import type { TlsCertificates } from '../serve/tls.js';

/**
 * ManageSieve (RFC 5804) for `palabre serve` on `ports.sieve` (4190; 0 off), beside IMAP: the same
 * Authenticator and plaintext rule (passwords after STARTTLS unless loopback development allows
 * them), the process's connection limits, the certificate the mail listeners use.
 */
export function manageSieveServices(ctx: Context, insecureAuth: boolean, wiring: { connections: ConnectionGate; certificates: TlsCertificates }): Service[] {
  const { config, logger } = ctx;
  if (config.ports.sieve === 0) return [];
  const tls = wiring.certificates.material;
  const server = createManageSieveServer({
    scripts: new SqlSieveScriptStore(ctx.db),
    authenticator: ctx.authenticator,
    tls: { key: tls.key, cert: tls.cert },
    allowInsecureAuth: insecureAuth,
    connections: wiring.connections,
    logger: logger.child({ service: 'managesieve' }),
  });
  const bound: string[] = [];
  return [
    {
      name: 'managesieve',
      async start() {
        const { port } = await server.listen({ port: config.ports.sieve, host: config.host });
        bound.push(`ManageSieve: ${config.host}:${port} (STARTTLS${insecureAuth ? '; plaintext AUTHENTICATE allowed on loopback' : ''})`);
      },
      stop: () => server.close(),
      banner: () => bound,
    },
  ];
}
