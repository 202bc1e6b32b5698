import { isIP } from 'node:net';
import type { DnsResolver } from '../auth-results/dns-resolver.js';

/** An address for `host` through our resolver (A, then AAAA); null when it has none. */
export async function addressOf(resolver: DnsResolver, host: string): Promise<string | null> {
  if (isIP(host)) return host;
  for (const rrtype of ['A', 'AAAA']) {
    const answer = (await resolver(host, rrtype).catch(() => [])) as unknown[];
    if (typeof answer[0] === 'string') return answer[0];
  }
  return null;
}

/**
 * A `lookup` for node:https that asks our resolver: the policy and report hosts are found the way the
 * MX hosts are (one DNS answer source, tables in tests), while the certificate is still checked for the name.
 */
export function resolverLookup(resolver: DnsResolver) {
  return (name: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void): void => {
    addressOf(resolver, name).then(
      (address) => {
        if (!address) return cb(Object.assign(new Error(`no address for ${name}`), { code: 'ENOTFOUND' }));
        if (opts?.all) return cb(null, [{ address, family: isIP(address) }]);
        cb(null, address, isIP(address));
      },
      (error: unknown) => cb(error),
    );
  };
}
