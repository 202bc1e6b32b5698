/**
 * IMAP METADATA (RFC 5464) entries: per mailbox or for the whole server, each either private to one
 * account (`/private/…`) or shared by everyone who may see the mailbox (`/shared/…`). Entries of a
 * mailbox are keyed by its id, so a rename carries them; DELETE of a mailbox removes them
 * (`deleteMailbox`). The store checks names, sizes and the entry count; who may read or write is
 * the protocol layer's decision (ACL), as for messages.
 */
export type MetadataDepth = '0' | '1' | 'infinity';

/**
 * Where an entry lives: a mailbox (by id) or the server (null), and for `/private/…` names the account
 * whose they are; `/shared/…` names ignore the account.
 */
export interface MetadataScope {
  /** The mailbox, or null for server entries. */
  readonly mailboxId: string | null;
  /** Whose `/private` entries are meant. */
  readonly accountId: string;
}

export interface MetadataEntry {
  /** Lower case (entry names are case-insensitive), starting with `/private/` or `/shared/`. */
  readonly name: string;
  readonly value: string;
}

export interface MetadataChange {
  readonly name: string;
  /** null removes the entry. */
  readonly value: string | null;
}

export interface MailMetadataStore {
  /** The entry `name` and, with depth 1 or infinity, the entries below it, in name order. */
  get(scope: MetadataScope, name: string, depth: MetadataDepth): Promise<MetadataEntry[]>;
  /**
   * All the changes or none, private and shared together. InvalidInputError for a bad name or an
   * oversized value; QuotaExceededError when the private or the shared entries of the mailbox (or
   * server) would number more than MAX_METADATA_ENTRIES.
   */
  set(scope: MetadataScope, changes: readonly MetadataChange[]): Promise<void>;
  /** Every entry of a mailbox, private and shared. */
  deleteMailbox(mailboxId: string): Promise<void>;
}
