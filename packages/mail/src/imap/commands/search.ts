import { foldSearchText, searchField, type MessageRecord } from '@palabre/core';
import { SELECTED, defineCommand } from '../command.js';
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

/**
 * The messages of the selected mailbox that match `key`, in mailbox order, with what SORT and THREAD
 * read of them besides (`extra`). SEARCH's one evaluator: SORT and THREAD select with it too.
 */
export async function findMessages(s: Session, key: SearchKey, extra: { header?: boolean; analysis?: boolean } = {}): Promise<{ row: MessageRecord; seq: number }[]> {
  const sel = s.selected!;
  const sets: Compiled = { uidSets: new Map(), seqSets: new Map() };
  compileSets(key, sel, s, sets);
  const needs = searchNeeds(key);
  if (needs.modseq) s.condstore = true;
  const now = s.ctx.clock.now().getTime();
  const found: { row: MessageRecord; seq: number }[] = [];
  const all = sel.uids.toArray();
  if (all.length) {
    const required = requiredEnvelopeText(key);
    const rows = s.store.fetch(sel.id, s.user.accountId, toUidSet(all), {
      header: needs.header || Boolean(extra.header),
      analysis: needs.analysis || Boolean(extra.analysis),
      search: needs.search,
      ...(required && !required.includes('\n') ? { textContains: foldSearchText(required) } : {}),
    });
    for await (const row of rows) {
      const seq = sel.uids.seqOf(row.uid);
      if (!seq) continue;
      if (await matches(s, sel, { row, seq, body: new Map() }, key, sets, now)) found.push({ row, seq });
    }
  }
  return found;
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
  const found = (await findMessages(s, query.key)).map(({ row, seq }) => ({ uid: row.uid, seq, modseq: row.modseq }));
  const ids = found.map((f) => (byUid ? f.uid : f.seq));
  const highest = needs.modseq && found.length ? Math.max(...found.map((f) => f.modseq)) : null;
  if (query.returns === null) {
    await s.untagged(`SEARCH${ids.length ? ' ' + ids.join(' ') : ''}${highest !== null ? ` (MODSEQ ${highest})` : ''}`);
    return;
  }
  const opts = new Set(query.returns);
  if (opts.has('SAVE')) {
    s.searchResult = found.map((f) => f.uid);
    // RFC 5182: SAVE alone (or with only MIN/MAX… that are not asked) sends no ESEARCH.
    if (opts.size === 1) return;
  }
  const parts = esearchParts(tag, byUid, ids, opts, formatSet);
  if (highest !== null) parts.push(`MODSEQ ${highest}`);
  await s.untagged(`ESEARCH ${parts.join(' ')}`);
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
