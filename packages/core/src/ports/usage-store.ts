/** What an account's storage is used by. Drive and mail share one quota (Account.quotaBytes). */
export type UsageKind = 'drive' | 'mail';

export interface AccountUsage {
  readonly drive: number;
  readonly mail: number;
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
