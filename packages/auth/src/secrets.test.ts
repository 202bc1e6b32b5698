import { describe, expect, it } from 'vitest';
import { APP_PASSWORD_PATTERN, canonicalAppPassword, generateAppPassword, generateToken, secretHash, TOKEN_PATTERN } from './secrets.js';
import { checkPasswordPolicy } from './password-policy.js';
import { hashPassword, MAX_PASSWORD_BYTES, needsRehash, verifyPasswordHash } from './password-hash.js';

describe('secrets', () => {
  it('generates distinct, well-formed app passwords and tokens', () => {
    const many = new Set(Array.from({ length: 200 }, generateAppPassword));
    expect(many.size).toBe(200);
    for (const p of many) expect(p).toMatch(APP_PASSWORD_PATTERN);
    expect(generateToken()).toMatch(TOKEN_PATTERN);
    expect(secretHash('x')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('canonicalises app passwords typed without dashes or in capitals', () => {
    const p = generateAppPassword();
    expect(canonicalAppPassword(p.toUpperCase().replace(/-/g, ' '))).toBe(p);
    expect(canonicalAppPassword('not an app password')).toBeNull();
  });
});

describe('password policy', () => {
  it('asks for length, refuses the guessable and the address, allows passphrases', () => {
    expect(checkPasswordPolicy('short')).toEqual(['use at least 12 characters']);
    expect(checkPasswordPolicy('password1234')).toEqual(['this password is too easy to guess']);
    expect(checkPasswordPolicy('aaaaaaaaaaaaaaaaaaaa')).toEqual(['this password is too easy to guess']);
    expect(checkPasswordPolicy('kofi-mensah-2026', { address: 'kofi@sante.gouv.tg' })).toEqual(['do not include your address in your password']);
    expect(checkPasswordPolicy('x\u0000'.repeat(10))).toContain('control characters are not allowed');
    expect(checkPasswordPolicy('é'.repeat(600))).toContain(`use at most ${MAX_PASSWORD_BYTES} bytes`);
    expect(checkPasswordPolicy('le soleil se lève à Lomé')).toEqual([]);
  });
});

describe('argon2id hashes', () => {
  const params = { memoryKiB: 19456, iterations: 2, parallelism: 1 };
  it('hashes with argon2id, verifies NFC-equivalent input, refuses garbage', async () => {
    const hash = await hashPassword('Café au lait 2026', params);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await verifyPasswordHash(hash, 'Café au lait 2026')).toBe(true);
    expect(await verifyPasswordHash(hash, 'Cafe\u0301 au lait 2026')).toBe(true);
    expect(await verifyPasswordHash(hash, 'Café au lait 2027')).toBe(false);
    expect(await verifyPasswordHash('$2b$10$notargon', 'x')).toBe(false);
    expect(await verifyPasswordHash('$argon2id$garbage', 'x')).toBe(false);
    expect(await verifyPasswordHash(hash, 'x'.repeat(1_000_000))).toBe(false);
    await expect(hashPassword('x'.repeat(2000), params)).rejects.toThrow(RangeError);
    expect(needsRehash(hash, params)).toBe(false);
    expect(needsRehash(hash, { ...params, iterations: 3 })).toBe(true);
  });
});
