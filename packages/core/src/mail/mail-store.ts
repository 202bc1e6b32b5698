import type { MailDelivery, MessageAnalysis } from './mail-delivery.js';

/**
 * The mailbox store behind IMAP and SMTP delivery: mailboxes with their IMAP counters, messages as
 * metadata rows that point at one shared blob, flags with per-message MODSEQ, expunge tombstones for
 * QRESYNC, per-user `\Seen` on mailboxes a user does not own, and RFC 4314 ACLs.
 *
 * Names are hierarchical with `/` as the separator, UTF-8 in NFC; `INBOX` (any case) is stored as
 * `INBOX`. The store trusts its caller on access rights: the protocol layer checks them in one place
 * (see `effectiveRights`), the store only computes what it needs to (ownership, per-user `\Seen`).
 * The store reads two members of `analysis.data` when present, written by @palabre/mail's analysis:
 * `search` ({ subject, from, to, cc, bcc } decoded text) and `date` (sent date, ms), and keeps them in
 * small columns of their own so SEARCH never parses a whole analysis.
 *
 * Every write happens in one transaction, bumps the mailbox's MODSEQ once, and publishes
 * `mailboxTopic(id)` on the Notifier after commit so IDLE sessions on every node re-read what changed.
 */

export const MAILBOX_DELIMITER = '/';

export type SpecialUse = '\\All' | '\\Archive' | '\\Drafts' | '\\Flagged' | '\\Junk' | '\\Sent' | '\\Trash';
export const SPECIAL_USES: readonly SpecialUse[] = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'];

/** What every account has: made on first login or first delivery, subscribed. */
export const DEFAULT_MAILBOXES: readonly { readonly name: string; readonly specialUse: SpecialUse | null }[] = [
  { name: 'INBOX', specialUse: null },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

export interface Mailbox {
  readonly id: string;
  /** The owner. */
  readonly accountId: string;
  readonly name: string;
  readonly specialUse: SpecialUse | null;
  readonly uidValidity: number;
  /** The UID the next message will get; never decreases. */
  readonly uidNext: number;
  /** Bumped by every change to the mailbox or its messages (RFC 7162); never decreases. */
  readonly highestModseq: number;
  /** Every keyword ever set in this mailbox, for the FLAGS response (first spelling wins). */
  readonly keywords: readonly string[];
  readonly createdAt: Date;
}

export interface MailboxCounts {
  readonly messages: number;
  /** Messages without `\Seen` as the viewer sees them. */
  readonly unseen: number;
  readonly deleted: number;
  /** Sum of the sizes of messages flagged `\Deleted`: what EXPUNGE frees (RFC 9208 DELETED-STORAGE). */
  readonly deletedSize: number;
  /** Sum of message sizes (STATUS SIZE). */
  readonly size: number;
  /** UID of the first message without `\Seen`, or null. */
  readonly firstUnseenUid: number | null;
  /** Messages not yet handed out as `\Recent` (what STATUS RECENT reports to IMAP4rev1 clients). */
  readonly recent: number;
}

/** Inclusive UID range; sets are lists of ranges (any order, overlaps allowed). */
export type UidRange = readonly [number, number];
export type UidSet = readonly UidRange[];

/** What a FETCH, SEARCH or change feed needs of one message; hot paths never touch the blob. */
export interface MessageRecord {
  readonly uid: number;
  readonly modseq: number;
  /** System flags (`\Seen`…) then keywords, as the viewer sees them. */
  readonly flags: readonly string[];
  readonly size: number;
  readonly internalDate: Date;
  /** When the message was stored in this mailbox (RFC 8514 SAVEDATE). */
  readonly savedAt: Date;
  readonly blobId: string;
  readonly headerBytes: number;
  /** The raw header section when asked for; null when only the blob holds it (oversized headers). */
  readonly header?: Buffer | null;
  /** The stored MIME analysis when asked for. */
  readonly analysis?: Readonly<Record<string, unknown>>;
  /** With `search`: the folded envelope search text (see `searchTextOf`), null if the analysis had none. */
  readonly searchText?: string | null;
  /** With `search`: the sent date (Date header) in ms, or null. */
  readonly sentDate?: number | null;
}

export interface FetchMessagesOptions {
  header?: boolean;
  analysis?: boolean;
  /** The small search columns (searchText, sentDate): SEARCH without parsing analyses. */
  search?: boolean;
  /**
   * Prefilter: only messages whose search text contains this (already folded) string, checked by the
   * database. A prefilter only: callers still test the exact field.
   */
  textContains?: string;
  /** Only messages whose MODSEQ is above this (CONDSTORE CHANGEDSINCE). */
  changedSince?: number;
}

/**
 * A SEARCH condition the store decides itself (`searchUids`), with the meanings of RFC 9051 §6.4.4:
 * the protocol layer translates what it can of a SEARCH into this, and the store answers with one
 * query over its indexes instead of handing every row over. Every node is true or false for every
 * message (no unknown), so NOT is exact.
 */
export type MessageFilter =
  | { readonly k: 'const'; readonly value: boolean }
  /** The message has this system flag (`\Seen`…, any case) or keyword (ASCII case-insensitive), as the viewer sees it. */
  | { readonly k: 'flag'; readonly flag: string }
  | { readonly k: 'uid'; readonly set: UidSet }
  /**
   * The UTC day of a date (time of day ignored) before, on or since `day` (a UTC midnight, ms). `sent`
   * is the Date header's, or the internal date when the message has none.
   */
  | { readonly k: 'day'; readonly field: 'internal' | 'sent' | 'saved'; readonly op: 'before' | 'on' | 'since'; readonly day: number }
  /** The internal date is at or before `ms` (`at-most`), or after it (`after`): RFC 5032 OLDER/YOUNGER. */
  | { readonly k: 'internal'; readonly op: 'at-most' | 'after'; readonly ms: number }
  | { readonly k: 'size'; readonly op: 'larger' | 'smaller'; readonly n: number }
  | { readonly k: 'modseq'; readonly min: number }
  /** The folded text (`foldSearchText`) of one envelope field contains `value`, already folded. */
  | { readonly k: 'contains'; readonly field: 'subject' | 'from' | 'to' | 'cc' | 'bcc'; readonly value: string }
  | { readonly k: 'not'; readonly filter: MessageFilter }
  | { readonly k: 'and' | 'or'; readonly filters: readonly MessageFilter[] };

/** How large a MessageFilter a store takes (InvalidInputError past it): the SQL it becomes stays small. */
export const MESSAGE_FILTER_LIMITS = { depth: 32, parameters: 2000 } as const;

export interface SearchUidsResult {
  /** The matching UIDs, ascending. */
  readonly uids: readonly number[];
  /** With `modseq`: the highest MODSEQ among them (0 when none or not asked), for SEARCH's (MODSEQ n). */
  readonly highestModseq: number;
}

export interface NewMessage {
  readonly blobId: string;
  readonly size: number;
  readonly internalDate: Date;
  readonly analysis: MessageAnalysis;
  /** The raw header section (`analysis.headerBytes` long), kept beside the row so FETCH of headers reads no blob. */
  readonly header?: Uint8Array | null;
  readonly flags?: readonly string[];
}

export interface AppendResult {
  readonly mailboxId: string;
  readonly uidValidity: number;
  readonly uid: number;
  readonly modseq: number;
}

/** Several messages appended in one transaction (RFC 3502 MULTIAPPEND): consecutive UIDs. */
export interface AppendManyResult {
  readonly mailboxId: string;
  readonly uidValidity: number;
  /** The new UIDs, in the order of the messages given (ascending). */
  readonly uids: readonly number[];
  readonly modseq: number;
}

export type FlagOperation = 'add' | 'remove' | 'replace';

export interface FlagChange {
  readonly uid: number;
  readonly modseq: number;
  readonly flags: readonly string[];
}

export interface StoreFlagsResult {
  /** Messages whose flags changed (or, for `replace`, were rewritten), with their new MODSEQ. */
  readonly updated: readonly FlagChange[];
  /** UIDs refused by UNCHANGEDSINCE (RFC 7162 MODIFIED). */
  readonly modified: readonly number[];
  readonly highestModseq: number;
  /** The mailbox keyword list after the change (it grows when a new keyword is set). */
  readonly keywords: readonly string[];
}

export interface ExpungeResult {
  /** UIDs removed, ascending. */
  readonly expunged: readonly number[];
  readonly highestModseq: number;
}

export interface CopyResult {
  readonly destMailboxId: string;
  readonly uidValidity: number;
  /** Source UID → new UID, ascending by source UID. */
  readonly mapping: readonly (readonly [number, number])[];
}

export interface MoveResult extends CopyResult {
  readonly expunged: readonly number[];
  readonly highestModseq: number;
}

export interface MailboxChanges {
  /** The mailbox as read at the start (counters may be behind the rows that follow, never ahead). */
  readonly mailbox: Mailbox;
  /** Messages created or whose flags changed after the given MODSEQ, ascending by UID. */
  readonly changed: readonly FlagChange[];
  /**
   * UIDs expunged after the given MODSEQ, ascending; null when tombstones no longer reach back that
   * far: compare UID lists instead.
   */
  readonly expunged: readonly number[] | null;
}

export interface StoreFlagsOptions {
  /** RFC 7162 UNCHANGEDSINCE: leave (and report) messages whose MODSEQ is above this. */
  unchangedSince?: number;
}

export type AclGrantee = { readonly kind: 'account'; readonly id: string } | { readonly kind: 'group'; readonly id: string } | { readonly kind: 'anyone' };

export interface AclEntry {
  readonly grantee: AclGrantee;
  /** RFC 4314 rights letters in canonical order (`lrswipkxtea`). */
  readonly rights: string;
}

export interface SharedMailbox {
  readonly mailbox: Mailbox;
  /** Rights the asking account has through its own, its groups' and `anyone` entries. */
  readonly rights: string;
}

export interface MailQuota {
  /** Drive and mail together: one quota per account. */
  readonly usedBytes: number;
  readonly mailBytes: number;
  /** null = unlimited. */
  readonly limitBytes: number | null;
  /** Messages in the account's mailboxes (RFC 9208 MESSAGE) and their limit (null = unlimited). */
  readonly messages: number;
  readonly limitMessages: number | null;
  /** The account's mailboxes (RFC 9208 MAILBOX) and their limit (null = unlimited). */
  readonly mailboxes: number;
  readonly limitMailboxes: number | null;
}

/** What a QuotaExceededError's `detail.resource` names: the RFC 9208 resource that would be exceeded. */
export type QuotaResource = 'STORAGE' | 'MESSAGE' | 'MAILBOX';

export interface MailStore extends MailDelivery {
  /** Create INBOX and the special-use mailboxes if missing; returns every mailbox of the account. */
  ensureMailboxes(accountId: string): Promise<Mailbox[]>;
  listMailboxes(accountId: string): Promise<Mailbox[]>;
  getMailbox(accountId: string, name: string): Promise<Mailbox | null>;
  /** NotFoundError if it was deleted. */
  getMailboxById(id: string): Promise<Mailbox>;
  /**
   * Creates missing parents too; ConflictError if the name exists; InvalidInputError for a bad name;
   * QuotaExceededError (detail.resource 'MAILBOX') past the account's mailbox limit (RENAME too, for
   * the parents it makes). The default mailboxes are made whatever the limit.
   */
  createMailbox(accountId: string, name: string, options?: { specialUse?: SpecialUse | null }): Promise<Mailbox>;
  /**
   * Rename with every child (`a/…` follows `a`). Renaming INBOX moves its messages into a new mailbox
   * and leaves INBOX empty (RFC 9051 §6.3.6). ConflictError if the new name exists.
   */
  renameMailbox(mailboxId: string, newName: string): Promise<Mailbox>;
  /** Removes messages, ACL and per-user state; ConflictError (detail.reason 'has-children') with children; INBOX is refused. */
  deleteMailbox(mailboxId: string): Promise<void>;

  subscribe(accountId: string, name: string): Promise<void>;
  unsubscribe(accountId: string, name: string): Promise<void>;
  listSubscriptions(accountId: string): Promise<string[]>;

  counts(mailboxId: string, viewer: string): Promise<MailboxCounts>;
  /** The UID of the first message without `\Seen` as the viewer sees it, or null (SELECT's [UNSEEN n]): counts' firstUnseenUid alone. */
  firstUnseenUid(mailboxId: string, viewer: string): Promise<number | null>;
  /** Every UID of the mailbox, ascending (the session's sequence map). */
  listUids(mailboxId: string): Promise<number[]>;

  /**
   * QuotaExceededError (detail.accountId, detail.resource 'STORAGE' or 'MESSAGE') when the owner's
   * quota would be exceeded; COPY, cross-account MOVE and delivery likewise.
   */
  append(mailboxId: string, message: NewMessage, viewer?: string): Promise<AppendResult>;
  /**
   * All the messages or none (RFC 3502): one transaction, one quota check for their total, every
   * message validated before any is stored. At least one message.
   */
  appendMany(mailboxId: string, messages: readonly NewMessage[], viewer?: string): Promise<AppendManyResult>;
  /** Streams the messages of the set in UID order, a batch of rows per query. */
  fetch(mailboxId: string, viewer: string, uids: UidSet, options?: FetchMessagesOptions): AsyncIterable<MessageRecord>;
  /**
   * The UIDs among `uids` of the messages that match `filter`, as the viewer sees them (per-user
   * `\Seen`), decided by the store without a row per message reaching the caller. `modseq`: also their
   * highest MODSEQ (a column the flag and date indexes do not hold).
   */
  searchUids(mailboxId: string, viewer: string, uids: UidSet, filter: MessageFilter, options?: { modseq?: boolean }): Promise<SearchUidsResult>;
  storeFlags(
    mailboxId: string,
    viewer: string,
    uids: UidSet,
    operation: FlagOperation,
    flags: readonly string[],
    options?: StoreFlagsOptions,
  ): Promise<StoreFlagsResult>;
  /** Remove messages flagged `\Deleted` (only those in `uids` when given); tombstones keep their UIDs. */
  expunge(mailboxId: string, options?: { uids?: UidSet }): Promise<ExpungeResult>;
  copy(fromMailboxId: string, uids: UidSet, toMailboxId: string, viewer: string): Promise<CopyResult>;
  /** Copy and expunge in one transaction (RFC 6851). */
  move(fromMailboxId: string, uids: UidSet, toMailboxId: string, viewer: string): Promise<MoveResult>;
  changesSince(mailboxId: string, viewer: string, modseq: number): Promise<MailboxChanges>;
  /**
   * RFC 3501 `\Recent`: claim the UIDs from the mailbox's recent mark up to (excluding) `uidNext` for
   * one session. Each UID is claimed by at most one caller; null if nothing was left to claim.
   */
  claimRecent(mailboxId: string, uidNext: number): Promise<UidRange | null>;

  getAcl(mailboxId: string): Promise<AclEntry[]>;
  /** Empty rights remove the entry. Rights are validated and normalised (RFC 4314 `c`/`d` expanded). */
  setAcl(mailboxId: string, grantee: AclGrantee, rights: string): Promise<void>;
  /** Mailboxes of other accounts with an ACL entry for this account, one of its groups, or anyone. */
  listSharedMailboxes(accountId: string, groupIds: readonly string[]): Promise<SharedMailbox[]>;

  quota(accountId: string): Promise<MailQuota>;

  /** Which of these blob ids some message still uses (for garbage collection of the mail blob store). */
  referencedBlobs(blobIds: readonly string[]): Promise<Set<string>>;
}

/** Notifier topic for changes to one mailbox; the payload is `{ modseq }` or `{ deleted: true }`. */
export function mailboxTopic(mailboxId: string): string {
  return `mail.mailbox.${mailboxId}`;
}

/**
 * Notifier topic for changes to one account's list of mailboxes: created, renamed, deleted, subscribed
 * or unsubscribed (RFC 5465 MailboxName and SubscriptionChange); the payload says nothing more, a
 * listener lists again.
 */
export function mailboxListTopic(accountId: string): string {
  return `mail.mailboxes.${accountId}`;
}
