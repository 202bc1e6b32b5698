/**
 * Where a mail migration from a legacy IMAP server stands, per (account, source, legacy folder): the
 * legacy UIDVALIDITY and the last legacy UID copied, so that a second run asks the legacy server only
 * for UIDs above it. The target side is named too (mailbox id and the last UID appended there): a run
 * that died between an APPEND and its cursor write finds its copies among the target UIDs above
 * `lastTargetUid` and does not append them twice.
 */
export interface MailMigrationCursor {
  readonly accountId: string;
  /** The legacy server, as the migration names it (`imaps://host:port`). */
  readonly source: string;
  /** The legacy folder name as the legacy server spells it (its delimiter, UTF-8). */
  readonly folder: string;
  /** The legacy folder's UIDVALIDITY when `lastUid` was read; another value means a full re-scan. */
  readonly uidValidity: number;
  /** Every legacy message with a UID up to this one is in the target. */
  readonly lastUid: number;
  /** The target mailbox; a cursor for a mailbox deleted since is gone with it. */
  readonly mailboxId: string;
  /** The highest target UID the migration had appended when the cursor was written. */
  readonly lastTargetUid: number;
  /** Legacy messages copied into the target over every run. */
  readonly copied: number;
  readonly updatedAt: Date;
}

export type MailMigrationCursorInput = Omit<MailMigrationCursor, 'updatedAt'>;

export interface MailMigrationStore {
  getCursor(accountId: string, source: string, folder: string): Promise<MailMigrationCursor | null>;
  /** Every cursor of one account (and one source when given), by folder name. */
  listCursors(accountId: string, source?: string): Promise<MailMigrationCursor[]>;
  /**
   * Insert or replace. With the same UIDVALIDITY a cursor never moves back: two runs racing on one
   * folder keep the larger `lastUid` (and its target UID). A new UIDVALIDITY replaces it whole.
   * InvalidInputError for negative or non-integer counters, an empty source or folder.
   */
  saveCursor(cursor: MailMigrationCursorInput): Promise<MailMigrationCursor>;
  /** Forget the cursors (and copies) of an account, one source when given: the next run re-scans with dedupe. */
  forget(accountId: string, source?: string): Promise<number>;

  /**
   * Which target UID each legacy UID of a folder was copied to, so a later run can bring flags
   * changed on the legacy side since. Recording a legacy UID again replaces its target UID.
   */
  recordCopies(accountId: string, source: string, folder: string, copies: readonly MailMigrationCopy[]): Promise<void>;
  /** The copies of a folder, by legacy UID ascending. */
  listCopies(accountId: string, source: string, folder: string): Promise<MailMigrationCopy[]>;
  /** Drop a folder's copies (its UIDVALIDITY changed: legacy UIDs now name other messages). */
  clearCopies(accountId: string, source: string, folder: string): Promise<void>;
}

export interface MailMigrationCopy {
  readonly legacyUid: number;
  readonly targetUid: number;
}
