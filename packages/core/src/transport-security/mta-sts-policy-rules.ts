import { InvalidInputError } from '../errors.js';
import type { MtaStsPolicy } from './mta-sts-policy-store.js';

export const MAX_STS_MAX_AGE = 31_557_600;
export const MAX_STS_MX = 64;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;
const MX = /^(\*\.)?(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;
const ID = /^[A-Za-z0-9]{1,32}$/;

export function checkStsDomain(domain: string): string {
  const d = String(domain).toLowerCase();
  if (!DOMAIN.test(d)) throw new InvalidInputError('invalid MTA-STS policy domain');
  return d;
}

/** What the stores accept: the policy as the parser made it, nothing a row could be abused with. */
export function checkStsPolicy(policy: MtaStsPolicy): MtaStsPolicy {
  const domain = checkStsDomain(policy.domain);
  if (!ID.test(policy.id)) throw new InvalidInputError('invalid MTA-STS policy id');
  if (policy.mode !== 'enforce' && policy.mode !== 'testing' && policy.mode !== 'none') throw new InvalidInputError('invalid MTA-STS mode');
  if (!Number.isSafeInteger(policy.maxAge) || policy.maxAge < 0 || policy.maxAge > MAX_STS_MAX_AGE) throw new InvalidInputError('invalid MTA-STS max_age');
  const mx = policy.mx.map((m) => String(m).toLowerCase());
  if (mx.length > MAX_STS_MX || mx.some((m) => !MX.test(m))) throw new InvalidInputError('invalid MTA-STS mx pattern');
  if (!(policy.fetchedAt instanceof Date) || Number.isNaN(policy.fetchedAt.getTime())) throw new InvalidInputError('invalid MTA-STS fetch time');
  return { domain, id: policy.id, mode: policy.mode, mx, maxAge: policy.maxAge, fetchedAt: new Date(policy.fetchedAt.getTime()) };
}
