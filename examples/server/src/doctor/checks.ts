import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { PalabreConfig } from '@palabre/core';
import { isLoopbackHost } from '../config.js';

/** The DNS questions the doctor asks; node's `dns.promises.Resolver` answers them in production. */
export interface DoctorResolver {
  resolveMx(name: string): Promise<{ exchange: string; priority: number }[]>;
  resolveTxt(name: string): Promise<string[][]>;
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  resolveCname(name: string): Promise<string[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  reverse(ip: string): Promise<string[]>;
}

export type Verdict = 'ok' | 'warn' | 'fail';

export interface Finding {
  readonly verdict: Verdict;
  readonly subject: string;
  readonly message: string;
  /** What to publish or change, in zone-file or plain words. */
  readonly fix?: string;
}

const NOT_FOUND = new Set(['ENODATA', 'ENOTFOUND', 'ENONAME', 'NXDOMAIN']);

/** A DNS answer, or [] for "no such record"; other failures (timeouts, SERVFAIL) propagate. */
async function lookup<T>(query: () => Promise<T[]>): Promise<T[]> {
  try {
    return await query();
  } catch (error) {
    if (NOT_FOUND.has((error as { code?: string }).code ?? '')) return [];
    throw error;
  }
}

const sameName = (a: string, b: string) => a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();

/** Records a mail domain needs so that its mail is delivered, trusted and found by mail apps. */
/** SRV services (RFC 6186, RFC 8314, RFC 6764) and their ports, when no configuration says otherwise. */
export const DEFAULT_SRV: readonly (readonly [string, number])[] = [
  ['_submissions._tcp', 465],
  ['_submission._tcp', 587],
  ['_imaps._tcp', 993],
  ['_caldavs._tcp', 443],
  ['_carddavs._tcp', 443],
];

/**
 * The SRV services of the listeners this configuration really opens: implicit TLS and STARTTLS ports for
 * IMAP and submission, CalDAV/CardDAV over HTTPS (`_caldavs`) or, without TLS, plain HTTP (`_caldav`).
 */
export function configuredSrv(config: PalabreConfig, httpTls: boolean): [string, number][] {
  const { ports } = config;
  const dav = httpTls ? ['_caldavs._tcp', '_carddavs._tcp'] : ['_caldav._tcp', '_carddav._tcp'];
  const all: [string, number][] = [
    ['_submissions._tcp', ports.submissions],
    ['_submission._tcp', ports.submission],
    ['_imaps._tcp', ports.imaps],
    ['_imap._tcp', ports.imap],
    ...dav.map((s): [string, number] => [s, ports.http]),
  ];
  return all.filter(([, port]) => port !== 0);
}

/** Zone-file lines a hosted domain (or domain alias) publishes so that mail flows and apps set themselves up. */
export function recordsToPublish(config: PalabreConfig, httpTls: boolean, domain: string): string[] {
  const host = `${config.hostname}.`;
  const lines = [`${domain}. MX 10 ${host}`];
  for (const [service, port] of configuredSrv(config, httpTls)) lines.push(`${service}.${domain}. SRV 0 1 ${port} ${host}`);
  // RFC 6764 §4: where the DAV context path is, so clients need not probe /.well-known first.
  if (config.ports.http !== 0)
    for (const s of httpTls ? ['_caldavs', '_carddavs'] : ['_caldav', '_carddav']) lines.push(`${s}._tcp.${domain}. TXT "path=/dav/"`);
  // Thunderbird asks autoconfig.<domain>, Outlook autodiscover.<domain>: both answered on the HTTP port.
  if (config.ports.http !== 0) lines.push(`autoconfig.${domain}. CNAME ${host}`, `autodiscover.${domain}. CNAME ${host}`);
  return lines;
}

export async function checkMailDomain(
  resolver: DoctorResolver,
  domain: string,
  hostname: string,
  services: readonly (readonly [string, number])[] = DEFAULT_SRV,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const subject = domain;
  try {
    const mx = await lookup(() => resolver.resolveMx(domain));
    if (mx.length === 0)
      out.push({
        verdict: 'fail',
        subject,
        message: 'no MX record: other servers cannot deliver to this domain',
        fix: `${domain}. MX 10 ${hostname}.`,
      });
    else if (!mx.some((r) => sameName(r.exchange, hostname))) {
      out.push({
        verdict: 'warn',
        subject,
        message: `MX points to ${mx.map((r) => r.exchange).join(', ')}, not ${hostname} (fine if a gateway relays to us)`,
      });
    } else out.push({ verdict: 'ok', subject, message: `MX ${hostname}` });

    const txt = (await lookup(() => resolver.resolveTxt(domain))).map((parts) => parts.join(''));
    const spf = txt.filter((t) => /^v=spf1(\s|$)/i.test(t));
    if (spf.length === 0)
      out.push({
        verdict: 'fail',
        subject,
        message: 'no SPF record: receivers cannot tell our mail from forgeries',
        fix: `${domain}. TXT "v=spf1 mx -all"`,
      });
    else if (spf.length > 1)
      out.push({
        verdict: 'fail',
        subject,
        message: 'several SPF records: receivers treat that as a permanent error (RFC 7208 §4.5)',
        fix: 'merge them into one',
      });
    else if (/[+?]all\b/i.test(spf[0]!) || !/[-~]all\b/i.test(spf[0]!))
      out.push({
        verdict: 'warn',
        subject,
        message: `SPF "${spf[0]}" does not end in -all or ~all: anyone may send as ${domain}`,
        fix: `${domain}. TXT "v=spf1 mx -all"`,
      });
    else out.push({ verdict: 'ok', subject, message: `SPF ${spf[0]}` });

    const dmarc = (await lookup(() => resolver.resolveTxt(`_dmarc.${domain}`))).map((p) => p.join('')).filter((t) => /^v=DMARC1/i.test(t));
    if (dmarc.length === 0)
      out.push({
        verdict: 'fail',
        subject,
        message: 'no DMARC policy: forged mail in our name is not rejected',
        fix: `_dmarc.${domain}. TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@${domain}"`,
      });
    else if (/\bp=none\b/i.test(dmarc[0]!))
      out.push({ verdict: 'warn', subject, message: 'DMARC p=none only monitors; move to quarantine or reject once reports are clean' });
    else out.push({ verdict: 'ok', subject, message: `DMARC ${dmarc[0]}` });

    const sts = (await lookup(() => resolver.resolveTxt(`_mta-sts.${domain}`))).map((p) => p.join(''));
    if (!sts.some((t) => /^v=STSv1/i.test(t)))
      out.push({
        verdict: 'warn',
        subject,
        message: 'no MTA-STS: senders may fall back to unencrypted delivery',
        fix: `_mta-sts.${domain}. TXT "v=STSv1; id=${new Date().toISOString().slice(0, 10).replace(/-/g, '')}" and serve https://mta-sts.${domain}/.well-known/mta-sts.txt`,
      });
    else out.push({ verdict: 'ok', subject, message: 'MTA-STS published' });

    // RFC 6186 / RFC 8314 / RFC 6764: how mail, calendar and contact apps find the servers by themselves.
    for (const [service, port] of services) {
      const srv = await lookup(() => resolver.resolveSrv(`${service}.${domain}`));
      if (srv.length === 0)
        out.push({
          verdict: 'warn',
          subject,
          message: `no ${service} SRV record: apps must be told the server by hand`,
          fix: `${service}.${domain}. SRV 0 1 ${port} ${hostname}.`,
        });
      else if (!srv.some((r) => sameName(r.name, hostname) && r.port === port)) {
        out.push({
          verdict: 'warn',
          subject,
          message: `${service} → ${srv[0]!.name}:${srv[0]!.port}, but the listener is ${hostname}:${port}`,
          fix: `${service}.${domain}. SRV 0 1 ${port} ${hostname}.`,
        });
      } else out.push({ verdict: 'ok', subject, message: `${service} → ${srv[0]!.name}:${srv[0]!.port}` });
    }
    const dav = services.map(([service]) => service).filter((s) => /^_(cal|card)davs?\._tcp$/.test(s));
    for (const service of dav) out.push(await checkDavPath(resolver, `${service}.${domain}`, subject));
    // Thunderbird asks autoconfig.<domain>, Outlook autodiscover.<domain>; both are answered on the
    // HTTP listener, which is open exactly when the DAV services are.
    if (dav.length > 0) for (const name of ['autoconfig', 'autodiscover']) out.push(await checkPointsHere(resolver, `${name}.${domain}`, hostname, subject));
  } catch (error) {
    out.push({ verdict: 'fail', subject, message: `DNS lookups failed: ${(error as Error).message}` });
  }
  return out;
}

const DAV_PATH = '/dav/';

/** RFC 6764 §4: the TXT record beside a CalDAV/CardDAV SRV names the context path. */
async function checkDavPath(resolver: DoctorResolver, name: string, subject: string): Promise<Finding> {
  const fix = `${name}. TXT "path=${DAV_PATH}"`;
  const paths = (await lookup(() => resolver.resolveTxt(name)))
    .map((parts) => parts.join(''))
    .filter((t) => t.startsWith('path='))
    .map((t) => t.slice('path='.length));
  if (paths.length === 0) return { verdict: 'warn', subject, message: `no ${name} TXT path record: clients probe /.well-known first`, fix };
  if (!paths.includes(DAV_PATH)) return { verdict: 'warn', subject, message: `${name} TXT says path=${paths[0]}, but Palabre serves ${DAV_PATH}`, fix };
  return { verdict: 'ok', subject, message: `${name} TXT path=${DAV_PATH}` };
}

/** A discovery name must reach this server: a CNAME to it, or the same addresses. */
async function checkPointsHere(resolver: DoctorResolver, name: string, hostname: string, subject: string): Promise<Finding> {
  const fix = `${name}. CNAME ${hostname}.`;
  const cname = await lookup(() => resolver.resolveCname(name));
  if (cname.some((c) => sameName(c, hostname))) return { verdict: 'ok', subject, message: `${name} → ${hostname}` };
  if (cname.length > 0) return { verdict: 'warn', subject, message: `${name} is a CNAME to ${cname[0]}, not ${hostname}`, fix };
  const [theirs, ours] = await Promise.all([lookup(() => resolver.resolve4(name)), lookup(() => resolver.resolve4(hostname))]);
  if (theirs.length > 0 && theirs.some((a) => ours.includes(a))) return { verdict: 'ok', subject, message: `${name} resolves to ${hostname}'s address` };
  if (theirs.length > 0) return { verdict: 'warn', subject, message: `${name} resolves to ${theirs.join(', ')}, not to ${hostname}`, fix };
  return { verdict: 'warn', subject, message: `${name} does not resolve: apps cannot set themselves up from the address alone`, fix };
}

/** The server's own name: it must resolve, and its addresses must resolve back to it (FCrDNS). */
export async function checkHostname(resolver: DoctorResolver, hostname: string): Promise<Finding[]> {
  const out: Finding[] = [];
  try {
    const addresses = [...(await lookup(() => resolver.resolve4(hostname))), ...(await lookup(() => resolver.resolve6(hostname)))];
    if (addresses.length === 0)
      return [{ verdict: 'fail', subject: hostname, message: 'the server name does not resolve', fix: `${hostname}. A <public address>` }];
    out.push({ verdict: 'ok', subject: hostname, message: `resolves to ${addresses.join(', ')}` });
    for (const ip of addresses) {
      const names = await lookup(() => resolver.reverse(ip));
      if (!names.some((n) => sameName(n, hostname))) {
        out.push({
          verdict: 'warn',
          subject: hostname,
          message: `reverse DNS of ${ip} is ${names.join(', ') || 'missing'}: many receivers distrust mail from it`,
          fix: `ask the network provider for PTR ${ip} → ${hostname}`,
        });
      } else out.push({ verdict: 'ok', subject: hostname, message: `reverse DNS of ${ip} matches` });
    }
  } catch (error) {
    out.push({ verdict: 'fail', subject: hostname, message: `DNS lookups failed: ${(error as Error).message}` });
  }
  return out;
}

/** The certificate every listener presents: trusted, current, naming the server, matching its key. */
export function checkCertificate(cert: Buffer, key: Buffer, hostname: string, selfSigned: boolean, now = new Date()): Finding[] {
  const subject = 'TLS';
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    return [{ verdict: 'fail', subject, message: `cannot read the certificate: ${(error as Error).message}` }];
  }
  const out: Finding[] = [];
  const expires = new Date(x509.validTo);
  const days = Math.floor((expires.getTime() - now.getTime()) / 86_400_000);
  if (days < 0) out.push({ verdict: 'fail', subject, message: `certificate expired on ${expires.toISOString().slice(0, 10)}` });
  else if (days < 30)
    out.push({
      verdict: 'warn',
      subject,
      message: `certificate expires in ${days} days (${expires.toISOString().slice(0, 10)})`,
      fix: 'renew it',
    });
  else out.push({ verdict: 'ok', subject, message: `certificate valid until ${expires.toISOString().slice(0, 10)}` });
  if (new Date(x509.validFrom) > now) out.push({ verdict: 'fail', subject, message: `certificate not valid before ${x509.validFrom}` });
  if (!x509.checkHost(hostname))
    out.push({
      verdict: 'fail',
      subject,
      message: `certificate does not name ${hostname} (${x509.subjectAltName ?? x509.subject})`,
      fix: `a certificate for ${hostname}`,
    });
  else out.push({ verdict: 'ok', subject, message: `certificate names ${hostname}` });
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key)))
      out.push({ verdict: 'fail', subject, message: 'the private key does not match the certificate' });
  } catch (error) {
    out.push({ verdict: 'fail', subject, message: `cannot read the private key: ${(error as Error).message}` });
  }
  if (selfSigned) {
    out.push({
      verdict: 'warn',
      subject,
      message: 'self-signed certificate: every app will warn (iOS refuses it for calendars)',
      fix: "set tls.certFile and tls.keyFile to a certificate from the administration's CA or ACME",
    });
  }
  return out;
}

export function configFindings(config: PalabreConfig): Finding[] {
  const out: Finding[] = [];
  if (config.allowInsecureAuth)
    out.push({
      verdict: 'warn',
      subject: 'config',
      message: 'allowInsecureAuth is on: passwords may cross the network in clear',
      fix: 'remove allowInsecureAuth outside local development',
    });
  if (!config.databaseUrl)
    out.push({
      verdict: 'warn',
      subject: 'config',
      message: 'embedded SQLite: fine for one node; use PostgreSQL (DATABASE_URL) to run several',
    });
  const endpoint = config.blobs.kind === 's3' ? config.blobs.s3?.endpoint : undefined;
  if (endpoint && new URL(endpoint).protocol === 'http:' && !isLoopbackHost(new URL(endpoint).hostname.replace(/^\[|\]$/g, '')))
    out.push({
      verdict: 'warn',
      subject: 'config',
      message: `blobs.s3.endpoint ${endpoint} is plain HTTP: message and file bytes cross the network in clear`,
      fix: 'an https:// endpoint',
    });
  if (config.hostname === 'localhost')
    out.push({
      verdict: 'warn',
      subject: 'config',
      message: 'hostname is localhost: set the public name (--hostname or "hostname" in the config file)',
    });
  return out;
}

/** What the doctor needs of the DNSSEC stub resolver (`createDnssecResolver` of @palabre/mail). */
export type DnssecProbe = (name: string, type: 'DNSKEY') => Promise<{ rcode: string; secure: boolean }>;

/**
 * SMTP DANE (RFC 7672) is only as good as the resolver's AD bit: ask it for the DNSKEY of a name that
 * is signed (the root by default) and see that it says the answer validated.
 */
export async function checkDnssecResolver(server: string | undefined, probe: DnssecProbe | null, name = '.'): Promise<Finding> {
  const subject = 'DANE';
  if (!server || !probe)
    return {
      verdict: 'warn',
      subject,
      message: 'off: no DNSSEC-validating resolver configured, so outbound mail is not authenticated by TLSA records',
      fix: 'run a validating resolver (apt install unbound) and set "smtp": { "outbound": { "dnssecResolver": "127.0.0.1:53" } }',
    };
  try {
    const answer = await probe(name, 'DNSKEY');
    if (answer.rcode === 'NOERROR' && answer.secure) return { verdict: 'ok', subject, message: `resolver ${server} validates DNSSEC (AD set on the DNSKEY of ${name})` };
    if (answer.rcode === 'NOERROR')
      return {
        verdict: 'fail',
        subject,
        message: `resolver ${server} answered the DNSKEY of ${name} without AD: it does not validate, so DANE never applies`,
        fix: 'turn validation on (unbound: module-config "validator iterator" and a trust anchor; BIND: dnssec-validation auto)',
      };
    return {
      verdict: 'fail',
      subject,
      message: `resolver ${server} answered ${answer.rcode} for the DNSKEY of ${name}: every DANE delivery would be deferred`,
      fix: 'check the resolver\'s trust anchor and the host\'s clock (signatures have validity dates)',
    };
  } catch (error) {
    return { verdict: 'fail', subject, message: `resolver ${server} cannot be asked: ${(error as Error).message}`, fix: 'start the resolver, or correct smtp.outbound.dnssecResolver' };
  }
}
