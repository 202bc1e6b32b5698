import type { ArgReader } from './arguments.js';
import { SyntaxError, bad, no } from './errors.js';

/** A parsed SEARCH key (RFC 9051 §6.4.4, with RFC 7162 MODSEQ, RFC 5032 WITHIN, RFC 8514 SAVEDATE). */
export type SearchKey =
  | { readonly k: 'all' }
  | { readonly k: 'flag'; readonly flag: string; readonly has: boolean }
  | { readonly k: 'recent'; readonly has: boolean }
  | { readonly k: 'date'; readonly field: 'internal' | 'sent' | 'saved'; readonly op: 'before' | 'on' | 'since'; readonly day: number }
  | { readonly k: 'within'; readonly older: boolean; readonly seconds: number }
  | { readonly k: 'size'; readonly larger: boolean; readonly n: number }
  | { readonly k: 'header'; readonly field: string; readonly value: string }
  | { readonly k: 'envelope'; readonly field: 'from' | 'to' | 'cc' | 'bcc' | 'subject'; readonly value: string }
  | { readonly k: 'body'; readonly value: string }
  | { readonly k: 'text'; readonly value: string }
  | { readonly k: 'uid'; readonly set: string }
  | { readonly k: 'seq'; readonly set: string }
  | { readonly k: 'modseq'; readonly value: number }
  | { readonly k: 'savedatesupported' }
  | { readonly k: 'not'; readonly key: SearchKey }
  | { readonly k: 'or'; readonly a: SearchKey; readonly b: SearchKey }
  | { readonly k: 'and'; readonly keys: readonly SearchKey[] };

export type ReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

export interface SearchQuery {
  /** null: plain SEARCH response (IMAP4rev1 without RETURN). */
  readonly returns: ReturnOption[] | null;
  readonly key: SearchKey;
}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const DATE_KEYS: Record<string, ['internal' | 'sent' | 'saved', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
  SAVEDBEFORE: ['saved', 'before'],
  SAVEDON: ['saved', 'on'],
  SAVEDSINCE: ['saved', 'since'],
};
const ENVELOPE_KEYS = new Set(['FROM', 'TO', 'CC', 'BCC', 'SUBJECT']);
const MAX_KEYS = 1000;

/** `utf8`: the session enabled UTF8=ACCEPT, where a CHARSET conflicts with its UTF-8 strings (RFC 6855 §3). */
export function parseSearch(r: ArgReader, rev2: boolean, utf8 = false): SearchQuery {
  let returns: ReturnOption[] | null = rev2 ? ['ALL'] : null;
  r.sp();
  let word = r.peekAtom().toUpperCase();
  if (word === 'RETURN') {
    r.atom();
    r.sp();
    const opts = r.list(() => {
      const o = r.atom('return option').toUpperCase();
      if (!['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'].includes(o)) throw new SyntaxError(`Unknown SEARCH return option ${o.slice(0, 20)}`);
      return o as ReturnOption;
    });
    returns = opts.length ? opts : ['ALL'];
    r.sp();
    word = r.peekAtom().toUpperCase();
  }
  if (word === 'CHARSET') {
    if (utf8) throw bad('No CHARSET in SEARCH after ENABLE UTF8=ACCEPT (RFC 6855 §3)');
    r.atom();
    r.sp();
    const charset = r.astring('charset').toUpperCase();
    if (charset !== 'UTF-8' && charset !== 'US-ASCII') throw no('BADCHARSET (US-ASCII UTF-8)', 'Only UTF-8 and US-ASCII searches are supported');
    r.sp();
  }
  const counter = { n: 0 };
  const keys: SearchKey[] = [key(r, counter)];
  while (r.maybeSp()) keys.push(key(r, counter));
  r.end();
  return { returns, key: keys.length === 1 ? keys[0]! : { k: 'and', keys } };
}

function key(r: ArgReader, counter: { n: number }): SearchKey {
  if (++counter.n > MAX_KEYS) throw new SyntaxError('Too many search keys');
  if (r.peek() === 0x28) {
    const keys = r.list(() => key(r, counter), { allowEmpty: false });
    return keys.length === 1 ? keys[0]! : { k: 'and', keys };
  }
  const c = r.peek();
  if ((c >= 0x30 && c <= 0x39) || c === 0x2a || c === 0x24) return { k: 'seq', set: r.sequenceSet() };
  const word = r.atom('search key').toUpperCase();
  const flag = FLAG_KEYS[word];
  if (flag) return { k: 'flag', flag: flag[0], has: flag[1] };
  const date = DATE_KEYS[word];
  if (date) {
    r.sp();
    const d = r.date();
    return { k: 'date', field: date[0], op: date[1], day: Date.UTC(d.y, d.m, d.d) };
  }
  if (ENVELOPE_KEYS.has(word)) {
    r.sp();
    return { k: 'envelope', field: word.toLowerCase() as 'from', value: r.astring('search string') };
  }
  switch (word) {
    case 'ALL':
      return { k: 'all' };
    case 'NEW':
      return { k: 'and', keys: [{ k: 'recent', has: true }, { k: 'flag', flag: '\\Seen', has: false }] };
    case 'OLD':
      return { k: 'recent', has: false };
    case 'RECENT':
      return { k: 'recent', has: true };
    case 'KEYWORD':
    case 'UNKEYWORD': {
      r.sp();
      return { k: 'flag', flag: r.atom('keyword'), has: word === 'KEYWORD' };
    }
    case 'LARGER':
    case 'SMALLER':
      r.sp();
      return { k: 'size', larger: word === 'LARGER', n: r.number('size') };
    case 'OLDER':
    case 'YOUNGER':
      r.sp();
      return { k: 'within', older: word === 'OLDER', seconds: r.nzNumber('interval') };
    case 'HEADER': {
      r.sp();
      const field = r.astring('header field').toLowerCase();
      r.sp();
      return { k: 'header', field, value: r.astring('search string') };
    }
    case 'BODY':
      r.sp();
      return { k: 'body', value: r.astring('search string') };
    case 'TEXT':
      r.sp();
      return { k: 'text', value: r.astring('search string') };
    case 'UID':
      r.sp();
      return { k: 'uid', set: r.sequenceSet() };
    case 'NOT':
      r.sp();
      r.enter();
      try {
        return { k: 'not', key: key(r, counter) };
      } finally {
        r.leave();
      }
    case 'OR': {
      r.sp();
      r.enter();
      try {
        const a = key(r, counter);
        r.sp();
        const b = key(r, counter);
        return { k: 'or', a, b };
      } finally {
        r.leave();
      }
    }
    case 'MODSEQ': {
      r.sp();
      // Optional entry-name and entry-type (RFC 7162): "/flags/\\draft" all
      if (r.peek() === 0x22) {
        r.string('entry name');
        r.sp();
        const type = r.atom('entry type').toLowerCase();
        if (!['priv', 'shared', 'all'].includes(type)) throw new SyntaxError('Invalid MODSEQ entry type');
        r.sp();
      }
      return { k: 'modseq', value: r.number('mod-sequence') };
    }
    case 'SAVEDATESUPPORTED':
      return { k: 'savedatesupported' };
    default:
      throw new SyntaxError(`Unknown search key ${word.slice(0, 30)}`);
  }
}

/** What evaluating a query needs per message (`search`: the small search columns). */
export function searchNeeds(key: SearchKey): { header: boolean; analysis: boolean; search: boolean; blob: boolean; modseq: boolean } {
  const n = { header: false, analysis: false, search: false, blob: false, modseq: false };
  const walk = (k: SearchKey): void => {
    switch (k.k) {
      case 'header':
        n.header = true;
        break;
      case 'envelope':
        n.search = true;
        break;
      case 'date':
        if (k.field === 'sent') n.search = true;
        break;
      case 'body':
        n.analysis = true;
        n.blob = true;
        break;
      case 'text':
        n.header = true;
        n.analysis = true;
        n.blob = true;
        break;
      case 'modseq':
        n.modseq = true;
        break;
      case 'not':
        walk(k.key);
        break;
      case 'or':
        walk(k.a);
        walk(k.b);
        break;
      case 'and':
        k.keys.forEach(walk);
        break;
      default:
        break;
    }
  };
  walk(key);
  return n;
}

/**
 * A string every match must contain in its envelope search text, for the store to prefilter with: the
 * value of a FROM/TO/CC/BCC/SUBJECT key that the whole query requires (top level, not under OR/NOT).
 */
export function requiredEnvelopeText(key: SearchKey): string | null {
  if (key.k === 'envelope') return key.value;
  if (key.k === 'and') {
    for (const k of key.keys) {
      const v = requiredEnvelopeText(k);
      if (v) return v;
    }
  }
  return null;
}

/** Cheap keys first so an AND stops before reading a body. */
export function cost(k: SearchKey): number {
  switch (k.k) {
    case 'body':
    case 'text':
      return 100;
    case 'header':
      return 10;
    case 'envelope':
      return 5;
    case 'not':
      return cost(k.key);
    case 'or':
      return cost(k.a) + cost(k.b);
    case 'and':
      return k.keys.reduce((n, x) => n + cost(x), 0);
    default:
      return 1;
  }
}
