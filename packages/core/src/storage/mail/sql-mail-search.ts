import { FLAG_SEEN, SEARCH_FIELDS, flagTest, normalizeUidSet } from '../../mail/mail-rules.js';
import { MAX_DATE_MS } from '../../mail-filter.js';
import type { MessageFilter } from '../../mail/mail-store.js';
import type { Dialect } from '../database.js';

const DAY = 86_400_000;
const TRUE = '(1 = 1)';
const FALSE = '(1 = 0)';
/** Inclusive UID ranges at most this wide become an IN list (as the store's UID sets elsewhere). */
const LIST_RANGE = 8;

/**
 * A MessageFilter as a SQL condition on `mail_messages m` (and, for a viewer who does not own the
 * mailbox, `mail_seen s` LEFT JOINed on that viewer's rows), `?` placeholders pushed onto `params`.
 * Every condition it writes is true or false, never NULL (a NULL under NOT would drop the row where
 * the in-memory reading, matchesFilter, keeps it), and substrings are found with instr/strpos, never
 * LIKE (SQLite's LIKE ignores ASCII case, PostgreSQL's does not; both would need escaping).
 */
export function filterSql(filter: MessageFilter, dialect: Dialect, owner: boolean, params: unknown[]): string {
  const find = dialect === 'postgres' ? 'strpos' : 'instr';
  const walk = (f: MessageFilter): string => {
    switch (f.k) {
      case 'const':
        return f.value ? TRUE : FALSE;
      case 'flag': {
        const test = flagTest(f.flag);
        if (test === null) return FALSE;
        if ('bit' in test) return !owner && test.bit === FLAG_SEEN ? '(s.uid IS NOT NULL)' : `((m.flags & ${test.bit}) <> 0)`;
        // Space-separated ASCII atoms: the keyword, spaces around, is in the column, spaces around.
        // COLLATE "C": lower() of ASCII is ASCII's whatever the database's locale (no Turkish dotless i).
        params.push(` ${test.keyword} `);
        const lower = dialect === 'postgres' ? `lower(COALESCE(m.keywords, '') COLLATE "C")` : `lower(COALESCE(m.keywords, ''))`;
        return `(${find}(' ' || ${lower} || ' ', ?) > 0)`;
      }
      case 'uid':
        return uidSql(f.set, params);
      case 'day': {
        const column = f.field === 'internal' ? 'm.internal_date' : f.field === 'saved' ? 'm.saved_at' : 'COALESCE(m.sent_date, m.internal_date)';
        // A date outside what a JavaScript Date holds has no day, and compares as nothing.
        const valid = `${column} >= -${MAX_DATE_MS} AND ${column} <= ${MAX_DATE_MS}`;
        if (!Number.isFinite(f.day)) return FALSE;
        // The day of t is before d ⇔ t < d (d is a midnight); on d ⇔ d <= t < d + 1 day; since ⇔ t >= d.
        if (f.op === 'before') {
          params.push(f.day);
          return `(${valid} AND ${column} < ?)`;
        }
        if (f.op === 'since') {
          params.push(f.day);
          return `(${valid} AND ${column} >= ?)`;
        }
        if (f.day % DAY !== 0) return FALSE;
        params.push(f.day, f.day + DAY);
        return `(${valid} AND ${column} >= ? AND ${column} < ?)`;
      }
      case 'internal':
        params.push(f.ms);
        return f.op === 'at-most' ? '(m.internal_date <= ?)' : '(m.internal_date > ?)';
      case 'size':
        params.push(f.n);
        return f.op === 'larger' ? '(m.size > ?)' : '(m.size < ?)';
      case 'modseq':
        params.push(f.min);
        return '(m.modseq >= ?)';
      case 'contains':
        return containsSql(f.field, f.value, dialect, params);
      case 'not':
        return `(NOT ${walk(f.filter)})`;
      case 'and':
      case 'or': {
        if (f.filters.length === 0) return f.k === 'and' ? TRUE : FALSE;
        return `(${f.filters.map(walk).join(f.k === 'and' ? ' AND ' : ' OR ')})`;
      }
    }
  };
  return walk(filter);
}

/** A UID set as ranges and IN lists (sorted and merged first). */
export function uidSql(set: readonly (readonly [number, number])[], params: unknown[]): string {
  const ranges = normalizeUidSet(set);
  if (ranges.length === 0) return FALSE;
  const parts: string[] = [];
  const singles: number[] = [];
  for (const [lo, hi] of ranges) {
    if (hi - lo < LIST_RANGE) for (let u = lo; u <= hi; u++) singles.push(u);
    else {
      params.push(lo, hi);
      parts.push('(m.uid >= ? AND m.uid <= ?)');
    }
  }
  if (singles.length) {
    params.push(...singles);
    parts.push(`m.uid IN (${singles.map(() => '?').join(', ')})`);
  }
  return `(${parts.join(' OR ')})`;
}

/**
 * One field of the search text (see searchTextOf: five lines, subject first) contains the needle. The
 * whole text is tested first (cheap, and most rows fail it), then the field itself: PostgreSQL cuts
 * the line with split_part; SQLite, which has none, walks past the newlines with substr and instr.
 */
function containsSql(field: (typeof SEARCH_FIELDS)[number], needle: string, dialect: Dialect, params: unknown[]): string {
  // No field holds a line break (searchTextOf makes them spaces).
  if (/[\r\n]/.test(needle)) return FALSE;
  const text = 'm.search_text';
  const index = SEARCH_FIELDS.indexOf(field);
  let line: string;
  if (dialect === 'postgres') {
    line = `split_part(${text}, chr(10), ${index + 1})`;
  } else {
    let rest = text;
    for (let i = 0; i < index; i++) rest = `substr(${rest}, instr(${rest}, char(10)) + 1)`;
    line = index === SEARCH_FIELDS.length - 1 ? rest : `substr(${rest}, 1, instr(${rest}, char(10)) - 1)`;
  }
  const find = dialect === 'postgres' ? 'strpos' : 'instr';
  params.push(needle, needle);
  return `(${text} IS NOT NULL AND ${text} <> '' AND ${find}(${text}, ?) > 0 AND ${find}(${line}, ?) > 0)`;
}
