import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { DnssecAnswer, DnssecResolver, TlsaRecord } from '../dns/dnssec-resolver.js';

/**
 * SMTP DANE (RFC 7672) with the TLSA semantics of RFC 6698 and RFC 7671: what the DNSSEC-validated
 * TLSA RRset of an MX host asks of the TLS session, and the check of the server's certificate chain
 * against it.
 *
 * Only DANE-TA(2) and DANE-EE(3) are usable for SMTP (RFC 7672 §3.1.3: an MX host is found by DNS,
 * not by a name a CA could have checked, so PKIX-TA/EE give nothing). DANE-EE binds the key (or the
 * certificate) itself: names and dates are ignored (§3.1.1). DANE-TA names a trust anchor: the chain
 * from the leaf up to it must hold, each certificate in date, and the leaf must carry one of the
 * reference identifiers (§3.2.2: the MX host name, and the recipient domain).
 */

/** The TLSA records that can authenticate an SMTP server (usage 2/3, selector 0/1, matching type 0/1/2 of the right length). */
export function usableTlsa(records: readonly TlsaRecord[]): TlsaRecord[] {
  return records.filter((r) => {
    if (r.usage !== 2 && r.usage !== 3) return false;
    if (r.selector !== 0 && r.selector !== 1) return false;
    if (r.matchingType === 0) return r.data.length > 0;
    if (r.matchingType === 1) return r.data.length === 32;
    if (r.matchingType === 2) return r.data.length === 64;
    return false;
  });
}

/** What one MX host's TLSA lookup asks for (RFC 7672 §2.2). */
export type DanePolicy =
  /** No DANE for this host: the MX or address answer was insecure, or a secure denial of TLSA records. */
  | { readonly kind: 'none' }
  /** Secure TLSA with usable records: TLS is mandatory and must match one of them. */
  | { readonly kind: 'dane'; readonly records: readonly TlsaRecord[] }
  /** Secure TLSA, none usable: TLS is still mandatory, unauthenticated (§2.2). */
  | { readonly kind: 'tls-only' }
  /** The TLSA answer is bogus or could not be had: this host gets nothing now (§2.2: try the next, else defer). */
  | { readonly kind: 'failed'; readonly reason: string };

/** The TLSA base of SMTP on port 25 (RFC 7672 §2.2.3): `_25._tcp.<MX host>`. */
export function tlsaName(host: string): string {
  return `_25._tcp.${host.replace(/\.$/, '').toLowerCase()}`;
}

/** RFC 7672 §2.2: the policy of `host` from its TLSA RRset. Call only for hosts of a secure MX RRset with secure addresses. */
export async function danePolicyOf(resolve: DnssecResolver, host: string): Promise<DanePolicy> {
  let answer: DnssecAnswer;
  try {
    answer = await resolve(tlsaName(host), 'TLSA');
  } catch (error) {
    return { kind: 'failed', reason: `TLSA lookup for ${tlsaName(host)} failed: ${(error as Error).message}` };
  }
  return danePolicyFromAnswer(answer, host);
}

export function danePolicyFromAnswer(answer: DnssecAnswer, host: string): DanePolicy {
  // NXDOMAIN or NODATA: no TLSA here (insecure denials included: either way nothing to authenticate with).
  if (answer.rcode === 'NXDOMAIN' || (answer.rcode === 'NOERROR' && answer.records.length === 0)) return { kind: 'none' };
  // SERVFAIL is how a validating resolver reports bogus data; REFUSED and the rest are failures too (§2.1.1).
  if (answer.rcode !== 'NOERROR') return { kind: 'failed', reason: `TLSA lookup for ${tlsaName(host)} answered ${answer.rcode} (bogus or unavailable DNSSEC data)` };
  if (!answer.secure) return { kind: 'none' };
  const usable = usableTlsa(answer.records as TlsaRecord[]);
  return usable.length > 0 ? { kind: 'dane', records: usable } : { kind: 'tls-only' };
}

export type DaneVerdict = { readonly ok: true; readonly usage: 2 | 3 } | { readonly ok: false; readonly reason: string };

function spkiOf(cert: X509Certificate): Buffer {
  return cert.publicKey.export({ type: 'spki', format: 'der' });
}

function matches(record: TlsaRecord, cert: X509Certificate): boolean {
  const selected = record.selector === 0 ? cert.raw : spkiOf(cert);
  const digest = record.matchingType === 0 ? selected : createHash(record.matchingType === 1 ? 'sha256' : 'sha512').update(selected).digest();
  return digest.equals(record.data);
}

const inDate = (cert: X509Certificate, now: Date) => Date.parse(cert.validFrom) <= now.getTime() && now.getTime() <= Date.parse(cert.validTo);

function signedBy(cert: X509Certificate, issuer: X509Certificate | KeyObject): boolean {
  try {
    if (issuer instanceof X509Certificate) return cert.checkIssued(issuer) && issuer.ca && cert.verify(issuer.publicKey);
    return cert.verify(issuer);
  } catch {
    return false;
  }
}

/** RFC 7672 §3.2.3: the leaf names one reference identifier; a wildcard only as the whole left-most label. */
function namesOne(leaf: X509Certificate, names: readonly string[]): boolean {
  return names.some((n) => leaf.checkHost(n.replace(/\.$/, ''), { partialWildcards: false, subject: 'default' }) !== undefined);
}

/**
 * Checks the chain the server sent (leaf first, DER) against the usable TLSA records. A DANE-TA
 * anchor may be a certificate of the chain, or, for a `2 1 0` record, a bare public key that signed
 * the top of the chain (RFC 7671 §5.2.3).
 */
export function verifyDane(chainDer: readonly Buffer[], records: readonly TlsaRecord[], referenceNames: readonly string[], now = new Date()): DaneVerdict {
  let chain: X509Certificate[];
  try {
    chain = chainDer.slice(0, 10).map((der) => new X509Certificate(der));
  } catch {
    return { ok: false, reason: 'the server sent a certificate that cannot be read' };
  }
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: 'the server sent no certificate' };
  if (records.some((r) => r.usage === 3 && matches(r, leaf))) return { ok: true, usage: 3 };
  const taRecords = records.filter((r) => r.usage === 2);
  let why = records.some((r) => r.usage === 3) ? 'the certificate matches no DANE-EE record' : '';
  if (taRecords.length > 0) {
    const ta = anchorIndex(chain, taRecords);
    if (ta === null) why = appendReason(why, 'no certificate of the chain matches a DANE-TA record');
    else {
      const path = chainUpTo(chain, ta);
      if (typeof path === 'string') why = appendReason(why, path);
      else if (path.some((c) => !inDate(c, now))) why = appendReason(why, 'a certificate below the DANE-TA trust anchor is expired or not yet valid');
      else if (!namesOne(leaf, referenceNames)) why = appendReason(why, `the certificate (DANE-TA) names none of ${referenceNames.join(', ')}`);
      else return { ok: true, usage: 2 };
    }
  }
  return { ok: false, reason: why || 'no usable TLSA record' };
}

const appendReason = (a: string, b: string) => (a ? `${a}; ${b}` : b);

/** Where the trust anchor is: an index into the chain (never the leaf), or a bare key past its top. */
function anchorIndex(chain: readonly X509Certificate[], records: readonly TlsaRecord[]): number | KeyObject | null {
  for (let i = 1; i < chain.length; i++) if (records.some((r) => matches(r, chain[i]!))) return i;
  for (const r of records) {
    if (r.selector !== 1 || r.matchingType !== 0) continue;
    try {
      const key = createPublicKey({ key: r.data, format: 'der', type: 'spki' });
      if (signedBy(chain[chain.length - 1]!, key)) return key;
    } catch {
      // Not a key: the record is unusable.
    }
  }
  return null;
}

/** The certificates from the leaf to just below the anchor, each signed by the next; or why not. */
function chainUpTo(chain: readonly X509Certificate[], anchor: number | KeyObject): X509Certificate[] | string {
  const top = typeof anchor === 'number' ? anchor : chain.length;
  for (let i = 0; i < top; i++) {
    const issuer = i + 1 < top || typeof anchor === 'number' ? chain[i + 1]! : anchor;
    if (!signedBy(chain[i]!, issuer)) return `certificate ${i} of the chain is not signed by the next one up to the DANE-TA trust anchor`;
  }
  return chain.slice(0, top);
}

/** The chain as the server sent it, leaf first, from node:tls's detailed peer certificate. */
export function peerChain(detailed: { raw?: Buffer; issuerCertificate?: unknown } | null | undefined): Buffer[] {
  const out: Buffer[] = [];
  let cert = detailed as { raw?: Buffer; issuerCertificate?: unknown } | undefined;
  while (cert?.raw && out.length < 10) {
    if (out.some((c) => c.equals(cert!.raw!))) break; // a self-signed root points at itself
    out.push(cert.raw);
    cert = cert.issuerCertificate as typeof cert;
  }
  return out;
}
