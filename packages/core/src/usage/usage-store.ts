import { InvalidInputError } from '../errors.js';

/** What an account's storage is used by. Drive, mail, calendars and contacts share one quota (Account.quotaBytes). */
export type UsageKind = 'drive' | 'mail' | 'calendar' | 'contacts';

export const USAGE_KINDS: readonly UsageKind[] = ['drive', 'mail', 'calendar', 'contacts'];

export interface AccountUsage {
  readonly drive: number;
  readonly mail: number;
  readonly calendar: number;
  readonly contacts: number;
  readonly total: number;
  /** Mail messages stored (RFC 9208 MESSAGE), counted beside their bytes. */
  readonly messages: number;
}

/**
 * Bytes used per account and kind. Stores that add or remove content update it in the same
 * transaction as the content (the SQL stores use SqlUsageStore.addIn), so usage never drifts from
 * what is stored; quota checks compare `total` with the account's quota.
 */
export interface UsageStore {
  get(accountId: string): Promise<AccountUsage>;
  /** Add (or with a negative delta, remove) bytes, and for 'mail' messages; neither goes below zero. */
  add(accountId: string, kind: UsageKind, delta: number, messages?: number): Promise<void>;
}

export function usageOf(drive: number, mail: number, calendar: number, contacts: number, messages = 0): AccountUsage {
  return { drive, mail, calendar, contacts, total: drive + mail + calendar + contacts, messages };
}

/** The checks every UsageStore makes on a change (so the memory store refuses what the SQL one does). */
export function checkUsageDelta(kind: UsageKind, delta: number, messages: number): void {
  if (!USAGE_KINDS.includes(kind)) throw new InvalidInputError('unknown usage kind');
  if (!Number.isSafeInteger(delta)) throw new InvalidInputError('usage delta must be a whole number of bytes');
  if (!Number.isSafeInteger(messages) || (messages !== 0 && kind !== 'mail')) throw new InvalidInputError('only mail counts messages, in whole numbers');
}
