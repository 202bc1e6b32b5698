import { promises as dns } from 'node:dns';

/** The resolver shape mailauth and the outbound MX lookup use (as node:dns `resolve`). */
export type DnsResolver = (name: string, rrtype: string) => Promise<any[]>;

export interface CachingResolverOptions {
  /** Positive answers are kept this long (node:dns gives no TTL for every type). */
  ttlMs?: number;
  /** "No such name/data" answers are kept this long. */
  negativeTtlMs?: number;
  /** Abandon a lookup after this long (a temporary error, mail is deferred not refused). */
  timeoutMs?: number;
  maxEntries?: number;
  /** The resolver underneath (default node:dns). */
  resolve?: DnsResolver;
  now?: () => number;
}

const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

/**
 * A small DNS cache in front of node:dns: SPF, DKIM and DMARC ask for the same few records over and
 * over (every message of one sender), and MX lookups repeat for every queued message of a domain.
 * Concurrent lookups of one name share a single query.
 */
export function cachingResolver(options: CachingResolverOptions = {}): DnsResolver {
  const ttl = options.ttlMs ?? 300_000;
  const negativeTtl = options.negativeTtlMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const max = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const base: DnsResolver = options.resolve ?? ((name, rrtype) => dns.resolve(name, rrtype as 'TXT') as Promise<any[]>);
  const cache = new Map<string, { expires: number; value?: any[]; error?: Error }>();
  const inflight = new Map<string, Promise<any[]>>();
  return async (name: string, rrtype: string) => {
    const key = `${rrtype}\u0000${name.toLowerCase()}`;
    const hit = cache.get(key);
    if (hit && hit.expires > now()) {
      if (hit.error) throw hit.error;
      return hit.value!;
    }
    let pending = inflight.get(key);
    if (!pending) {
      pending = (async () => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const value = await Promise.race([
            base(name, rrtype),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(Object.assign(new Error(`DNS timeout for ${rrtype} ${name}`), { code: 'ETIMEOUT' })), timeoutMs);
            }),
          ]);
          remember(key, { expires: now() + ttl, value });
          return value;
        } catch (error) {
          const code = (error as { code?: string }).code ?? '';
          if (NEGATIVE.has(code)) remember(key, { expires: now() + negativeTtl, error: error as Error });
          throw error;
        } finally {
          clearTimeout(timer);
          inflight.delete(key);
        }
      })();
      inflight.set(key, pending);
    }
    return pending;
  };

  function remember(key: string, entry: { expires: number; value?: any[]; error?: Error }): void {
    if (cache.size >= max) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, entry);
  }
}
