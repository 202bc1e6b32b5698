import { describe, expect, it } from 'vitest';
import { checkConfig } from '../src/config.js';

describe('checkConfig', () => {
  it('refuses a misspelt or unknown setting at any depth, naming it, instead of keeping the default', () => {
    for (const [input, path] of [
      [{ connections: { perAdress: 0 } }, 'connections.perAdress'],
      [{ smtp: { limits: { connectionsPerIp: 0 } } }, 'smtp.limits.connectionsPerIp'],
      [{ hostnme: 'mail.example.test' }, 'hostnme'],
      [{ tls: { certificates: [{ certFile: 'a', keyFile: 'b', chain: 'c' }] } }, 'tls.certificates.0.chain'],
    ] as const) {
      const result = checkConfig(input);
      expect(result.success).toBe(false);
      if (!result.success) expect(result.problems).toEqual([`${path}: unknown setting (misspelt, or not in this version?)`]);
    }
  });

  it('accepts what it knows, with defaults for the rest', () => {
    const result = checkConfig({ connections: { perAddress: 0 }, smtp: { limits: { connectionRatePerIp: 0 } } });
    expect(result.success && result.config.connections).toMatchObject({ perAddress: 0, global: 20_000 });
  });
});
