import { describe, expect, it } from 'vitest';
import { decodeLoginLine, decodePlain } from './sasl.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('SASL decoding', () => {
  it('decodes PLAIN with and without an authorization identity', () => {
    expect(decodePlain(b64('\u0000awa@x.test\u0000s3cret'))).toEqual({ username: 'awa@x.test', password: 's3cret' });
    expect(decodePlain(b64('AWA@x.test\u0000awa@x.test\u0000pw'))).toEqual({ username: 'awa@x.test', password: 'pw' });
  });

  it('refuses acting as someone else, missing parts, bad base64, oversized input and invalid UTF-8', () => {
    expect(decodePlain(b64('boss@x.test\u0000awa@x.test\u0000pw'))).toBeNull();
    expect(decodePlain(b64('\u0000awa@x.test\u0000'))).toBeNull();
    expect(decodePlain(b64('awa@x.test\u0000pw'))).toBeNull();
    expect(decodePlain('not base64!')).toBeNull();
    expect(decodePlain('abc')).toBeNull();
    expect(decodePlain(b64('\u0000u\u0000' + 'p'.repeat(5000)))).toBeNull();
    expect(decodePlain(Buffer.from([0, 0x75, 0, 0xff, 0xfe]).toString('base64'))).toBeNull();
  });

  it('decodes LOGIN lines', () => {
    expect(decodeLoginLine(b64('awa@x.test'))).toBe('awa@x.test');
    expect(decodeLoginLine(b64('a\u0000b'))).toBeNull();
    expect(decodeLoginLine('***')).toBeNull();
  });
});
