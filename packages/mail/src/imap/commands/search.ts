import { checkFilter, foldSearchText, searchField, searchableText, type MessageFilter, type MessageRecord, type UidSet } from '@palabre/core';
import { BULK_MESSAGES, bulkTurns } from '../bulk-turns.js';
import { SELECTED, defineCommand } from '../command.js';

/** Messages evaluated here (not by the store) between two turns of a bulk search. */
const BULK_ROWS = 256;
import { utcDay } from '../dates.js';
import { bodyContains, decodedFields } from '../message-text.js';
import { cost, parseSearch, requiredEnvelopeText, searchNeeds, type SearchKey, type SearchQuery } from '../search-query.js';
import { toUidSet, type SelectedMailbox } from '../selected-mailbox.js';
import { formatSet, inRanges, parseSequenceSet, type Range } from '../sequence-set.js';
import type { Session } from '../session.js';
import { imapString } from '../../mime/imap-strings.js';

/** Per-message state while evaluating: the row plus lazily computed expensive views. */
interface Candidate {
  readonly row: MessageRecord;
  readonly seq: number;
  fields?: { key: string; value: string }[];
  body: Map<string, boolean>;
}

interface Compiled {
  readonly uidSets: Map<string, Range[]>;
  readonly seqSets: Map<string, Range[]>;
}

function compileSets(key: SearchKey, sel: SelectedMailbox, s: Session, out: Compiled): void {
  switch (key.k) {
    case 'uid':
      if (!out.uidSets.has(key.set)) out.uidSets.set(key.set, key.set === '$' ? s.searchResult.map((u) => [u, u] as Range) : parseSequenceSet(key.set, sel.uids.last()));
      break;
    case 'seq':
      if (!out.seqSets.has(key.set)) {
        if (key.set === '$') out.seqSets.set(key.set, s.searchResult.map((u) => sel.uids.seqOf(u)).filter(Boolean).map((n) => [n, n] as Range));
        else out.seqSets.set(key.set, parseSequenceSet(key.set, sel.exists));
      }
      break;
    case 'not':
      compileSets(key.key, sel, s, out);
      break;
    case 'or':
      compileSets(key.a, sel, s, out);
      compileSets(key.b, sel, s, out);
      break;
    case 'and':
      key.keys.forEach((k) => compileSets(k, sel, s, out));
      break;
    default:
      break;
  }
}

function compareDay(day: number, op: 'before' | 'on' | 'since', target: number): boolean {
  return op === 'before' ? day < target : op === 'on' ? day === target : day >= target;
}

async function matches(s: Session, sel: SelectedMailbox, c: Candidate, key: SearchKey, sets: Compiled, now: number): Promise<boolean> {
  const row = c.row;
  switch (key.k) {
    case 'all':
      return true;
    case 'flag': {
      const want = key.flag.toLowerCase();
      return row.flags.some((f) => f.toLowerCase() === want) === key.has;
    }
    case 'recent':
      return sel.recent.has(row.uid) === key.has;
    case 'date': {
      const ms = key.field === 'internal' ? row.internalDate.getTime() : key.field === 'saved' ? row.savedAt.getTime() : (row.sentDate ?? row.internalDate.getTime());
      return compareDay(utcDay(ms), key.op, key.day);
    }
    case 'within': {
      const age = (now - row.internalDate.getTime()) / 1000;
      return key.older ? age >= key.seconds : age < key.seconds;
    }
    case 'size':
      return key.larger ? row.size > key.n : row.size < key.n;
    case 'envelope':
      return row.searchText ? searchField(row.searchText, key.field).includes(foldSearchText(key.value)) : false;
    case 'header': {
      c.fields ??= decodedFields(row.header ?? (await headerOf(s, row)));
      const needle = foldSearchText(key.value);
      return c.fields.some((f) => f.key === key.field && f.value.includes(needle));
    }
    case 'body':
    case 'text': {
      const needle = foldSearchText(key.value);
      if (key.k === 'text') {
        c.fields ??= decodedFields(row.header ?? (await headerOf(s, row)));
        if (c.fields.some((f) => f.value.includes(needle) || f.key.includes(needle))) return true;
      }
      let hit = c.body.get(needle);
      if (hit === undefined) {
        hit = await bodyContains(s.ctx.blobs, row, needle);
        c.body.set(needle, hit);
      }
      return hit;
    }
    case 'uid':
      return inRanges(sets.uidSets.get(key.set)!, row.uid);
    case 'seq':
      return inRanges(sets.seqSets.get(key.set)!, c.seq);
    case 'modseq':
      return row.modseq >= key.value;
    case 'savedatesupported':
      return true;
    case 'not':
      return !(await matches(s, sel, c, key.key, sets, now));
    case 'or':
      return (await matches(s, sel, c, key.a, sets, now)) || (await matches(s, sel, c, key.b, sets, now));
    case 'and': {
      for (const k of [...key.keys].sort((a, b) => cost(a) - cost(b))) if (!(await matches(s, sel, c, k, sets, now))) return false;
      return true;
    }
  }
}

export async function headerOf(s: Session, row: MessageRecord): Promise<Buffer> {
  if (row.headerBytes === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of await s.ctx.blobs.get(row.blobId, { start: 0, end: row.headerBytes - 1 })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Ranges past which a UID or sequence set stays out of the store's filter (its SQL would be long). */
const MAX_FILTER_RANGES = 200;

/**
 * What the store can decide of `key` (a MessageFilter): `exact` when it is the whole query, otherwise a
 * condition every match meets (body, header and large-set keys become true), which the evaluator above
 * then narrows. A NOT of an inexact key is true: the complement of a superset says nothing.
 */
function toFilter(key: SearchKey, sel: SelectedMailbox, sets: Compiled, now: number): { filter: MessageFilter; exact: boolean } {
  const yes = { filter: { k: 'const', value: true } as MessageFilter, exact: true };
  const unknown = { filter: yes.filter, exact: false };
  const exact = (filter: MessageFilter) => ({ filter, exact: true });
  const uidFilter = (ranges: UidSet) => (ranges.length > MAX_FILTER_RANGES ? unknown : exact({ k: 'uid', set: ranges }));
  switch (key.k) {
    case 'all':
    case 'savedatesupported':
      return yes;
    case 'flag': {
      const f: MessageFilter = { k: 'flag', flag: key.flag };
      return exact(key.has ? f : { k: 'not', filter: f });
    }
    case 'recent': {
      const f = uidFilter(toUidSet([...sel.recent].sort((a, b) => a - b)));
      return f.exact && !key.has ? exact({ k: 'not', filter: f.filter }) : f;
    }
    case 'date':
      return exact({ k: 'day', field: key.field, op: key.op, day: key.day });
    case 'within':
      return exact({ k: 'internal', op: key.older ? 'at-most' : 'after', ms: now - key.seconds * 1000 });
    case 'size':
      return exact({ k: 'size', op: key.larger ? 'larger' : 'smaller', n: key.n });
    case 'modseq':
      return exact({ k: 'modseq', min: key.value });
    case 'envelope': {
      const value = foldSearchText(key.value);
      return searchableText(value) ? exact({ k: 'contains', field: key.field, value }) : unknown;
    }
    case 'uid':
      return uidFilter(sets.uidSets.get(key.set)!);
    case 'seq': {
      // Sequence numbers as the UIDs they stand for in this session's view (what the evaluator tests).
      const uids: Range[] = [];
      for (const [a, b] of sets.seqSets.get(key.set)!) {
        const hi = Math.min(b, sel.exists);
        if (a <= hi) uids.push([sel.uids.uidAt(a), sel.uids.uidAt(hi)]);
      }
      return uidFilter(uids);
    }
    case 'header':
    case 'body':
    case 'text':
      return unknown;
    case 'not': {
      const inner = toFilter(key.key, sel, sets, now);
      return inner.exact ? exact({ k: 'not', filter: inner.filter }) : unknown;
    }
    case 'or':
    case 'and': {
      const parts = (key.k === 'or' ? [key.a, key.b] : key.keys).map((k) => toFilter(k, sel, sets, now));
      const all = parts.every((p) => p.exact);
      const filters = parts.map((p) => p.filter);
      if (key.k === 'or' && filters.some((f) => f.k === 'const' && f.value)) return all ? yes : unknown;
      const kept = key.k === 'and' ? filters.filter((f) => !(f.k === 'const' && f.value)) : filters;
      const filter: MessageFilter = kept.length === 0 ? yes.filter : kept.length === 1 ? kept[0]! : { k: key.k, filters: kept };
      return { filter, exact: all };
    }
  }
}

/** The store's part of a SEARCH, or nothing when it would be no narrower than the whole mailbox (or too large). */
function storeFilter(s: Session, key: SearchKey, sets: Compiled, now: number): { filter: MessageFilter; exact: boolean } | null {
  if (!s.ctx.indexedSearch) return null;
  const compiled = toFilter(key, s.selected!, sets, now);
  if (compiled.filter.k === 'const' && compiled.filter.value && !compiled.exact) return null;
  try {
    checkFilter(compiled.filter);
  } catch {
    return null;
  }
  return compiled;
}

/**
 * The messages of the selected mailbox that match `key`, in mailbox order: with `rows`, each with its
 * record (what SORT and THREAD read of them besides: `extra`). SEARCH's one evaluator: SORT and THREAD
 * select with it too. The store decides what it can (storeFilter); the evaluator above decides the
 * rest on the rows the store kept, so both ways give the same messages.
 */
/** Messages whose text a bulk search tests between two turns (about half a millisecond of SQLite). */
const TEXT_SLICE = 1024;

function hasText(filter: MessageFilter): boolean {
  if (filter.k === 'contains') return true;
  if (filter.k === 'not') return hasText(filter.filter);
  if (filter.k === 'and' || filter.k === 'or') return filter.filters.some(hasText);
  return false;
}

/**
 * The store's search over every UID (rows past the session's view, mail it has not been told of,
 * are dropped by the caller). A text condition reads a row (an index entry) per message, 4–13 ms for
 * 10,000 on SQLite, on the event loop: it is asked in slices of UIDs, with a turn between them. Flag,
 * size and date conditions are asked at once: their indexes are read whole either way.
 */
async function searchSliced(s: Session, sel: SelectedMailbox, filter: MessageFilter, modseq: boolean, bulk: boolean): Promise<{ uids: readonly number[]; highestModseq: number }> {
  const everything: UidSet = [[1, 0xffffffff]];
  if (!bulk || sel.exists <= TEXT_SLICE || !hasText(filter)) return s.store.searchUids(sel.id, s.user.accountId, everything, filter, { modseq });
  const uids: number[] = [];
  let highestModseq = 0;
  let lo = 1;
  for (let at = TEXT_SLICE; ; at += TEXT_SLICE) {
    const hi = at < sel.exists ? sel.uids.uidAt(at) : 0xffffffff;
    const part = await s.store.searchUids(sel.id, s.user.accountId, [[lo, hi]], filter, { modseq });
    for (const u of part.uids) uids.push(u);
    highestModseq = Math.max(highestModseq, part.highestModseq);
    if (hi === 0xffffffff) return { uids, highestModseq };
    lo = hi + 1;
    await bulkTurns.pass();
  }
}

export async function findMessages(s: Session, key: SearchKey, extra: { header?: boolean; analysis?: boolean } = {}): Promise<{ row: MessageRecord; seq: number }[]> {
  return (await selectMessages(s, key, extra, true)).found;
}

async function selectMessages(
  s: Session,
  key: SearchKey,
  extra: { header?: boolean; analysis?: boolean },
  rows: boolean,
): Promise<{ found: { row: MessageRecord; seq: number }[]; uids: number[]; highestModseq: number }> {
  const sel = s.selected!;
  const sets: Compiled = { uidSets: new Map(), seqSets: new Map() };
  compileSets(key, sel, s, sets);
  const needs = searchNeeds(key);
  if (needs.modseq) s.condstore = true;
  const now = s.ctx.clock.now().getTime();
  const found: { row: MessageRecord; seq: number }[] = [];
  if (sel.exists === 0) return { found, uids: [], highestModseq: 0 };
  const decided = storeFilter(s, key, sets, now);
  // Its cost grows with the mailbox: it takes turns with the other bulk commands (see BulkTurns).
  const bulk = sel.exists > BULK_MESSAGES;
  if (bulk) await bulkTurns.pass();
  let candidates: UidSet | null = null;
  if (decided) {
    const matched = await searchSliced(s, sel, decided.filter, needs.modseq, bulk);
    // Rows the store has but this session does not know yet (new mail not reported) are not in its view.
    const inView = matched.uids.filter((u) => sel.uids.seqOf(u) > 0);
    if (decided.exact && !rows) {
      const highestModseq = inView.length === matched.uids.length ? matched.highestModseq : 0;
      return { found, uids: inView, highestModseq };
    }
    if (inView.length === 0) return { found, uids: [], highestModseq: 0 };
    candidates = toUidSet(inView);
  }
  const required = decided ? null : requiredEnvelopeText(key);
  const records = s.store.fetch(sel.id, s.user.accountId, candidates ?? toUidSet(sel.uids.toArray()), {
    header: needs.header || Boolean(extra.header),
    analysis: needs.analysis || Boolean(extra.analysis),
    search: needs.search,
    ...(required && !required.includes('\n') ? { textContains: foldSearchText(required) } : {}),
  });
  let seen = 0;
  for await (const row of records) {
    if (bulk && ++seen % BULK_ROWS === 0) await bulkTurns.pass();
    const seq = sel.uids.seqOf(row.uid);
    if (!seq) continue;
    if (decided?.exact || (await matches(s, sel, { row, seq, body: new Map() }, key, sets, now))) found.push({ row, seq });
  }
  return { found, uids: found.map((f) => f.row.uid), highestModseq: found.reduce((n, f) => Math.max(n, f.row.modseq), 0) };
}

/**
 * RFC 4731 ESEARCH data for the found ids in the order given (SEARCH: ascending; ESORT: sort order,
 * RFC 5267): MIN and MAX are the first and last, none of MIN/MAX/ALL when nothing was found.
 */
export function esearchParts(tag: string, byUid: boolean, ids: readonly number[], opts: ReadonlySet<string>, all: (ids: readonly number[]) => string): string[] {
  const parts = [`(TAG ${imapString(tag)})`];
  if (byUid) parts.push('UID');
  if (ids.length) {
    if (opts.has('MIN')) parts.push(`MIN ${ids[0]}`);
    if (opts.has('MAX')) parts.push(`MAX ${ids[ids.length - 1]}`);
    if (opts.has('ALL')) parts.push(`ALL ${all(ids)}`);
  }
  if (opts.has('COUNT')) parts.push(`COUNT ${ids.length}`);
  return parts;
}

async function runSearch(s: Session, query: SearchQuery, byUid: boolean, tag: string): Promise<void> {
  const needs = searchNeeds(query.key);
  const sel = s.selected!;
  const found = await selectMessages(s, query.key, {}, false);
  const ids = byUid ? found.uids : found.uids.map((u) => sel.uids.seqOf(u));
  const highest = needs.modseq && ids.length ? await highestOf(s, found) : null;
  if (query.returns === null) {
    await s.untagged(`SEARCH${ids.length ? ' ' + ids.join(' ') : ''}${highest !== null ? ` (MODSEQ ${highest})` : ''}`);
    return;
  }
  const opts = new Set(query.returns);
  if (opts.has('SAVE')) {
    s.searchResult = [...found.uids];
    // RFC 5182: SAVE alone (or with only MIN/MAX… that are not asked) sends no ESEARCH.
    if (opts.size === 1) return;
  }
  const parts = esearchParts(tag, byUid, ids, opts, formatSet);
  if (highest !== null) parts.push(`MODSEQ ${highest}`);
  await s.untagged(`ESEARCH ${parts.join(' ')}`);
}

/**
 * The highest MODSEQ of what was found: the store's, unless some of its matches were left out of the
 * session's view (then asked again for exactly the UIDs kept).
 */
async function highestOf(s: Session, found: { uids: number[]; highestModseq: number }): Promise<number> {
  if (found.highestModseq > 0) return found.highestModseq;
  const sel = s.selected!;
  const again = await s.store.searchUids(sel.id, s.user.accountId, toUidSet(found.uids), { k: 'const', value: true }, { modseq: true });
  return again.highestModseq;
}

export const searchCommand = defineCommand({
  name: 'SEARCH',
  states: SELECTED,
  noExpunge: true,
  parse: (r, s) => parseSearch(r, s.rev2, s.utf8Accept),
  run: (s, q, tag) => runSearch(s, q, false, tag),
});

export const uidSearchCommand = defineCommand({
  name: 'UID SEARCH',
  states: SELECTED,
  parse: (r, s) => parseSearch(r, s.rev2, s.utf8Accept),
  run: (s, q, tag) => runSearch(s, q, true, tag),
});
