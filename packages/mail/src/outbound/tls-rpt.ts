import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { gzipSync } from 'node:zlib';
import {
  silentLogger,
  systemClock,
  type BlobStore,
  type Clock,
  type DkimKeyStore,
  type Logger,
  type MtaStsPolicy,
  type MtaStsPolicyStore,
  type OutboundQueue,
  type TlsReportStore,
  type TlsSessionCount,
} from '@palabre/core';
import type { DnsResolver } from '../auth-results/dns-resolver.js';
import { rfc5322Date } from '../mime/trace-headers.js';
import { resolverLookup } from './dns-lookup.js';
import { Outbox } from './outbox.js';

/**
 * RFC 8460 (SMTP TLS Reporting): the daily aggregate report of our outbound TLS sessions to each
 * recipient domain that asks for one in `_smtp._tls.<domain>`, as gzip'd JSON (§4.4), by mail through
 * our own outbox (DKIM-signed, §5.3) or by HTTPS POST (§5.3.1).
 */

/** RFC 8460 §3: exactly one `v=TLSRPTv1` record with `rua=` mailto: or https: URIs; anything else: none. */
export function parseTlsRptRecord(answers: readonly (readonly string[] | string)[]): { rua: string[] } | null {
  const texts = answers.map((a) => (Array.isArray(a) ? a.join('') : String(a))).filter((t) => /^v=TLSRPTv1(?:[ \t]*;|$)/.test(t));
  if (texts.length !== 1) return null;
  const fields = texts[0]!.split(';').map((f) => f.trim());
  if (fields[fields.length - 1] === '') fields.pop();
  let rua: string[] | null = null;
  for (const field of fields.slice(1)) {
    const eq = field.indexOf('=');
    if (eq <= 0) return null;
    const name = field.slice(0, eq);
    if (name !== 'rua') continue;
    if (rua) return null;
    rua = field
      .slice(eq + 1)
      .split(',')
      .map((u) => u.trim());
    if (rua.some((u) => !/^mailto:[^\s@,;<>]+@[A-Za-z0-9.-]+$/.test(u) && !/^https:\/\/[^\s,;]+$/.test(u))) return null;
  }
  return rua && rua.length > 0 && rua.length <= 10 ? { rua } : null;
}

export interface TlsReportInput {
  readonly organization: string;
  readonly contact: string;
  readonly reportId: string;
  /** UTC day reported, `YYYY-MM-DD`. */
  readonly day: string;
  readonly domain: string;
  readonly counts: readonly TlsSessionCount[];
  /** The domain's MTA-STS policy, for the `sts` entries (its lines are the policy-string). */
  readonly policy: MtaStsPolicy | null;
  /** Our sending address, for failure details. */
  readonly sendingMtaIp?: string;
}

/** RFC 8460 §4.4 aggregate report of one domain for one day. */
export function buildTlsReport(input: TlsReportInput): Record<string, unknown> {
  const start = `${input.day}T00:00:00Z`;
  const end = new Date(Date.parse(start) + 86_400_000).toISOString().replace('.000Z', 'Z');
  const groups = new Map<string, TlsSessionCount[]>();
  for (const c of input.counts) {
    const key = `${c.policyType}\u0000${c.policyId}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const policies = [...groups.values()].map((rows) => {
    const first = rows[0]!;
    const sts = first.policyType === 'sts' && input.policy && input.policy.id === first.policyId ? input.policy : null;
    const policy: Record<string, unknown> = { 'policy-type': first.policyType, 'policy-domain': input.domain };
    if (sts) {
      policy['policy-string'] = ['version: STSv1', `mode: ${sts.mode}`, ...sts.mx.map((m) => `mx: ${m}`), `max_age: ${sts.maxAge}`];
      policy['mx-host'] = [...sts.mx];
    } else if (first.tlsa) {
      // §4.4: for DANE the policy domain is the TLSA base (RFC 7672 §2.2.3) and the policy-string its
      // records in presentation format; the MX host is the one those records were looked up for.
      policy['policy-domain'] = first.tlsa.domain;
      policy['policy-string'] = [...first.tlsa.records];
      const mx = [...new Set(rows.map((r) => r.receivingMx).filter(Boolean))];
      if (mx.length) policy['mx-host'] = mx;
    }
    const failures = rows.filter((r) => r.resultType !== '');
    return {
      policy,
      summary: {
        'total-successful-session-count': rows.filter((r) => r.resultType === '').reduce((n, r) => n + r.count, 0),
        'total-failure-session-count': failures.reduce((n, r) => n + r.count, 0),
      },
      'failure-details': failures.map((r) => ({
        'result-type': r.resultType,
        ...(input.sendingMtaIp ? { 'sending-mta-ip': input.sendingMtaIp } : {}),
        ...(r.receivingMx ? { 'receiving-mx-hostname': r.receivingMx } : {}),
        'failed-session-count': r.count,
      })),
    };
  });
  return {
    'organization-name': input.organization,
    'date-range': { 'start-datetime': start, 'end-datetime': end },
    'contact-info': input.contact,
    'report-id': input.reportId,
    policies,
  };
}

export interface TlsReporterOptions {
  readonly counts: TlsReportStore;
  readonly policies: MtaStsPolicyStore;
  readonly resolver: DnsResolver;
  /** Mail reports go out through the queue like any of our mail (DKIM-signed with `from`'s domain). */
  readonly queue: OutboundQueue;
  readonly blobs: BlobStore;
  readonly dkimKeys?: DkimKeyStore | null;
  /** Our host name: the submitter (§5.3 `TLS-Report-Submitter`). */
  readonly hostname: string;
  readonly organization?: string;
  /** Address the reports come from and `contact-info` (default `tlsrpt-noreply@<hostname>`). */
  readonly from?: string;
  readonly https?: { readonly port?: number; readonly timeoutMs?: number; readonly ca?: readonly (string | Buffer)[] };
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface TlsReportOutcome {
  readonly domain: string;
  readonly rua: string;
  readonly ok: boolean;
  readonly error?: string;
}

export class TlsReporter {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly outbox: Outbox;

  constructor(private readonly options: TlsReporterOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'tls-rpt' });
    // A report a day old is worthless after a few days: it waits in the queue one day at most.
    this.outbox = new Outbox({ blobs: options.blobs, queue: options.queue, dkimKeys: options.dkimKeys ?? undefined, clock: this.clock, maxQueueMs: 86_400_000 });
  }

  /** Yesterday (UTC): what a daily job sends. Safe to run from several nodes and several times. */
  static yesterday(now: Date): string {
    return new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
  }

  /** Send the reports of `day` and forget its counts (a report that cannot be sent is logged, not retried). */
  async send(day: string): Promise<TlsReportOutcome[]> {
    const counts = await this.options.counts.take(day);
    const byDomain = new Map<string, TlsSessionCount[]>();
    for (const c of counts) byDomain.set(c.domain, [...(byDomain.get(c.domain) ?? []), c]);
    const outcomes: TlsReportOutcome[] = [];
    for (const [domain, rows] of byDomain) {
      let record: { rua: string[] } | null = null;
      try {
        record = parseTlsRptRecord((await this.options.resolver(`_smtp._tls.${domain}`, 'TXT')) as string[][]);
      } catch {
        record = null;
      }
      if (!record) continue;
      const from = this.options.from ?? `tlsrpt-noreply@${this.options.hostname}`;
      const reportId = `${day}.${randomBytes(6).toString('hex')}@${this.options.hostname}`;
      const json = buildTlsReport({
        organization: this.options.organization ?? this.options.hostname,
        contact: from,
        reportId,
        day,
        domain,
        counts: rows,
        policy: await this.options.policies.get(domain).catch(() => null),
      });
      const gz = gzipSync(Buffer.from(JSON.stringify(json)));
      for (const rua of record.rua) {
        try {
          if (rua.startsWith('mailto:')) await this.mail(rua.slice(7), from, domain, day, reportId, gz);
          else await this.post(rua, gz);
          outcomes.push({ domain, rua, ok: true });
          this.log.info({ domain, rua, day }, 'tls-rpt.sent');
        } catch (error) {
          outcomes.push({ domain, rua, ok: false, error: (error as Error).message });
          this.log.warn({ domain, rua, day, reason: (error as Error).message }, 'tls-rpt.failed');
        }
      }
    }
    return outcomes;
  }

  /** RFC 8460 §5.3: multipart/report; report-type="tlsrpt" with the gzip'd JSON attached. */
  private async mail(to: string, from: string, domain: string, day: string, reportId: string, gz: Buffer): Promise<void> {
    const boundary = `tlsrpt-${randomBytes(12).toString('hex')}`;
    const begin = Date.parse(`${day}T00:00:00Z`) / 1000;
    const filename = `${this.options.hostname}!${domain}!${begin}!${begin + 86_400}!${reportId.split('@')[0]}.json.gz`;
    const text = [
      `From: <${from}>`,
      `To: <${to}>`,
      `Date: ${rfc5322Date(this.clock.now())}`,
      `Subject: Report Domain: ${domain} Submitter: ${this.options.hostname} Report-ID: <${reportId}>`,
      `Message-ID: <${reportId}>`,
      `TLS-Report-Domain: ${domain}`,
      `TLS-Report-Submitter: ${this.options.hostname}`,
      'Auto-Submitted: auto-generated',
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      `This is an aggregate TLS report (RFC 8460) from ${this.options.hostname} for ${domain}, ${day}.`,
      '',
      `--${boundary}`,
      'Content-Type: application/tlsrpt+gzip',
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="${filename}"`,
      '',
      ...(gz.toString('base64').match(/.{1,76}/g) ?? []),
      '',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    await this.outbox.submit({ sender: from, recipients: [{ address: to }], parts: [Buffer.from(text)], signDomain: from.split('@')[1] ?? null });
  }

  /** RFC 8460 §5.3.1: POST application/tlsrpt+gzip to the https: URI, certificate verified; 2xx is done. */
  private post(uri: string, gz: Buffer): Promise<void> {
    const url = new URL(uri);
    const https = this.options.https ?? {};
    const resolver = this.options.resolver;
    return new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: https.port ?? (url.port ? Number(url.port) : 443),
          path: `${url.pathname}${url.search}`,
          method: 'POST',
          servername: url.hostname,
          lookup: resolverLookup(resolver) as never,
          minVersion: 'TLSv1.2',
          ...(https.ca?.length ? { ca: [...rootCertificates, ...https.ca] } : {}),
          headers: { 'content-type': 'application/tlsrpt+gzip', 'content-length': gz.length },
          agent: false,
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`HTTP ${status}`));
        },
      );
      req.setTimeout(https.timeoutMs ?? 30_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(gz);
    });
  }
}
