import { BlockList, isIPv6 } from 'node:net';

/** `::ffff:192.0.2.1` → `192.0.2.1`, so one client is one key whatever socket family it came on. */
export function normalizeIp(ip: string | undefined): string {
  const value = ip ?? '';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(value);
  return m ? m[1]! : value;
}

/** CIDR list (`10.0.0.0/8`, `2001:db8::/32`, single addresses) → membership test. */
export function networkMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/');
    const type = isIPv6(address!) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(bits), type);
  }
  return (ip) => {
    const n = normalizeIp(ip);
    try {
      return cidrs.length > 0 && list.check(n, isIPv6(n) ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
  };
}

/**
 * Per-IP connection limits of one listener on one node: concurrent sessions, and new sessions per
 * minute. In memory on purpose: a flood is handled where it lands, without a database round trip.
 */
export class ConnectionLimits {
  private readonly open = new Map<string, number>();
  private readonly recent = new Map<string, { window: number; count: number }>();

  constructor(
    private readonly perIp: number,
    private readonly ratePerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count a new connection; returns why it is refused, or null. Call release() when it closes (if admitted). */
  admit(ip: string): string | null {
    const window = Math.floor(this.now() / 60_000);
    const r = this.recent.get(ip);
    const count = r && r.window === window ? r.count + 1 : 1;
    this.recent.set(ip, { window, count });
    if (this.recent.size > 50_000) for (const [k, v] of this.recent) if (v.window < window) this.recent.delete(k);
    if (this.ratePerMinute > 0 && count > this.ratePerMinute) return 'too many connections per minute';
    const current = this.open.get(ip) ?? 0;
    if (this.perIp > 0 && current >= this.perIp) return 'too many concurrent connections';
    this.open.set(ip, current + 1);
    return null;
  }

  release(ip: string): void {
    const current = this.open.get(ip) ?? 0;
    if (current <= 1) this.open.delete(ip);
    else this.open.set(ip, current - 1);
  }
}
