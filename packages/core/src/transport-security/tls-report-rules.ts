import { InvalidInputError } from '../errors.js';
import { checkStsDomain } from './mta-sts-policy-rules.js';
import type { TlsSessionKey } from './tls-report-store.js';

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
