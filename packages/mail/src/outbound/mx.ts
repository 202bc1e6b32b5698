import type { DnsResolver } from '../auth-results/dns-resolver.js';

export interface Destination {
  /** Host name to connect to (and to check the certificate against). */
  readonly host: string;
  readonly priority: number;
}

export type MxAnswer =
  | { readonly kind: 'hosts'; readonly hosts: readonly Destination[] }
  /** RFC 7505 null MX, or a domain that does not exist: the mail can never be delivered. */
  | { readonly kind: 'none'; readonly reason: string }
  /** DNS could not answer now: try later. */
  | { readonly kind: 'temporary'; readonly reason: string };

const NXDOMAIN = new Set(['ENOTFOUND', 'ENONAME']);
const NODATA = new Set(['ENODATA']);

/** RFC 5321 §5.1: MX hosts by preference (ties shuffled), else the domain itself (implicit MX). */
export async function lookupMx(domain: string, resolve: DnsResolver, random: () => number = Math.random): Promise<MxAnswer> {
  try {
    const records = (await resolve(domain, 'MX')) as { exchange: string; priority: number }[];
    if (records.length === 1 && (records[0]!.exchange === '' || records[0]!.exchange === '.')) {
      return { kind: 'none', reason: `${domain} does not accept mail (null MX)` };
    }
    const hosts = records
      .filter((r) => r.exchange && r.exchange !== '.')
      .map((r) => ({ host: r.exchange.replace(/\.$/, '').toLowerCase(), priority: r.priority, tie: random() }))
      .sort((a, b) => a.priority - b.priority || a.tie - b.tie)
      .map(({ host, priority }) => ({ host, priority }));
    if (hosts.length > 0) return { kind: 'hosts', hosts };
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (NXDOMAIN.has(code)) return { kind: 'none', reason: `domain ${domain} does not exist` };
    if (!NODATA.has(code)) return { kind: 'temporary', reason: `MX lookup for ${domain} failed (${code || 'error'})` };
  }
  // No MX: the domain's own address records, if any (implicit MX).
  for (const rrtype of ['A', 'AAAA']) {
    try {
      if ((await resolve(domain, rrtype)).length > 0) return { kind: 'hosts', hosts: [{ host: domain, priority: 0 }] };
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (!NODATA.has(code) && !NXDOMAIN.has(code)) return { kind: 'temporary', reason: `address lookup for ${domain} failed (${code || 'error'})` };
    }
  }
  return { kind: 'none', reason: `${domain} has no mail server (no MX, A or AAAA record)` };
}
