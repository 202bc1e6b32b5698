/** What an account's storage is used by. Drive, mail, calendars and contacts share one quota (Account.quotaBytes). */
export type UsageKind = 'drive' | 'mail' | 'calendar' | 'contacts';

export const USAGE_KINDS: readonly UsageKind[] = ['drive', 'mail', 'calendar', 'contacts'];

export interface AccountUsage {
  readonly drive: number;
  readonly mail: number;
  readonly calendar: number;
  readonly contacts: number;
  readonly total: number;
}

/**
 * Bytes used per account and kind. Stores that add or remove content update it in the same
 * transaction as the content (the SQL stores use SqlUsageStore.addIn), so usage never drifts from
 * what is stored; quota checks compare `total` with the account's quota.
 */
export interface UsageStore {
  get(accountId: string): Promise<AccountUsage>;
  /** Add (or with a negative delta, remove) bytes; never goes below zero. */
  add(accountId: string, kind: UsageKind, delta: number): Promise<void>;
}

export function usageOf(drive: number, mail: number, calendar: number, contacts: number): AccountUsage {
  return { drive, mail, calendar, contacts, total: drive + mail + calendar + contacts };
}
