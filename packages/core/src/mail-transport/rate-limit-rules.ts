import { InvalidInputError } from '../errors.js';

export function checkRateKey(key: string, cost: number, windowMs: number): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 330) throw new InvalidInputError('invalid rate-limit key');
  if (!Number.isSafeInteger(cost) || cost < 0) throw new InvalidInputError('invalid rate-limit cost');
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new InvalidInputError('invalid rate-limit window');
}
