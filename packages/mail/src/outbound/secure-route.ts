import type { DnsResolver } from '../auth-results/dns-resolver.js';
import type { DnssecAnswer, DnssecResolver, DnssecType } from '../dns/dnssec-resolver.js';
import { danePolicyOf, type DanePolicy } from './dane.js';
import { lookupMx, type MxAnswer } from './mx.js';

/**
 * The DNSSEC side of RFC 7672 §2.2: MX, addresses and TLSA through the validating resolver, and how
 * far the chain of secure answers reaches. An insecure MX RRset means no DANE for any of its hosts;
 * an insecure address RRset, none for that host; a bogus answer (SERVFAIL) means that host (or, for
 * the MX RRset, the whole domain) gets nothing now.
 */

/** The DNSSEC answers as node:dns-style results and errors, for the lookups written against node:dns. */
export function nodeStyle(resolve: DnssecResolver, seen?: (answer: DnssecAnswer) => void): DnsResolver {
  return async (name, rrtype) => {
    const answer = await resolve(name, rrtype as DnssecType);
    seen?.(answer);
    const fail = (code: string) => Object.assign(new Error(`${rrtype} ${name}: ${answer.rcode}`), { code });
    if (answer.rcode === 'NXDOMAIN') throw fail('ENOTFOUND');
    if (answer.rcode !== 'NOERROR') throw fail('ESERVFAIL');
    if (answer.records.length === 0) throw fail('ENODATA');
    return [...answer.records];
  };
}

/** The domain's MX hosts, and whether the MX RRset (or the implicit MX's address) validated. */
export async function secureMx(resolve: DnssecResolver, domain: string): Promise<{ mx: MxAnswer; secure: boolean }> {
  let secure = true;
  const mx = await lookupMx(domain, nodeStyle(resolve, (a) => (secure &&= a.secure)));
  return { mx, secure: secure && mx.kind === 'hosts' };
}

export type HostRoute =
  /** `names`: the host names a DANE-TA certificate may carry (the MX host, and its CNAME expansion when that was the TLSA base). */
  | { readonly kind: 'route'; readonly address: string; readonly dane: DanePolicy; readonly names: readonly string[] }
  /** The host cannot be used now: a bogus or failed answer. */
  | { readonly kind: 'skip'; readonly reason: string; readonly dnssecInvalid: boolean };

/** The address of an MX host and, where the MX RRset and the address are secure, its TLSA policy. */
export async function routeOf(resolve: DnssecResolver, host: string, mxSecure: boolean): Promise<HostRoute> {
  for (const type of ['A', 'AAAA'] as const) {
    let answer: DnssecAnswer;
    try {
      answer = await resolve(host, type);
    } catch (error) {
      return { kind: 'skip', reason: `${type} lookup for ${host} failed: ${(error as Error).message}`, dnssecInvalid: false };
    }
    if (answer.rcode === 'NXDOMAIN') return { kind: 'skip', reason: `${host} does not exist`, dnssecInvalid: false };
    if (answer.rcode !== 'NOERROR') return { kind: 'skip', reason: `${type} lookup for ${host} answered ${answer.rcode} (bogus or unavailable DNSSEC data)`, dnssecInvalid: answer.rcode === 'SERVFAIL' };
    const address = answer.records.find((r): r is string => typeof r === 'string');
    if (!address) continue;
    if (!mxSecure || !answer.secure) return { kind: 'route', address, dane: { kind: 'none' }, names: [host] };
    // RFC 7672 §2.2.3: an MX host that is a (secure) alias has its TLSA records looked up first at the
    // name the CNAME chain ends on; only where there are none there, at the MX host name itself.
    const expanded = answer.name.replace(/\.$/, '').toLowerCase();
    if (expanded && expanded !== host.replace(/\.$/, '').toLowerCase()) {
      const atTarget = await danePolicyOf(resolve, expanded);
      if (atTarget.kind === 'failed') return { kind: 'skip', reason: atTarget.reason, dnssecInvalid: true };
      if (atTarget.kind !== 'none') return { kind: 'route', address, dane: atTarget, names: [expanded, host] };
    }
    const dane = await danePolicyOf(resolve, host);
    if (dane.kind === 'failed') return { kind: 'skip', reason: dane.reason, dnssecInvalid: true };
    return { kind: 'route', address, dane, names: [host] };
  }
  return { kind: 'skip', reason: `${host} has no address`, dnssecInvalid: false };
}
