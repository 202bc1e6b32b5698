import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { checkStsDomain } from './mta-sts-policy-rules.js';
import type { TlsaPolicy, TlsSessionKey } from './tls-report-store.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** RFC 8460 §4.3 result types, and the sts fetch ones. */
export const TLS_RESULT_TYPES = new Set([
  '',
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
  'tlsa-invalid',
  'dnssec-invalid',
  'dane-required',
  'sts-policy-fetch-error',
  'sts-policy-invalid',
  'sts-webpki-invalid',
]);

export function checkTlsDay(day: string): string {
  if (!DAY.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) throw new InvalidInputError('invalid report day');
  return day;
}

export function checkTlsSessionKey(key: TlsSessionKey, n: number): TlsSessionKey {
  checkTlsDay(key.day);
  const domain = checkStsDomain(key.domain);
  if (key.policyType !== 'sts' && key.policyType !== 'tlsa' && key.policyType !== 'no-policy-found') throw new InvalidInputError('invalid policy type');
  if (!/^[A-Za-z0-9]{0,32}$/.test(key.policyId)) throw new InvalidInputError('invalid policy id');
  if (!TLS_RESULT_TYPES.has(key.resultType)) throw new InvalidInputError('invalid result type');
  const mx = key.receivingMx.toLowerCase();
  if (mx !== '' && !/^[a-z0-9.-]{1,253}$/.test(mx)) throw new InvalidInputError('invalid MX host name');
  if (!Number.isSafeInteger(n) || n < 1 || n > 1_000_000) throw new InvalidInputError('invalid session count');
  return { ...key, domain, receivingMx: mx };
}

/** A TLSA policy's id: the same base and record set (in any order) give the same 32 characters on every node. */
export function tlsaPolicyId(domain: string, records: readonly string[]): string {
  const canonical = [domain.toLowerCase(), ...[...records].map((r) => r.toUpperCase()).sort()].join('\n');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

// RFC 6698 §2.2 presentation: usage, selector, matching type (0–255) and the data in hex. A full
// certificate (matching type 0) can be a few KiB; 16 KiB of hex and 16 records bound any real set.
const TLSA_TEXT = /^(\d{1,3}) (\d{1,3}) (\d{1,3}) ([0-9A-F]{2,16384})$/;

export function checkTlsaPolicy(policy: TlsaPolicy): TlsaPolicy {
  checkTlsDay(policy.day);
  const domain = checkStsDomain(policy.domain);
  if (!Array.isArray(policy.records) || policy.records.length < 1 || policy.records.length > 16) throw new InvalidInputError('invalid TLSA record set');
  const records = policy.records.map((r) => {
    const m = typeof r === 'string' ? TLSA_TEXT.exec(r.toUpperCase()) : null;
    if (!m || [m[1], m[2], m[3]].some((n) => Number(n) > 255) || m[4]!.length % 2 !== 0) throw new InvalidInputError('invalid TLSA record');
    return m[0];
  });
  if (policy.id !== tlsaPolicyId(domain, records)) throw new InvalidInputError('TLSA policy id does not match its records');
  return { day: policy.day, id: policy.id, domain, records };
}
