import { createHash, randomBytes } from 'node:crypto';

// Base32 without 0/1/8/l/o-lookalikes trouble: RFC 4648 lower-case alphabet, typed easily on phones.
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * App passwords and tokens are random secrets of 100+ bits, stored as their SHA-256: with that much
 * entropy an offline guess is hopeless, so a slow hash (argon2) would add latency to every IMAP login of
 * every device without adding security. The same reasoning is used for API tokens by most providers.
 */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** `abcd-efgh-ijkl-mnop-qrst`: 20 base32 characters (100 bits), grouped for typing on a device. */
export function generateAppPassword(): string {
  const bytes = randomBytes(20);
  let out = '';
  for (let i = 0; i < 20; i++) {
    if (i > 0 && i % 4 === 0) out += '-';
    out += ALPHABET[bytes[i]! & 31];
  }
  return out;
}

export const APP_PASSWORD_PATTERN = /^[a-z2-7]{4}(?:-[a-z2-7]{4}){4}$/;

/** Bearer tokens: `plb_` + 32 random bytes in base64url (256 bits). */
export function generateToken(): string {
  return `plb_${randomBytes(32).toString('base64url')}`;
}

export const TOKEN_PATTERN = /^plb_[A-Za-z0-9_-]{43}$/;

/** App passwords are accepted with or without their dashes and in any case (people retype them). */
export function canonicalAppPassword(candidate: string): string | null {
  const compact = candidate.trim().toLowerCase().replace(/[-\s]/g, '');
  if (!/^[a-z2-7]{20}$/.test(compact)) return null;
  return compact.match(/.{4}/g)!.join('-');
}
