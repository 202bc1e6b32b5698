import { describe, expect, it } from 'vitest';
import { clientNetwork, deviceFailureKey, ipKey } from './throttle.js';

describe('clientNetwork', () => {
  it('keeps IPv4 addresses, maps IPv4-mapped IPv6 to IPv4, and cuts IPv6 to its /64', () => {
    expect(clientNetwork('192.0.2.7')).toBe('192.0.2.7');
    expect(clientNetwork('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientNetwork('::FFFF:192.0.2.7')).toBe('192.0.2.7');
    expect(clientNetwork('2001:db8:aa:1::10')).toBe('2001:db8:aa:1::/64');
    expect(clientNetwork('2001:0DB8:00aa:0001:5c3e:01ff:fe22:0009')).toBe('2001:db8:aa:1::/64');
    expect(clientNetwork('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('bounds whatever else it is given', () => {
    expect(clientNetwork('x'.repeat(1000))).toHaveLength(64);
    expect(ipKey('x'.repeat(1000)).length).toBeLessThanOrEqual(330);
    expect(deviceFailureKey('a'.repeat(1000), 'b'.repeat(1000)).length).toBeLessThanOrEqual(330);
  });
});
