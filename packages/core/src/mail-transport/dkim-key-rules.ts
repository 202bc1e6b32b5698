import { normalizeDomain } from '../address.js';
import { InvalidInputError } from '../errors.js';
import type { DkimKey, NewDkimKey } from './dkim-key-store.js';

const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkSelector(selector: string): string {
  const s = typeof selector === 'string' ? selector.toLowerCase() : '';
  if (!SELECTOR.test(s)) throw new InvalidInputError('a DKIM selector is one DNS label (letters, digits, hyphens)');
  return s;
}

/** Validate and normalise a DKIM key the same way in every DkimKeyStore. */
export function checkDkimKey(input: NewDkimKey, pending = false): DkimKey {
  if (input.algorithm !== 'rsa-sha256' && input.algorithm !== 'ed25519-sha256') throw new InvalidInputError('unsupported DKIM algorithm');
  if (typeof input.privateKeyPem !== 'string' || !/^-----BEGIN PRIVATE KEY-----/.test(input.privateKeyPem) || input.privateKeyPem.length > 8000) {
    throw new InvalidInputError('the DKIM private key must be a PKCS#8 PEM');
  }
  if (typeof input.publicKey !== 'string' || !/^[A-Za-z0-9+/=]{20,4000}$/.test(input.publicKey)) throw new InvalidInputError('invalid DKIM public key');
  return {
    domain: normalizeDomain(input.domain),
    selector: checkSelector(input.selector),
    algorithm: input.algorithm,
    privateKeyPem: input.privateKeyPem,
    publicKey: input.publicKey,
    active: !pending,
    pending,
    createdAt: input.createdAt ?? new Date(),
  };
}
