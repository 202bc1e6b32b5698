import { getPolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import type { DnsResolver } from '../auth-results/dns-resolver.js';

export interface StsPolicy {
  readonly mode: 'enforce' | 'testing' | 'none';
  readonly mx: readonly string[];
  readonly expires: number;
}

export interface MtaStsVerdict {
  /** Hosts we may use (all of them unless an enforced policy excludes some). */
  readonly allowed: (host: string) => boolean;
  /** Enforced policy: TLS with a valid certificate for the MX name is required. */
  readonly requireTls: boolean;
  readonly mode: StsPolicy['mode'];
}

const NONE: MtaStsVerdict = { allowed: () => true, requireTls: false, mode: 'none' };

/**
 * RFC 8461 for outbound delivery: the recipient domain's policy, fetched over HTTPS when its DNS
 * record announces one, cached until it expires (per node). A fetch failure with no cached policy
 * means no policy (RFC 8461 §5: fail open), a cached one stays in force.
 */
export class MtaStsCache {
  private readonly cache = new Map<string, { policy: StsPolicy & { id?: string }; until: number }>();

  constructor(
    private readonly resolver?: DnsResolver,
    private readonly now: () => number = Date.now,
  ) {}

  async verdict(domain: string): Promise<MtaStsVerdict> {
    const known = this.cache.get(domain);
    if (known && known.until > this.now()) return toVerdict(known.policy);
    let policy: (StsPolicy & { id?: string }) | null = known?.policy ?? null;
    try {
      const result = (await getPolicy(domain, known?.policy as never, { resolver: this.resolver } as never)) as unknown as {
        policy: { mode: string; mx?: string[]; maxAge?: number; id?: string; expires?: string };
        status: string;
      };
      const p = result.policy;
      if (p && (p.mode === 'enforce' || p.mode === 'testing')) {
        policy = { mode: p.mode, mx: p.mx ?? [], expires: p.expires ? Date.parse(p.expires) : this.now() + 86400_000, id: p.id };
      } else {
        policy = null;
      }
    } catch {
      // keep whatever was cached
    }
    if (!policy) {
      this.cache.set(domain, { policy: { mode: 'none', mx: [], expires: 0 }, until: this.now() + 3600_000 });
      return NONE;
    }
    this.cache.set(domain, { policy, until: Math.min(policy.expires, this.now() + 86400_000) });
    return toVerdict(policy);
  }
}

function toVerdict(policy: StsPolicy): MtaStsVerdict {
  if (policy.mode !== 'enforce') return { ...NONE, mode: policy.mode };
  return {
    mode: 'enforce',
    requireTls: true,
    allowed: (host) => (validateMx(host, { mode: 'enforce', mx: [...policy.mx] } as never) as { valid: boolean }).valid,
  };
}
