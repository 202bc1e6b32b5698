import { InvalidInputError } from '../errors.js';
import type { MailMigrationCopy, MailMigrationCursor, MailMigrationCursorInput } from './mail-migration-store.js';

/** Longest legacy folder name kept (the mailbox name column's size). */
export const MAX_MIGRATION_FOLDER_LENGTH = 1000;
export const MAX_MIGRATION_SOURCE_LENGTH = 255;

const counter = (value: number, what: string, max = Number.MAX_SAFE_INTEGER): void => {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new InvalidInputError(`${what} must be an integer from 0 to ${max}`);
};

/** The checks every store applies before writing a cursor. */
export function checkCursor(input: MailMigrationCursorInput): MailMigrationCursorInput {
  if (!input.source || input.source.length > MAX_MIGRATION_SOURCE_LENGTH)
    throw new InvalidInputError(`a migration source is 1 to ${MAX_MIGRATION_SOURCE_LENGTH} characters`);
  if (!input.folder || input.folder.length > MAX_MIGRATION_FOLDER_LENGTH)
    throw new InvalidInputError(`a legacy folder name is 1 to ${MAX_MIGRATION_FOLDER_LENGTH} characters`);
  if (!input.accountId || !input.mailboxId) throw new InvalidInputError('a migration cursor names its account and target mailbox');
  // RFC 9051: UIDVALIDITY and UIDs are non-zero 32-bit numbers (0 here: nothing copied yet).
  counter(input.uidValidity, 'UIDVALIDITY', 0xffffffff);
  counter(input.lastUid, 'the last copied UID', 0xffffffff);
  counter(input.lastTargetUid, 'the last target UID', 0xffffffff);
  counter(input.copied, 'the copied count');
  return input;
}

/** What a save leaves: a cursor of the same UIDVALIDITY never moves back (see MailMigrationStore.saveCursor). */
export function mergeCursor(existing: MailMigrationCursor | null, next: MailMigrationCursorInput, now: Date): MailMigrationCursor {
  if (existing && existing.uidValidity === next.uidValidity && existing.mailboxId === next.mailboxId && existing.lastUid > next.lastUid) {
    return existing;
  }
  return { ...next, updatedAt: now };
}

/** Listing order, the same in every store whatever the database's collation: source, then folder, by code point. */
export function compareCursors(a: MailMigrationCursor, b: MailMigrationCursor): number {
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  return a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0;
}

/** The checks every store applies before recording copies: UIDs are non-zero 32-bit numbers. */
export function checkCopies(copies: readonly MailMigrationCopy[]): readonly MailMigrationCopy[] {
  for (const c of copies) {
    counter(c.legacyUid, 'a legacy UID', 0xffffffff);
    counter(c.targetUid, 'a target UID', 0xffffffff);
    if (c.legacyUid === 0 || c.targetUid === 0) throw new InvalidInputError('UIDs start at 1');
  }
  return copies;
}
