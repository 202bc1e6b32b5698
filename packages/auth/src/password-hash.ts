import argon2 from 'argon2';
import type { Argon2Config } from '@palabre/core';

/**
 * argon2id (RFC 9106) password hashes in PHC string form. Defaults are OWASP's minimum for argon2id
 * (19 MiB, 2 iterations, 1 lane); `npm run bench` reports the login rate they give on this hardware.
 */
export const DEFAULT_ARGON2: Argon2Config = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

/** Longer passwords are refused before hashing: hashing megabytes is a denial-of-service lever. */
export const MAX_PASSWORD_BYTES = 1024;

export async function hashPassword(password: string, params: Argon2Config = DEFAULT_ARGON2): Promise<string> {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw new RangeError('password too long');
  return argon2.hash(password.normalize('NFC'), {
    type: argon2.argon2id,
    memoryCost: params.memoryKiB,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  });
}

/** Constant-time verification (argon2 compares in constant time). False for any malformed hash. */
export async function verifyPasswordHash(hash: string, password: string): Promise<boolean> {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
  if (!hash.startsWith('$argon2')) return false;
  try {
    return await argon2.verify(hash, password.normalize('NFC'));
  } catch {
    return false;
  }
}

/** True when a stored hash was made with weaker parameters than the configured ones. */
export function needsRehash(hash: string, params: Argon2Config = DEFAULT_ARGON2): boolean {
  if (!hash.startsWith('$argon2id$')) return true;
  try {
    return argon2.needsRehash(hash, { memoryCost: params.memoryKiB, timeCost: params.iterations, parallelism: params.parallelism });
  } catch {
    return true;
  }
}

let dummyHash: Promise<string> | null = null;

/**
 * Spend the same time as a real verification when there is nothing to verify (unknown user, no local
 * password), so response times do not tell an attacker which addresses exist.
 */
export async function burnVerification(password: string, params: Argon2Config = DEFAULT_ARGON2): Promise<void> {
  dummyHash ??= hashPassword('palabre-timing-equaliser', params);
  await verifyPasswordHash(await dummyHash, password.slice(0, 256));
}
