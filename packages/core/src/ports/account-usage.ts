/**
 * Bytes each account stores, per kind (`drive`, `mail`…), so that one quota covers drive and mail. Stores
 * update it in the same transaction as the write that changes the bytes (see SqlAccountUsage.addIn).
 */
export interface AccountUsage {
  /** Total across kinds and the breakdown; an account that stored nothing uses 0. */
  usage(accountId: string): Promise<{ readonly total: number; readonly byKind: Readonly<Record<string, number>> }>;
}

export const USAGE_KINDS = ['drive', 'mail'] as const;
export type UsageKind = (typeof USAGE_KINDS)[number];
