/**
 * Rules every MailStore implementation applies the same way: mailbox names, flags and keywords, UID
 * sets, RFC 4314 rights. Pure functions, so the memory and SQL stores cannot drift apart.
 */
import { InvalidInputError, TooLargeError } from '../errors.js';
import { MAILBOX_DELIMITER, SPECIAL_USES, type AclEntry, type SpecialUse, type UidSet } from './mail-store.js';

export const MAX_MAILBOX_NAME_BYTES = 1000;
export const MAX_MAILBOX_COMPONENT_BYTES = 255;
export const MAX_MAILBOX_DEPTH = 32;
export const MAX_KEYWORD_LENGTH = 100;
/** Distinct keywords per mailbox (the FLAGS response lists them all). */
export const MAX_MAILBOX_KEYWORDS = 200;
/** Headers up to this size are kept beside the message row; larger ones are read from the blob. */
export const MAX_INLINE_HEADER_BYTES = 64 * 1024;

/** Normalise and validate a mailbox name: NFC, no empty levels, no wildcards or controls, INBOX upper-cased. */
export function normalizeMailboxName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidInputError('mailbox name is empty');
  const nfc = name.normalize('NFC');
  if (Buffer.byteLength(nfc) > MAX_MAILBOX_NAME_BYTES) throw new InvalidInputError('mailbox name is too long');
  // C0/C1 controls, DEL, and the LIST wildcards can never be part of a name.
  if (/[\u0000-\u001f\u007f-\u009f*%]/.test(nfc)) throw new InvalidInputError('mailbox name contains a forbidden character');
  if (/[\ud800-\udfff]/.test(nfc) && !isWellFormed(nfc)) throw new InvalidInputError('mailbox name is not valid Unicode');
  const parts = nfc.split(MAILBOX_DELIMITER);
  if (parts.length > MAX_MAILBOX_DEPTH) throw new InvalidInputError('mailbox hierarchy is too deep');
  for (const part of parts) {
    if (part.length === 0) throw new InvalidInputError('mailbox name has an empty level');
    if (Buffer.byteLength(part) > MAX_MAILBOX_COMPONENT_BYTES) throw new InvalidInputError('mailbox name level is too long');
    if (part.trim() !== part) throw new InvalidInputError('mailbox name level starts or ends with a space');
  }
  if (parts[0]!.toUpperCase() === 'INBOX') parts[0] = 'INBOX';
  return parts.join(MAILBOX_DELIMITER);
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

/** The names above `name` in the hierarchy, outermost first (`a/b/c` → `a`, `a/b`). */
export function parentNames(name: string): string[] {
  const parts = name.split(MAILBOX_DELIMITER);
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join(MAILBOX_DELIMITER));
}

/** The parents of `name` not among `existing`: what creating it, or renaming a mailbox to it, makes first. */
export function missingParents(name: string, existing: ReadonlySet<string>): string[] {
  return parentNames(name).filter((p) => !existing.has(p));
}

export function isSpecialUse(value: unknown): value is SpecialUse {
  return typeof value === 'string' && (SPECIAL_USES as readonly string[]).includes(value);
}

// ---------------------------------------------------------------- flags

/** System flags as bits in one integer column. `\Recent` is session state and never stored. */
export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;
export type SystemFlag = (typeof SYSTEM_FLAGS)[number];
export const FLAG_SEEN = 1;
export const FLAG_DELETED = 8;

const FLAG_BITS = new Map<string, number>(SYSTEM_FLAGS.map((f, i) => [f.toLowerCase(), 1 << i]));
// atom-specials (RFC 9051): ( ) { SP CTL % * " \ ]
const KEYWORD = /^[\u0021\u0023-\u0027\u002b-\u005b\u005e-\u007a\u007c\u007e]+$/;

export interface ParsedFlags {
  readonly bits: number;
  /** Keywords as given, deduplicated case-insensitively. */
  readonly keywords: readonly string[];
}

/** Validate flags for storing: known system flags (any case) and atom keywords; `\Recent` and unknown `\X` refused. */
export function parseFlags(flags: readonly string[]): ParsedFlags {
  let bits = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    if (typeof flag !== 'string' || flag.length === 0) throw new InvalidInputError('empty flag');
    if (flag.startsWith('\\')) {
      const bit = FLAG_BITS.get(flag.toLowerCase());
      if (bit === undefined) throw new InvalidInputError(`${flag.toLowerCase() === '\\recent' ? '\\Recent cannot be stored' : 'unknown system flag'}`);
      bits |= bit;
      continue;
    }
    if (flag.length > MAX_KEYWORD_LENGTH || !KEYWORD.test(flag)) throw new InvalidInputError('invalid keyword');
    const key = flag.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      keywords.push(flag);
    }
  }
  return { bits, keywords };
}

export function flagsFromBits(bits: number): string[] {
  return SYSTEM_FLAGS.filter((_, i) => bits & (1 << i));
}

/**
 * What testing for a flag in a SEARCH means for stored messages: a system flag's bit, a keyword (by its
 * lower case: stored keywords are ASCII atoms, so their lower case is ASCII's), or null when no stored
 * flag can be equal to it case-insensitively (`\Recent`, spaces, non-ASCII).
 */
export function flagTest(flag: string): { readonly bit: number } | { readonly keyword: string } | null {
  const lower = flag.toLowerCase();
  const bit = FLAG_BITS.get(lower);
  if (bit !== undefined) return { bit };
  return lower.length <= MAX_KEYWORD_LENGTH && KEYWORD.test(lower) ? { keyword: lower } : null;
}

/** Stored keyword column ↔ list (space-separated; keywords cannot contain spaces). */
export function keywordsFromColumn(column: string | null | undefined): string[] {
  return column ? column.split(' ') : [];
}

export function keywordsToColumn(keywords: readonly string[]): string | null {
  return keywords.length ? keywords.join(' ') : null;
}

/**
 * Add keywords to a mailbox's list; existing spellings win. TooLargeError past MAX_MAILBOX_KEYWORDS.
 * Returns the list itself when nothing was added.
 */
export function mergeMailboxKeywords(existing: readonly string[], added: readonly string[]): readonly string[] {
  const known = new Set(existing.map((k) => k.toLowerCase()));
  const fresh = added.filter((k) => !known.has(k.toLowerCase()));
  if (fresh.length === 0) return existing;
  const merged = [...existing, ...fresh];
  if (merged.length > MAX_MAILBOX_KEYWORDS) throw new TooLargeError(`a mailbox holds at most ${MAX_MAILBOX_KEYWORDS} keywords`);
  return merged;
}

/** Spell keywords the way the mailbox first saw them. */
export function canonicalKeywords(keywords: readonly string[], mailboxKeywords: readonly string[]): string[] {
  const byLower = new Map(mailboxKeywords.map((k) => [k.toLowerCase(), k]));
  return keywords.map((k) => byLower.get(k.toLowerCase()) ?? k);
}

/** Apply a STORE operation; returns the new bits and keywords (keywords already canonical). */
export function applyFlagOperation(
  current: { bits: number; keywords: readonly string[] },
  operation: 'add' | 'remove' | 'replace',
  change: ParsedFlags,
): { bits: number; keywords: string[] } {
  const lower = new Set(change.keywords.map((k) => k.toLowerCase()));
  switch (operation) {
    case 'replace':
      return { bits: change.bits, keywords: [...change.keywords] };
    case 'add': {
      const have = new Set(current.keywords.map((k) => k.toLowerCase()));
      return { bits: current.bits | change.bits, keywords: [...current.keywords, ...change.keywords.filter((k) => !have.has(k.toLowerCase()))] };
    }
    case 'remove':
      return { bits: current.bits & ~change.bits, keywords: current.keywords.filter((k) => !lower.has(k.toLowerCase())) };
  }
}

export function sameKeywords(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((k) => k.toLowerCase()));
  return b.every((k) => set.has(k.toLowerCase()));
}

// ---------------------------------------------------------------- UID sets

/** Sorted, merged, clamped to [1, 2^32-1]; refuses malformed ranges. */
export function normalizeUidSet(set: UidSet): [number, number][] {
  const ranges: [number, number][] = [];
  for (const range of set) {
    const [a, b] = range;
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw new InvalidInputError('invalid UID range');
    const lo = Math.max(1, Math.min(a, b));
    const hi = Math.min(0xffffffff, Math.max(a, b));
    if (hi >= lo) ranges.push([lo, hi]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

export function uidSetHas(ranges: readonly (readonly [number, number])[], uid: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (uid < r[0]) hi = mid - 1;
    else if (uid > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

// ---------------------------------------------------------------- RFC 4314 rights

/** Every right, in the order responses list them. */
export const ALL_RIGHTS = 'lrswipkxtea';

/** Validate and normalise a rights string: obsolete `c` → `k`, `d` → `xte` (RFC 4314 §2.1.1). */
export function normalizeRights(rights: string): string {
  if (typeof rights !== 'string' || rights.length > 64) throw new InvalidInputError('invalid rights');
  const have = new Set<string>();
  for (const ch of rights) {
    if (ch === 'c') have.add('k');
    else if (ch === 'd') for (const r of 'xte') have.add(r);
    else if (ALL_RIGHTS.includes(ch)) have.add(ch);
    else throw new InvalidInputError(`unknown right ${JSON.stringify(ch)}`);
  }
  return [...ALL_RIGHTS].filter((r) => have.has(r)).join('');
}

/** Union of the entries that apply to an account (its own, its groups', anyone's); the owner has every right. */
export function effectiveRights(
  ownerId: string,
  acl: readonly AclEntry[],
  accountId: string,
  groupIds: readonly string[],
): string {
  if (ownerId === accountId) return ALL_RIGHTS;
  const groups = new Set(groupIds);
  const have = new Set<string>();
  for (const entry of acl) {
    const g = entry.grantee;
    const applies = g.kind === 'anyone' || (g.kind === 'account' && g.id === accountId) || (g.kind === 'group' && groups.has(g.id));
    if (applies) for (const r of entry.rights) have.add(r);
  }
  return [...ALL_RIGHTS].filter((r) => have.has(r)).join('');
}

export function granteeKey(grantee: AclEntry['grantee']): { kind: string; id: string } {
  return grantee.kind === 'anyone' ? { kind: 'anyone', id: '' } : { kind: grantee.kind, id: grantee.id };
}

// ---------------------------------------------------------------- search text

/** The envelope fields SEARCH FROM/TO/CC/BCC/SUBJECT look at, in the order of the search-text column. */
export const SEARCH_FIELDS = ['subject', 'from', 'to', 'cc', 'bcc'] as const;
export type SearchField = (typeof SEARCH_FIELDS)[number];

/** IMAP SEARCH compares case-insensitively (RFC 9051 §6.4.4): NFC, then lower case, the same everywhere. */
export function foldSearchText(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

/**
 * The folded search text a store keeps beside a message, from the analysis' `search` member
 * (`{ subject, from, to, cc, bcc }`, decoded text): one line per field, so a SQL LIKE can prefilter
 * and each field can still be told apart. Null when the analysis has no such member.
 */
export function searchTextOf(data: Readonly<Record<string, unknown>>): string | null {
  const search = data.search as Record<string, unknown> | undefined;
  if (!search || typeof search !== 'object') return null;
  return SEARCH_FIELDS.map((f) => foldSearchText(typeof search[f] === 'string' ? (search[f] as string) : '').replace(/[\r\n]+/g, ' ')).join('\n');
}

/** One field of a search text (see searchTextOf). */
export function searchField(text: string, field: SearchField): string {
  return text.split('\n')[SEARCH_FIELDS.indexOf(field)] ?? '';
}

/**
 * The sent date SEARCH compares by day: the Date header's date and time as written (`dateWritten`,
 * read as UTC, RFC 9051 §6.4.4 "disregarding time and timezone"); analyses made before it was recorded
 * have only the instant (`date`).
 */
export function sentDateOf(data: Readonly<Record<string, unknown>>): number | null {
  for (const value of [data.dateWritten, data.date]) if (typeof value === 'number' && Number.isFinite(value)) return value;
  return null;
}
