import { describe, expect, it } from 'vitest';
import { decodeSaslLoginLine, decodeSaslPlain } from './sasl.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('SASL PLAIN (RFC 4616) and LOGIN', () => {
  it('decodes PLAIN with and without an authorization identity', () => {
    expect(decodeSaslPlain(b64('\u0000awa@sante.gouv.tg\u0000secret'))).toEqual({ username: 'awa@sante.gouv.tg', password: 'secret' });
    expect(decodeSaslPlain(b64('awa@sante.gouv.tg\u0000awa@sante.gouv.tg\u0000secret'))).toEqual({ username: 'awa@sante.gouv.tg', password: 'secret' });
  });

  it('refuses impersonation, malformed and oversized responses', () => {
    expect(decodeSaslPlain(b64('boss@sante.gouv.tg\u0000awa@sante.gouv.tg\u0000secret'))).toBeNull();
    expect(decodeSaslPlain(b64('awa\u0000secret'))).toBeNull();
    expect(decodeSaslPlain(b64('\u0000\u0000secret'))).toBeNull();
    expect(decodeSaslPlain(b64('\u0000awa\u0000'))).toBeNull();
    expect(decodeSaslPlain(b64('\u0000a\u0000b\u0000c'))).toBeNull();
    expect(decodeSaslPlain('not base64!')).toBeNull();
    expect(decodeSaslPlain('abc')).toBeNull();
    expect(decodeSaslPlain('A'.repeat(10_000))).toBeNull();
    expect(decodeSaslPlain(Buffer.from([0, 0xff, 0, 0x41]).toString('base64'))).toBeNull();
  });

  it('decodes LOGIN lines', () => {
    expect(decodeSaslLoginLine(b64('awa@sante.gouv.tg'))).toBe('awa@sante.gouv.tg');
    expect(decodeSaslLoginLine(b64('a\u0000b'))).toBeNull();
    expect(decodeSaslLoginLine('*')).toBeNull();
  });
});
