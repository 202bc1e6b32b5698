/**
 * Sieve scripts (RFC 5228) per account, as ManageSieve (RFC 5804) sees them: named, at most one
 * active; and one script per domain that an administrator sets, run before the user's. The store
 * keeps text only: the mail package validates a script before it is put here.
 */
export interface SieveScriptInfo {
  readonly name: string;
  readonly active: boolean;
  readonly size: number;
  readonly updatedAt: Date;
}

export interface SieveScript extends SieveScriptInfo {
  readonly accountId: string;
  readonly content: string;
}

export interface SieveScriptStore {
  /** The account's scripts by name (code-point order). */
  list(accountId: string): Promise<SieveScriptInfo[]>;
  get(accountId: string, name: string): Promise<SieveScript | null>;
  /** The active script, or null when none is. */
  getActive(accountId: string): Promise<SieveScript | null>;
  /** Create or replace by name; the active flag is kept. QuotaExceededError past the script count. */
  put(accountId: string, name: string, content: string): Promise<SieveScriptInfo>;
  /** Make `name` the one active script; null deactivates all. NotFoundError for an unknown name. */
  setActive(accountId: string, name: string | null): Promise<void>;
  /** NotFoundError for an unknown name, ConflictError when `to` exists. */
  rename(accountId: string, from: string, to: string): Promise<void>;
  /** NotFoundError for an unknown name, ConflictError for the active script (RFC 5804 §2.10). */
  delete(accountId: string, name: string): Promise<void>;
  getDomainScript(domainId: string): Promise<string | null>;
  /** null removes it. */
  setDomainScript(domainId: string, content: string | null): Promise<void>;
}
