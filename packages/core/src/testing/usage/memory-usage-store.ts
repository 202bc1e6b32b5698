import { InvalidInputError } from '../../errors.js';
import { USAGE_KINDS, usageOf, type AccountUsage, type UsageKind, type UsageStore } from '../../usage/usage-store.js';

export class MemoryUsageStore implements UsageStore {
  private readonly usage = new Map<string, Record<UsageKind, number>>();

  async get(accountId: string): Promise<AccountUsage> {
    const u = this.usage.get(accountId);
    return usageOf(u?.drive ?? 0, u?.mail ?? 0, u?.calendar ?? 0, u?.contacts ?? 0);
  }

  async add(accountId: string, kind: UsageKind, delta: number): Promise<void> {
    if (!USAGE_KINDS.includes(kind)) throw new InvalidInputError('unknown usage kind');
    if (!Number.isSafeInteger(delta)) throw new InvalidInputError('usage delta must be a whole number of bytes');
    const u = this.usage.get(accountId) ?? { drive: 0, mail: 0, calendar: 0, contacts: 0 };
    u[kind] = Math.max(0, u[kind] + delta);
    this.usage.set(accountId, u);
  }
}
