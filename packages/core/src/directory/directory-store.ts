import type {
  Account,
  AccountStatus,
  AddressTarget,
  Alias,
  AppCredential,
  CredentialKind,
  Domain,
  Group,
  GroupMember,
} from './directory.js';

export interface NewDomain {
  name: string;
  defaultQuotaBytes?: number | null;
  defaultQuotaMessages?: number | null;
  defaultQuotaMailboxes?: number | null;
}

export interface NewAccount {
  address: string;
  displayName?: string;
  department?: string | null;
  /** undefined: the domain's default quota. */
  quotaBytes?: number | null;
  /** undefined: the domain's default limits. */
  quotaMessages?: number | null;
  quotaMailboxes?: number | null;
  status?: AccountStatus;
  /** An encoded hash (PHC string) or null for accounts that authenticate elsewhere (LDAP). */
  passwordHash?: string | null;
}

export interface AccountPatch {
  displayName?: string;
  department?: string | null;
  quotaBytes?: number | null;
  quotaMessages?: number | null;
  quotaMailboxes?: number | null;
  status?: AccountStatus;
}

export interface AccountPage {
  readonly accounts: readonly Account[];
  /** Pass back as `after` for the next page; null at the end. */
  readonly next: string | null;
}

export interface ListAccountsQuery {
  domain?: string;
  /** Opaque cursor from a previous page. */
  after?: string | null;
  limit?: number;
}

/** One row of a bulk provisioning batch. */
export interface AccountUpsert extends NewAccount {
  /** Aliases to ensure (never removed by an upsert). */
  aliases?: readonly string[];
  /** Group names to ensure membership in (never removed by an upsert). */
  groups?: readonly string[];
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export interface NewGroup {
  name: string;
  domain: string;
  address?: string | null;
  description?: string | null;
}

export type MemberRef = { accountId: string } | { groupId: string };

export interface NewCredential {
  accountId: string;
  kind: CredentialKind;
  label: string;
  /** SHA-256 (hex) of the secret: secrets are random with ≥128 bits of entropy, see @palabre/auth. */
  secretHash: string;
  expiresAt?: Date | null;
}

/**
 * The directory. Addresses (primary, alias, group) share one namespace: an address belongs to at most
 * one of them, and creating a taken address fails with ConflictError even when two nodes race.
 * Inputs are validated and normalised here (see address.ts), so every implementation refuses the same.
 */
export interface DirectoryStore {
  createDomain(input: NewDomain): Promise<Domain>;
  /** By name or alias (any case, U-label or A-label). */
  findDomain(name: string): Promise<Domain | null>;
  getDomainById(id: string): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  /** Fails with ConflictError while accounts, groups or aliases still use it. */
  removeDomain(name: string): Promise<void>;
  addDomainAlias(domain: string, alias: string): Promise<Domain>;
  removeDomainAlias(alias: string): Promise<void>;

  createAccount(input: NewAccount): Promise<Account>;
  getAccount(id: string): Promise<Account>;
  /** By primary address (domain aliases honoured); aliases are not followed: see resolveAddress. */
  findAccount(address: string): Promise<Account | null>;
  listAccounts(query?: ListAccountsQuery): Promise<AccountPage>;
  /**
   * Active accounts whose display name (case and accents aside: foldName) or one of whose addresses
   * (primary or alias) starts with `text`, in the domain of id `domainId` (null: every domain), by
   * display name then address; at most `limit`, itself at most MAX_SEARCH_RESULTS. One indexed range per
   * field: `%`, `_` and `\` are plain characters. InvalidInputError past MAX_SEARCH_TEXT characters.
   */
  search(domainId: string | null, text: string, limit: number): Promise<Account[]>;
  countAccounts(domain?: string): Promise<number>;
  updateAccount(id: string, patch: AccountPatch): Promise<Account>;
  /** Removes the account, its aliases, memberships and credentials. */
  removeAccount(id: string): Promise<void>;
  getPasswordHash(accountId: string): Promise<string | null>;
  setPasswordHash(accountId: string, hash: string | null): Promise<void>;
  recordLogin(accountId: string, at: Date): Promise<void>;
  /**
   * Idempotent bulk provisioning in one transaction: a row whose address exists is updated (only the
   * fields it sets; a password hash only when given), aliases and group memberships are ensured.
   * Either every row of the batch is applied or none is.
   */
  upsertAccounts(rows: readonly AccountUpsert[]): Promise<UpsertOutcome[]>;

  addAlias(address: string, accountId: string): Promise<Alias>;
  removeAlias(address: string): Promise<void>;
  listAliases(accountId: string): Promise<Alias[]>;
  /** The aliases of many accounts in one query (the address list of a domain), by account id; at most 1,000 ids. */
  aliasesOf(accountIds: readonly string[]): Promise<Map<string, Alias[]>>;
  /** What an address means: an account (directly or by alias) or a group; domain aliases honoured. */
  resolveAddress(address: string): Promise<AddressTarget | null>;

  createGroup(input: NewGroup): Promise<Group>;
  findGroup(name: string): Promise<Group | null>;
  getGroup(id: string): Promise<Group>;
  listGroups(domain?: string): Promise<Group[]>;
  removeGroup(id: string): Promise<void>;
  /** Adding a member twice is a no-op; a group containing itself (even indirectly) is a ConflictError. */
  addGroupMember(groupId: string, member: MemberRef): Promise<void>;
  removeGroupMember(groupId: string, member: MemberRef): Promise<void>;
  listGroupMembers(groupId: string): Promise<GroupMember[]>;
  /** Every active account reached through nested groups, each once. */
  expandGroup(groupId: string): Promise<Account[]>;
  /** Every group the account belongs to, directly or through nested groups. */
  groupsOfAccount(accountId: string): Promise<Group[]>;

  addCredential(input: NewCredential): Promise<AppCredential>;
  listCredentials(accountId: string, kind?: CredentialKind): Promise<AppCredential[]>;
  removeCredential(accountId: string, id: string): Promise<void>;
  findCredentialBySecretHash(
    secretHash: string,
  ): Promise<{ credential: AppCredential; account: Account } | null>;
  touchCredential(id: string, at: Date): Promise<void>;
}
