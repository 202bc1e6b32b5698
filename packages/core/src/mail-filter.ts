import { InvalidInputError } from './errors.js';
import { normalizeUidSet, searchField, uidSetHas } from './mail/mail-rules.js';
import { MESSAGE_FILTER_LIMITS, type MessageFilter } from './mail/mail-store.js';

/** What a MessageFilter reads of one message (times in ms). */
export interface FilterSubject {
  readonly uid: number;
  readonly modseq: number;
  /** System flags then keywords, as the viewer sees them. */
  readonly flags: readonly string[];
  readonly size: number;
  readonly internalDate: number;
  readonly savedAt: number;
  /** The Date header's date, null without one. */
  readonly sentDate: number | null;
  /** The folded envelope search text (`searchTextOf`), null when the message had none. */
  readonly searchText: string | null;
}

const DAY = 86_400_000;
/** The instants a JavaScript Date holds: outside them a date has no day, and no day comparison holds. */
export const MAX_DATE_MS = 8.64e15;

/** UTC midnight of an instant's day, NaN outside what a Date holds. */
export function utcDayOf(ms: number): number {
  return Math.abs(ms) <= MAX_DATE_MS ? Math.floor(ms / DAY) * DAY : NaN;
}

/**
 * Whether one message matches a filter: the in-memory reading of MessageFilter, which a database store
 * must answer the same way (the contract suite compares them).
 */
export function matchesFilter(filter: MessageFilter, m: FilterSubject): boolean {
  switch (filter.k) {
    case 'const':
      return filter.value;
    case 'flag': {
      const want = filter.flag.toLowerCase();
      return m.flags.some((f) => f.toLowerCase() === want);
    }
    case 'uid':
      return uidSetHas(normalizeUidSet(filter.set), m.uid);
    case 'day': {
      const ms = filter.field === 'internal' ? m.internalDate : filter.field === 'saved' ? m.savedAt : (m.sentDate ?? m.internalDate);
      const day = utcDayOf(ms);
      return filter.op === 'before' ? day < filter.day : filter.op === 'on' ? day === filter.day : day >= filter.day;
    }
    case 'internal':
      return filter.op === 'at-most' ? m.internalDate <= filter.ms : m.internalDate > filter.ms;
    case 'size':
      return filter.op === 'larger' ? m.size > filter.n : m.size < filter.n;
    case 'modseq':
      return m.modseq >= filter.min;
    case 'contains':
      return m.searchText ? searchField(m.searchText, filter.field).includes(filter.value) : false;
    case 'not':
      return !matchesFilter(filter.filter, m);
    case 'and':
      return filter.filters.every((f) => matchesFilter(f, m));
    case 'or':
      return filter.filters.some((f) => matchesFilter(f, m));
  }
}

/**
 * Text a database compares as JavaScript does: no NUL (PostgreSQL text cannot hold one) and no lone
 * surrogate (it reaches the database as U+FFFD, which would then match a U+FFFD the text holds).
 */
export function searchableText(text: string): boolean {
  return !/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** Refuses a filter past MESSAGE_FILTER_LIMITS (depth, values) or with a value of the wrong kind. */
export function checkFilter(filter: MessageFilter): void {
  let values = 0;
  const walk = (f: MessageFilter, depth: number): void => {
    if (depth > MESSAGE_FILTER_LIMITS.depth) throw new InvalidInputError('search filter too deep');
    switch (f.k) {
      case 'not':
        return walk(f.filter, depth + 1);
      case 'and':
      case 'or':
        for (const x of f.filters) walk(x, depth + 1);
        return;
      case 'uid':
        values += 2 * f.set.length;
        break;
      case 'day':
        if (!Number.isFinite(f.day)) throw new InvalidInputError('invalid search date');
        values += 2;
        break;
      case 'internal':
        if (!Number.isFinite(f.ms)) throw new InvalidInputError('invalid search date');
        values += 1;
        break;
      case 'size':
        if (!Number.isFinite(f.n)) throw new InvalidInputError('invalid search size');
        values += 1;
        break;
      case 'modseq':
        if (!Number.isFinite(f.min)) throw new InvalidInputError('invalid search mod-sequence');
        values += 1;
        break;
      case 'contains':
        if (!searchableText(f.value)) throw new InvalidInputError('search text with a NUL or a lone surrogate');
        values += 2;
        break;
      case 'flag':
        values += 1;
        break;
      default:
        break;
    }
    if (values > MESSAGE_FILTER_LIMITS.parameters) throw new InvalidInputError('search filter too large');
  };
  walk(filter, 1);
}
