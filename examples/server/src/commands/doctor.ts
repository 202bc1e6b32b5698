import { createMailTransportStores } from '@palabre/core/storage';
import { createDnssecResolver } from '@palabre/mail';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { noMorePositionals, parse, UsageError } from '../args.js';
import type { Context } from '../context.js';
import {
  checkCertificate,
  checkDnssecResolver,
  checkHostname,
  checkMailDomain,
  configFindings,
  configuredSrv,
  recordsToPublish,
  type DoctorResolver,
  type Finding,
} from '../doctor/checks.js';
import { isLoopbackHost } from '../config.js';
import type { Output } from '../output.js';
import { loadTls } from '../serve/tls.js';
import { DOCTOR_USAGE } from './usage.js';

const MARK: Record<Finding['verdict'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** Check what a deployment needs outside Palabre: DNS records for mail and discovery, TLS, config. */
export async function doctorCommand(ctx: Context, argv: string[], io: Output, resolver?: DoctorResolver): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { domain: { type: 'string' }, resolver: { type: 'string' }, 'dnssec-probe': { type: 'string' }, 'no-dns': { type: 'boolean' } },
    DOCTOR_USAGE,
  );
  noMorePositionals(positionals, 0, DOCTOR_USAGE);
  const findings: Finding[] = [...configFindings(ctx.config)];
  const { clear: unsealed, otherKey } = await createMailTransportStores(ctx.db, { secrets: ctx.secrets }).dkimKeys.sealing();
  if (otherKey > 0)
    findings.push({
      verdict: 'warn',
      subject: 'config',
      message: `${otherKey} DKIM private key${otherKey === 1 ? ' is' : 's are'} sealed under a previous secret key, not secrets.keyFile`,
      fix: 'palabre dkim seal (seals them again under the current key)',
    });
  else if (ctx.config.secrets.previousKeyFiles.length > 0 && ctx.secrets)
    findings.push({
      verdict: 'warn',
      subject: 'config',
      message: 'secrets.previousKeyFiles is no longer needed: nothing is sealed under those keys',
      fix: 'remove secrets.previousKeyFiles from the config and destroy the old key files',
    });
  if (unsealed > 0)
    findings.push({
      verdict: 'warn',
      subject: 'config',
      message: `${unsealed} DKIM private key${unsealed === 1 ? ' is' : 's are'} stored in clear in the database (and its backups)`,
      fix: ctx.secrets ? 'palabre dkim seal' : 'openssl rand -base64 32 > /etc/palabre/secret.key; chmod 600 it; "secrets": { "keyFile": "/etc/palabre/secret.key" }; palabre dkim seal',
    });
  // Cheap and decisive: one HeadBucket (or a stat of the folder) per store. A fresh site's folders
  // are made first, as serve makes them at start.
  await ctx.prepareBlobs();
  for (const [name, store] of Object.entries(ctx.blobs)) {
    try {
      await store.probe();
      findings.push({ verdict: 'ok', subject: `blobs ${name}`, message: `reachable (${ctx.blobsWhere})` });
    } catch (error) {
      findings.push({ verdict: 'fail', subject: `blobs ${name}`, message: (error as Error).message, fix: 'check "blobs" in the config: endpoint, bucket, credentials, or the folder' });
    }
  }
  const tls = await loadTls(ctx.config);
  findings.push(...checkCertificate(tls.cert, tls.key, ctx.config.hostname, tls.selfSigned));
  // HTTPS exactly when serve turns it on: a certificate is configured, or the listener is not loopback-only.
  const httpTls = Boolean(ctx.config.tls.certFile) || !isLoopbackHost(ctx.config.host);
  const hosted = values.domain ? [values.domain] : (await ctx.stores.directory.listDomains()).flatMap((d) => [d.name, ...d.aliases]);
  for (const domain of hosted) {
    io.out(`DNS records to publish for ${domain}:`);
    for (const line of recordsToPublish(ctx.config, httpTls, domain)) io.out(`  ${line}`);
  }
  if (!values['no-dns']) {
    let dns = resolver;
    if (!dns) {
      const r = new Resolver({ timeout: 3000, tries: 2 });
      if (values.resolver) {
        if (!isIP(values.resolver)) throw new UsageError('--resolver takes an IP address');
        r.setServers([values.resolver]);
      }
      dns = r;
    }
    findings.push(...(await checkHostname(dns, ctx.config.hostname)));
    const dnssecServer = ctx.config.smtp.outbound.dnssecResolver;
    const probe = dnssecServer ? createDnssecResolver({ server: dnssecServer, timeoutMs: ctx.config.smtp.outbound.dnssecTimeoutMs }) : null;
    findings.push(await checkDnssecResolver(dnssecServer, probe, values['dnssec-probe'] ?? '.'));
    const services = configuredSrv(ctx.config, httpTls);
    for (const domain of hosted) findings.push(...(await checkMailDomain(dns, domain, ctx.config.hostname, services)));
  }
  for (const f of findings) {
    io.out(`${MARK[f.verdict]}  ${f.subject}: ${f.message}`);
    if (f.fix && f.verdict !== 'ok') io.out(`        fix: ${f.fix}`);
  }
  const failed = findings.filter((f) => f.verdict === 'fail').length;
  const warned = findings.filter((f) => f.verdict === 'warn').length;
  io.out(`${failed} to fix, ${warned} to consider, ${findings.length - failed - warned} fine`);
  return failed > 0 ? 1 : 0;
}
