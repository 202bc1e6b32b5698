import { checkUsageDelta, usageOf, type AccountUsage, type UsageKind, type UsageStore } from '../../usage/usage-store.js';

export class MemoryUsageStore implements UsageStore {
  private readonly usage = new Map<string, Record<UsageKind | 'messages', number>>();

  async get(accountId: string): Promise<AccountUsage> {
    const u = this.usage.get(accountId);
    return usageOf(u?.drive ?? 0, u?.mail ?? 0, u?.calendar ?? 0, u?.contacts ?? 0, u?.messages ?? 0);
  }

  async add(accountId: string, kind: UsageKind, delta: number, messages = 0): Promise<void> {
    checkUsageDelta(kind, delta, messages);
    const u = this.usage.get(accountId) ?? { drive: 0, mail: 0, calendar: 0, contacts: 0, messages: 0 };
    u[kind] = Math.max(0, u[kind] + delta);
    u.messages = Math.max(0, u.messages + messages);
    this.usage.set(accountId, u);
  }
}
