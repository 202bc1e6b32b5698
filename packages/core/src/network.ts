import { BlockList, isIP, isIPv6 } from 'node:net';

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
 * The client's network as limits count it: an IPv4 address, or the /64 of an IPv6 address (one
 * customer's prefix: an attacker picks any of its 2^64 addresses at will, and a phone changes its own
 * within it). IPv4-mapped IPv6 is IPv4.
 */
export function clientNetwork(ip: string): string {
  const text = ip.slice(0, 64);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
  if (mapped) return mapped[1]!;
  if (isIP(text) !== 6) return text.toLowerCase();
  const [head = '', tail = ''] = text.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail takes two groups; it never reaches the first four anyway.
  const groups = text.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
