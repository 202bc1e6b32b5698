import { createHash, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TlsaRecord } from '../dns/dnssec-resolver.js';
import { danePolicyFromAnswer, usableTlsa, verifyDane } from './dane.js';

/**
 * RFC 7672 / 7671 certificate checks on real certificates: a test CA, leaves it signed, a stranger's
 * CA, an expired leaf, wildcard names. Every TLSA form (usage 2/3, selector 0/1, matching 0/1/2).
 */

const day = 24 * 3600_000;
const der = (pem: string) => new X509Certificate(pem).raw;
const spki = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest();
const tlsa = (usage: number, selector: number, matchingType: number, data: Buffer): TlsaRecord => ({ usage, selector, matchingType, data });

async function ca(name: string) {
  return generate([{ name: 'commonName', value: name }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 2 * day),
    extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }],
  });
}

async function leaf(issuer: { private: string; cert: string }, names: string[], dates: { from?: Date; to?: Date } = {}) {
  return generate([{ name: 'commonName', value: names[0]! }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: dates.from ?? new Date(Date.now() - day),
    notAfterDate: dates.to ?? new Date(Date.now() + 2 * day),
    ca: { key: issuer.private, cert: issuer.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
    ],
  });
}

let anchor: Awaited<ReturnType<typeof ca>>;
let stranger: Awaited<ReturnType<typeof ca>>;
let good: Awaited<ReturnType<typeof leaf>>;
let expired: Awaited<ReturnType<typeof leaf>>;
let wildcard: Awaited<ReturnType<typeof leaf>>;
let partial: Awaited<ReturnType<typeof leaf>>;
let forged: Awaited<ReturnType<typeof leaf>>;

beforeAll(async () => {
  anchor = await ca('Anchor CA');
  stranger = await ca('Stranger CA');
  good = await leaf(anchor, ['mx.example.test']);
  expired = await leaf(anchor, ['mx.example.test'], { from: new Date(Date.now() - 3 * day), to: new Date(Date.now() - day) });
  wildcard = await leaf(anchor, ['*.example.test']);
  partial = await leaf(anchor, ['m*.example.test']);
  // Signed by the stranger, presented with the anchor's certificate as if it were its issuer.
  forged = await leaf(stranger, ['mx.example.test']);
});

const names = ['mx.example.test', 'example.test'];

describe('DANE-EE (usage 3): the key or certificate itself, names and dates ignored', () => {
  it('matches every selector and matching type', () => {
    const chain = [der(good.cert)];
    for (const r of [tlsa(3, 1, 1, sha256(spki(good.cert))), tlsa(3, 0, 1, sha256(der(good.cert))), tlsa(3, 0, 0, der(good.cert)), tlsa(3, 1, 2, sha512(spki(good.cert))), tlsa(3, 1, 0, spki(good.cert))]) {
      expect(verifyDane(chain, [r], names)).toEqual({ ok: true, usage: 3 });
    }
  });

  it('an expired certificate for another name still matches (RFC 7672 §3.1.1)', () => {
    expect(verifyDane([der(expired.cert)], [tlsa(3, 1, 1, sha256(spki(expired.cert)))], ['other.example.net'])).toEqual({ ok: true, usage: 3 });
  });

  it('another key does not, nor does a record of the right key with the wrong digest type', () => {
    const v = verifyDane([der(forged.cert)], [tlsa(3, 1, 1, sha256(spki(good.cert)))], names);
    expect(v).toMatchObject({ ok: false, reason: expect.stringMatching(/DANE-EE/) });
    expect(verifyDane([der(good.cert)], [tlsa(3, 1, 2, Buffer.concat([sha256(spki(good.cert)), sha256(spki(good.cert))]))], names).ok).toBe(false);
  });

  it('no certificate, or one that cannot be read, never matches', () => {
    expect(verifyDane([], [tlsa(3, 1, 1, sha256(spki(good.cert)))], names).ok).toBe(false);
    expect(verifyDane([Buffer.from('not a certificate')], [tlsa(3, 0, 0, Buffer.from('not a certificate'))], names).ok).toBe(false);
  });
});

describe('DANE-TA (usage 2): the chain up to the anchor, in date, and the name', () => {
  const ta = () => [tlsa(2, 0, 1, sha256(der(anchor.cert)))];

  it('a leaf of the anchor for the MX host name, the recipient domain or a wildcard', () => {
    expect(verifyDane([der(good.cert), der(anchor.cert)], ta(), names)).toEqual({ ok: true, usage: 2 });
    expect(verifyDane([der(good.cert), der(anchor.cert)], [tlsa(2, 1, 1, sha256(spki(anchor.cert)))], names)).toEqual({ ok: true, usage: 2 });
    expect(verifyDane([der(wildcard.cert), der(anchor.cert)], ta(), names)).toEqual({ ok: true, usage: 2 });
  });

  it('a bare anchor key (2 1 0) not sent in the chain', () => {
    expect(verifyDane([der(good.cert)], [tlsa(2, 1, 0, spki(anchor.cert))], names)).toEqual({ ok: true, usage: 2 });
    expect(verifyDane([der(forged.cert)], [tlsa(2, 1, 0, spki(anchor.cert))], names).ok).toBe(false);
  });

  it('refuses a leaf for another name, a partial wildcard, an expired leaf', () => {
    expect(verifyDane([der(good.cert), der(anchor.cert)], ta(), ['mx.other.test'])).toMatchObject({ ok: false, reason: expect.stringMatching(/names none/) });
    expect(verifyDane([der(partial.cert), der(anchor.cert)], ta(), names).ok).toBe(false);
    expect(verifyDane([der(expired.cert), der(anchor.cert)], ta(), names)).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) });
  });

  it('refuses a leaf the anchor did not sign, presented with the anchor (a forged chain)', () => {
    expect(verifyDane([der(forged.cert), der(anchor.cert)], ta(), names)).toMatchObject({ ok: false, reason: expect.stringMatching(/not signed/) });
  });

  it('the leaf itself is no trust anchor, and a chain without the anchor matches nothing', () => {
    expect(verifyDane([der(good.cert)], [tlsa(2, 0, 1, sha256(der(good.cert)))], names).ok).toBe(false);
    expect(verifyDane([der(good.cert), der(stranger.cert)], ta(), names)).toMatchObject({ ok: false, reason: expect.stringMatching(/no certificate of the chain/) });
  });
});

describe('which TLSA records count (RFC 7672 §3.1.3)', () => {
  it('PKIX-TA/EE, unknown selectors and matching types, and digests of the wrong length are unusable', () => {
    const h = sha256(Buffer.from('x'));
    const records = [tlsa(0, 0, 1, h), tlsa(1, 1, 1, h), tlsa(3, 2, 1, h), tlsa(3, 1, 3, h), tlsa(3, 1, 1, h.subarray(0, 31)), tlsa(2, 1, 2, h), tlsa(3, 1, 0, Buffer.alloc(0)), tlsa(3, 1, 1, h), tlsa(2, 0, 2, sha512(h))];
    expect(usableTlsa(records)).toEqual([tlsa(3, 1, 1, h), tlsa(2, 0, 2, sha512(h))]);
  });

  it('what the TLSA answer asks of the session', () => {
    const h = sha256(Buffer.from('x'));
    const of = (rcode: string, secure: boolean, records: TlsaRecord[]) => danePolicyFromAnswer({ rcode, secure, name: '_25._tcp.mx.example.test', records }, 'mx.example.test');
    expect(of('NXDOMAIN', true, [])).toEqual({ kind: 'none' });
    expect(of('NOERROR', true, [])).toEqual({ kind: 'none' });
    expect(of('NOERROR', false, [tlsa(3, 1, 1, h)])).toEqual({ kind: 'none' });
    expect(of('SERVFAIL', false, [])).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/SERVFAIL/) });
    expect(of('REFUSED', false, [])).toMatchObject({ kind: 'failed' });
    expect(of('NOERROR', true, [tlsa(1, 1, 1, h)])).toEqual({ kind: 'tls-only' });
    expect(of('NOERROR', true, [tlsa(1, 1, 1, h), tlsa(3, 1, 1, h)])).toEqual({ kind: 'dane', records: [tlsa(3, 1, 1, h)] });
  });
});
