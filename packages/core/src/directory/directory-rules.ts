import { normalizeDomain, parseAddress, parseHostedAddress } from '../address.js';
import type { AccountStatus, CredentialKind } from './directory.js';
import { InvalidInputError } from '../errors.js';
import type { AccountPatch, NewAccount, NewCredential, NewDomain, NewGroup } from './directory-store.js';

/**
 * Input rules shared by every DirectoryStore implementation, so that the in-memory store used in tests
 * refuses exactly what the database stores refuse.
 */

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
const GROUP_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$/;
const PHC = /^\$[a-z0-9-]{2,32}\$[\x21-\x7e]{8,480}$/;
export const MAX_QUOTA_BYTES = 2 ** 50; // 1 PiB: anything above is a typo
const STATUSES: readonly AccountStatus[] = ['active', 'suspended'];
const CREDENTIAL_KINDS: readonly CredentialKind[] = ['app-password', 'token'];

export function cleanText(value: unknown, field: string, max: number, allowEmpty = true): string {
  if (typeof value !== 'string') throw new InvalidInputError(`${field} must be text`);
  const text = value.normalize('NFC').trim();
  if (!allowEmpty && text.length === 0) throw new InvalidInputError(`${field} is required`);
  if (text.length > max) throw new InvalidInputError(`${field} is longer than ${max} characters`);
  if (CONTROL.test(text)) throw new InvalidInputError(`${field} contains control characters`);
  return text;
}

function optionalText(value: unknown, field: string, max: number): string | null {
  if (value === null || value === undefined) return null;
  const text = cleanText(value, field, max);
  return text.length === 0 ? null : text;
}

export function checkQuota(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_QUOTA_BYTES) {
    throw new InvalidInputError('quota must be a whole number of bytes between 0 and 1 PiB, or unlimited');
  }
  return value;
}

/** Most messages or mailboxes a limit may name: anything above is a typo. */
export const MAX_QUOTA_COUNT = 2 ** 31 - 1;

/** A limit on a number of things (messages, mailboxes): a whole number, or null for unlimited. */
export function checkCountLimit(value: unknown, field: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_QUOTA_COUNT) {
    throw new InvalidInputError(`${field} limit must be a whole number between 0 and ${MAX_QUOTA_COUNT}, or unlimited`);
  }
  return value;
}

export interface DomainLimits {
  defaultQuotaBytes: number | null;
  defaultQuotaMessages: number | null;
  defaultQuotaMailboxes: number | null;
}

/** A new domain's default limits, checked (absent: unlimited). */
export function prepareDomainLimits(input: NewDomain): DomainLimits {
  return {
    defaultQuotaBytes: input.defaultQuotaBytes === undefined ? null : checkQuota(input.defaultQuotaBytes),
    defaultQuotaMessages: input.defaultQuotaMessages === undefined ? null : checkCountLimit(input.defaultQuotaMessages, 'message'),
    defaultQuotaMailboxes: input.defaultQuotaMailboxes === undefined ? null : checkCountLimit(input.defaultQuotaMailboxes, 'mailbox'),
  };
}

/** A new account's limits: its own where given, else its domain's defaults. */
export function accountLimits(p: PreparedAccount, domain: { [K in keyof DomainLimits]: number | string | null }): { quotaBytes: number | null; quotaMessages: number | null; quotaMailboxes: number | null } {
  const n = (v: number | string | null) => (v === null ? null : Number(v));
  return {
    quotaBytes: p.quotaBytes === undefined ? n(domain.defaultQuotaBytes) : p.quotaBytes,
    quotaMessages: p.quotaMessages === undefined ? n(domain.defaultQuotaMessages) : p.quotaMessages,
    quotaMailboxes: p.quotaMailboxes === undefined ? n(domain.defaultQuotaMailboxes) : p.quotaMailboxes,
  };
}

export function checkStatus(value: unknown): AccountStatus {
  if (!STATUSES.includes(value as AccountStatus)) throw new InvalidInputError(`status must be one of ${STATUSES.join(', ')}`);
  return value as AccountStatus;
}

export function checkPasswordHash(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || value.length > 512 || !PHC.test(value)) {
    throw new InvalidInputError('password hash must be a PHC-format string (e.g. $argon2id$…)');
  }
  return value;
}

export interface PreparedAccount {
  address: string;
  local: string;
  domain: string;
  displayName: string;
  department: string | null;
  quotaBytes: number | null | undefined;
  quotaMessages: number | null | undefined;
  quotaMailboxes: number | null | undefined;
  status: AccountStatus;
  passwordHash: string | null;
}

export function prepareAccount(input: NewAccount): PreparedAccount {
  if (!input || typeof input !== 'object') throw new InvalidInputError('account details are required');
  const { address, local, domain } = parseHostedAddress(input.address);
  const displayName = input.displayName === undefined ? local : cleanText(input.displayName, 'display name', 256);
  return {
    address,
    local,
    domain,
    displayName,
    department: optionalText(input.department, 'department', 256),
    quotaBytes: input.quotaBytes === undefined ? undefined : checkQuota(input.quotaBytes),
    quotaMessages: input.quotaMessages === undefined ? undefined : checkCountLimit(input.quotaMessages, 'message'),
    quotaMailboxes: input.quotaMailboxes === undefined ? undefined : checkCountLimit(input.quotaMailboxes, 'mailbox'),
    status: input.status === undefined ? 'active' : checkStatus(input.status),
    passwordHash: checkPasswordHash(input.passwordHash),
  };
}

export function prepareAccountPatch(patch: AccountPatch): AccountPatch {
  const out: { -readonly [K in keyof AccountPatch]: AccountPatch[K] } = {};
  if (patch.displayName !== undefined) out.displayName = cleanText(patch.displayName, 'display name', 256);
  if (patch.department !== undefined) out.department = optionalText(patch.department, 'department', 256);
  if (patch.quotaBytes !== undefined) out.quotaBytes = checkQuota(patch.quotaBytes);
  if (patch.quotaMessages !== undefined) out.quotaMessages = checkCountLimit(patch.quotaMessages, 'message');
  if (patch.quotaMailboxes !== undefined) out.quotaMailboxes = checkCountLimit(patch.quotaMailboxes, 'mailbox');
  if (patch.status !== undefined) out.status = checkStatus(patch.status);
  return out;
}

export function prepareGroup(input: NewGroup): { name: string; domain: string; address: string | null; description: string | null } {
  const name = checkGroupName(input.name);
  const domain = normalizeDomain(input.domain);
  const address = input.address ? parseHostedAddress(input.address) : null;
  if (address && address.domain !== domain) {
    throw new InvalidInputError(`group address ${address.address} is not in domain ${domain}`);
  }
  return { name, domain, address: address?.address ?? null, description: optionalText(input.description, 'description', 1024) };
}

export function checkGroupName(value: unknown): string {
  if (typeof value !== 'string' || !GROUP_NAME.test(value)) {
    throw new InvalidInputError('group name must be 1-128 lower-case letters, digits, ".", "-" or "_"');
  }
  return value;
}

export function prepareCredential(input: NewCredential): NewCredential & { label: string } {
  if (!CREDENTIAL_KINDS.includes(input.kind)) throw new InvalidInputError('unknown credential kind');
  if (typeof input.secretHash !== 'string' || !/^[0-9a-f]{64}$/.test(input.secretHash)) {
    throw new InvalidInputError('credential secret hash must be 64 hex digits');
  }
  return { ...input, label: cleanText(input.label, 'label', 128, false) };
}

/** Normalise an address used as a lookup key; null when it cannot be an address at all. */
export function lookupKey(address: string): { address: string; local: string; domain: string } | null {
  try {
    return parseAddress(address);
  } catch {
    return null;
  }
}

/** Normalise a domain used as a lookup key; null when it cannot be a domain. */
export function domainKey(name: string): string | null {
  try {
    return normalizeDomain(name);
  } catch {
    return null;
  }
}

/** Group nesting is followed to this depth at most (cycles are refused on insert anyway). */
export const MAX_GROUP_DEPTH = 16;

// ---------------------------------------------------------------- directory search

/** Most accounts one directory search answers (a search is for picking someone, not for listing). */
export const MAX_SEARCH_RESULTS = 100;
/** Longest search text: longer is no one's name or address prefix. */
export const MAX_SEARCH_TEXT = 254;

/**
 * A display name as searched: compatibility-decomposed with its combining marks dropped (É → e,
 * ﬁ → fi), lower case, blanks collapsed. Stored beside each account so a search is one indexed range.
 */
export function foldName(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().replace(/\s+/g, ' ').trim().slice(0, 256);
}

export interface PreparedSearch {
  /** Folded as display names are (foldName). */
  readonly name: string;
  /** Addresses are stored NFC and lower case. */
  readonly address: string;
  readonly limit: number;
}

/**
 * Checks a search's text and limit. Prefixes are compared as ranges (`>= p AND < next(p)`), never
 * LIKE: `%`, `_` and `\` are characters like any other, and the range uses the column's index on
 * SQLite and PostgreSQL alike. null: nothing to search (blank text).
 */
export function prepareSearch(text: unknown, limit: unknown): PreparedSearch | null {
  if (typeof text !== 'string') throw new InvalidInputError('search text must be text');
  if (text.length > MAX_SEARCH_TEXT) throw new InvalidInputError(`search text is longer than ${MAX_SEARCH_TEXT} characters`);
  if (CONTROL.test(text)) throw new InvalidInputError('search text contains control characters');
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) throw new InvalidInputError('a search limit is a positive whole number');
  const name = foldName(text);
  const address = text.trim().normalize('NFC').toLowerCase();
  if (!name && !address) return null;
  return { name, address, limit: Math.min(limit, MAX_SEARCH_RESULTS) };
}

/** The least string greater than every string that starts with `prefix` (its last code point plus one). */
export function prefixEnd(prefix: string): string {
  const points = Array.from(prefix);
  let last = points.pop()!.codePointAt(0)! + 1;
  if (last >= 0xd800 && last <= 0xdfff) last = 0xe000;
  return points.join('') + String.fromCodePoint(Math.min(last, 0x10ffff));
}

/** Search hits in their order: folded display name, then address. */
export function sortSearchHits<T extends { displayName: string; address: string }>(hits: T[]): T[] {
  const key = (a: T) => `${foldName(a.displayName)}\u0000${a.address}`;
  return hits.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
