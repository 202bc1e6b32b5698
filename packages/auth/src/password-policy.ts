import { MAX_PASSWORD_BYTES } from './password-hash.js';

export interface PasswordPolicy {
  minLength: number;
}

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = { minLength: 12 };

// The most used passwords in public breach corpora that meet a 12-character minimum; a staff password
// equal to one of them (or to these patterns) is refused whatever its length.
const COMMON = new Set([
  '123456789012',
  '1234567890123',
  'qwertyuiopas',
  'qwerty123456',
  'password1234',
  'password12345',
  'passwordpassword',
  'motdepasse123',
  'motdepasse1234',
  'azertyuiopqs',
  'azerty123456',
  'iloveyou1234',
  'administrator',
  'welcome12345',
  'changeme1234',
  'letmein12345',
  'aaaaaaaaaaaa',
  '000000000000',
  '111111111111',
]);

/**
 * NIST SP 800-63B style: a length floor, no composition rules, refuse the obviously guessable. Returns
 * the problems in plain words (empty when acceptable).
 */
export function checkPasswordPolicy(password: string, context: { address?: string; policy?: PasswordPolicy } = {}): string[] {
  const policy = context.policy ?? DEFAULT_PASSWORD_POLICY;
  const problems: string[] = [];
  if (typeof password !== 'string' || password.length === 0) return ['a password is required'];
  const chars = [...password.normalize('NFC')];
  if (chars.length < policy.minLength) problems.push(`use at least ${policy.minLength} characters`);
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) problems.push(`use at most ${MAX_PASSWORD_BYTES} bytes`);
  if (/[\u0000-\u001f\u007f]/.test(password)) problems.push('control characters are not allowed');
  const lower = password.toLowerCase();
  if (COMMON.has(lower) || new Set(chars).size <= 2) problems.push('this password is too easy to guess');
  if (context.address) {
    const local = context.address.split('@')[0]!.toLowerCase();
    if (local.length >= 3 && lower.includes(local)) problems.push('do not include your address in your password');
  }
  return problems;
}
