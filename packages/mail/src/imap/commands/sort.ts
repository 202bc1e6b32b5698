import type { MessageRecord } from '@palabre/core';
import type { ArgReader } from '../arguments.js';
import { SELECTED, defineCommand } from '../command.js';
import { SyntaxError, bad, no } from '../errors.js';
import { formatThreads, sortMessages, threadOrderedSubject, threadReferences, SORT_KEYS, type SortCriterion, type SortKey, type SortableMessage } from '../rfc5256.js';
import { parseSearch, type SearchKey } from '../search-query.js';
import type { Session } from '../session.js';
import { parseAddressList } from '../../mime/addresses.js';
import { parseMessageDate } from '../../mime/dates.js';
import { decodeEncodedWords } from '../../mime/encoded-words.js';
import { fieldValue, parseFields } from '../../mime/header-block.js';
import { esearchParts, findMessages, headerOf } from './search.js';

/** RFC 5256 THREAD algorithms we answer (the capability lists them). */
export const THREAD_ALGORITHMS = ['ORDEREDSUBJECT', 'REFERENCES'] as const;
type ThreadAlgorithm = (typeof THREAD_ALGORITHMS)[number];

const MAX_CRITERIA = 16;

/** `charset SP search-criteria`, the tail SORT and THREAD share; only UTF-8 and US-ASCII are searched. */
function charsetAndSearch(r: ArgReader, s: Session): SearchKey {
  r.sp();
  const charset = r.astring('charset').toUpperCase();
  // RFC 6855 erratum 4029: after ENABLE UTF8=ACCEPT, a charset other than UTF-8 conflicts with the strings.
  if (s.utf8Accept && charset !== 'UTF-8') throw bad('Only the UTF-8 charset after ENABLE UTF8=ACCEPT');
  if (charset !== 'UTF-8' && charset !== 'US-ASCII') throw no('BADCHARSET (US-ASCII UTF-8)', 'Only UTF-8 and US-ASCII are supported');
  // parseSearch reads from the space before the keys; no RETURN or CHARSET may come here.
  return parseSearch(r, false).key;
}

/** RFC 5267 ESORT result options (SAVE is not offered for SORT). */
const SORT_RETURNS = ['MIN', 'MAX', 'COUNT', 'ALL'] as const;
type SortReturn = (typeof SORT_RETURNS)[number];

interface SortArgs {
  readonly criteria: SortCriterion[];
  readonly key: SearchKey;
  /** `RETURN (…)`: answer with ESEARCH; null for the plain `* SORT`. */
  readonly returns: readonly SortReturn[] | null;
}

function parseSort(r: ArgReader, s: Session): SortArgs {
  r.sp();
  let returns: SortReturn[] | null = null;
  if (r.peekAtom().toUpperCase() === 'RETURN') {
    r.atom();
    r.sp();
    const opts = r.list(() => {
      const o = r.atom('return option').toUpperCase();
      if (!(SORT_RETURNS as readonly string[]).includes(o)) throw new SyntaxError(`Unknown SORT return option ${o.slice(0, 20)}`);
      return o as SortReturn;
    });
    // RFC 4731 §3.1: RETURN () means ALL.
    returns = opts.length ? opts : ['ALL'];
    r.sp();
  }
  let reverse = false;
  const criteria: SortCriterion[] = [];
  r.list(
    () => {
      const word = r.atom('sort criterion').toUpperCase();
      if (criteria.length + (reverse ? 1 : 0) >= MAX_CRITERIA) throw new SyntaxError('Too many sort criteria');
      if (word === 'REVERSE') {
        if (reverse) throw new SyntaxError('REVERSE REVERSE is not a sort criterion');
        reverse = true;
        return;
      }
      if (!(SORT_KEYS as readonly string[]).includes(word)) throw new SyntaxError(`Unknown sort criterion ${word.slice(0, 20)}`);
      criteria.push({ key: word as SortKey, reverse });
      reverse = false;
    },
    { allowEmpty: false },
  );
  if (reverse) throw new SyntaxError('REVERSE must be followed by a sort key');
  return { criteria, key: charsetAndSearch(r, s), returns };
}

function parseThread(r: ArgReader, s: Session): { algorithm: ThreadAlgorithm; key: SearchKey } {
  r.sp();
  const algorithm = r.atom('threading algorithm').toUpperCase();
  if (!(THREAD_ALGORITHMS as readonly string[]).includes(algorithm)) throw new SyntaxError(`Unknown threading algorithm ${algorithm.slice(0, 20)}`);
  return { algorithm: algorithm as ThreadAlgorithm, key: charsetAndSearch(r, s) };
}

const MESSAGE_ID = /<[^<>\s]{1,998}>/g;

/** What sorting and threading read of a message, from its header section (the one header parser). */
async function sortable(s: Session, row: MessageRecord, seq: number, byUid: boolean): Promise<SortableMessage> {
  const fields = parseFields(row.header ?? (await headerOf(s, row)));
  const first = (name: string) => parseAddressList(fieldValue(fields, name)).find((a) => a.host !== null || a.mailbox !== null) ?? null;
  const ids = (name: string) => (fieldValue(fields, name) ?? '').match(MESSAGE_ID) ?? [];
  const references = ids('references');
  const arrival = row.internalDate.getTime();
  return {
    id: byUid ? row.uid : seq,
    seq,
    size: row.size,
    arrival,
    sent: parseMessageDate(fieldValue(fields, 'date')) ?? arrival,
    subject: decodeEncodedWords(fieldValue(fields, 'subject') ?? ''),
    from: first('from'),
    to: first('to'),
    cc: first('cc'),
    messageId: ids('message-id')[0] ?? null,
    references: references.length ? references : ids('in-reply-to').slice(0, 1),
  };
}

async function candidates(s: Session, key: SearchKey, byUid: boolean): Promise<SortableMessage[]> {
  const found = await findMessages(s, key, { header: true });
  const out: SortableMessage[] = [];
  for (const { row, seq } of found) out.push(await sortable(s, row, seq, byUid));
  return out;
}

/**
 * A sequence-set that keeps the sort order (RFC 5267 §3.2 ALL): only ascending runs of consecutive
 * numbers are written as ranges, so reading it left to right gives the sorted list.
 */
export function orderedSet(ids: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    out.push(j > i ? `${ids[i]}:${ids[j]}` : `${ids[i]}`);
    i = j + 1;
  }
  return out.join(',');
}

const sortRun =
  (byUid: boolean) =>
  async (s: Session, args: SortArgs, tag: string): Promise<void> => {
    const ids = sortMessages(await candidates(s, args.key, byUid), args.criteria).map((m) => m.id);
    if (!args.returns) {
      await s.untagged(`SORT${ids.map((id) => ` ${id}`).join('')}`);
      return;
    }
    const parts = esearchParts(tag, byUid, ids, new Set(args.returns), orderedSet);
    await s.untagged(`ESEARCH ${parts.join(' ')}`);
  };

const threadRun =
  (byUid: boolean) =>
  async (s: Session, args: { algorithm: ThreadAlgorithm; key: SearchKey }): Promise<void> => {
    const messages = await candidates(s, args.key, byUid);
    const roots = args.algorithm === 'REFERENCES' ? threadReferences(messages) : threadOrderedSubject(messages);
    const list = formatThreads(roots);
    await s.untagged(`THREAD${list ? ` ${list}` : ''}`);
  };

export const sortCommand = defineCommand({ name: 'SORT', states: SELECTED, noExpunge: true, parse: parseSort, run: sortRun(false) });
export const uidSortCommand = defineCommand({ name: 'UID SORT', states: SELECTED, parse: parseSort, run: sortRun(true) });
export const threadCommand = defineCommand({ name: 'THREAD', states: SELECTED, noExpunge: true, parse: parseThread, run: threadRun(false) });
export const uidThreadCommand = defineCommand({ name: 'UID THREAD', states: SELECTED, parse: parseThread, run: threadRun(true) });
