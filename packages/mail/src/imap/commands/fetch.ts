import { Readable } from 'node:stream';
import type { MessageRecord } from '@palabre/core';
import { selectFields } from '../../mime/header-block.js';
import { canDecode, createTransferDecoder } from '../../mime/transfer-decode.js';
import type { AnalysisData } from '../../mime/types.js';
import type { ArgReader } from '../arguments.js';
import { sectionRange } from '../body-sections.js';
import { BULK_BYTES, BULK_MESSAGES, bulkTurns } from '../bulk-turns.js';
import { SELECTED, defineCommand } from '../command.js';
import { ImapError, no } from '../errors.js';
import { parseFetchItems, sectionLabel, type FetchItem, type FetchRequest, type SectionItem } from '../fetch-items.js';
import { formatInternalDate } from '../dates.js';
import { toUidSet, type SelectedMailbox } from '../selected-mailbox.js';
import { formatSet, parseSequenceSet, inRanges } from '../sequence-set.js';
import { downgradeRendered } from '../rfc6855.js';
import type { Session } from '../session.js';

interface FetchArgs {
  readonly set: string;
  readonly request: FetchRequest;
}

/** Bytes of a section: in memory, or a stream of known length. */
type Content =
  | { readonly kind: 'buffer'; readonly data: Buffer }
  /** `nul`: the bytes may hold NUL (then BINARY answers with literal8). */
  | { readonly kind: 'stream'; readonly length: number; readonly open: () => Promise<Readable>; readonly nul?: boolean }
  | { readonly kind: 'nil' };

function needs(items: readonly FetchItem[]): { header: boolean; analysis: boolean } {
  let header = false;
  let analysis = false;
  for (const it of items) {
    if (it.kind === 'ENVELOPE' || it.kind === 'BODYSTRUCTURE' || it.kind === 'BODY' || it.kind === 'BINARY.SIZE') analysis = true;
    if (it.kind === 'section') {
      if (it.path.length || it.name === 'BINARY') analysis = true;
      if (!it.path.length && (it.text === 'HEADER' || it.text === 'HEADER.FIELDS' || it.text === 'HEADER.FIELDS.NOT')) header = true;
    }
  }
  return { header, analysis };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function applyPartial(content: Content, partial: SectionItem['partial']): Content {
  if (!partial || content.kind === 'nil') return content;
  if (content.kind === 'buffer') return { kind: 'buffer', data: content.data.subarray(partial.start, partial.start + partial.length) };
  const start = Math.min(partial.start, content.length);
  const length = Math.min(partial.length, content.length - start);
  if (length <= 0) return { kind: 'buffer', data: Buffer.alloc(0) };
  const open = content.open;
  return {
    kind: 'stream',
    length,
    open: async () => {
      const source = await open();
      return sliceStream(source, start, length);
    },
    ...(content.nul !== undefined ? { nul: content.nul } : {}),
  };
}

/** Bytes [start, start+length) of a stream, without holding it. */
async function* sliceGen(source: Readable, start: number, length: number): AsyncGenerator<Buffer> {
  let skipped = 0;
  let sent = 0;
  for await (const raw of source) {
    let chunk = raw as Buffer;
    if (skipped < start) {
      const drop = Math.min(start - skipped, chunk.length);
      skipped += drop;
      chunk = chunk.subarray(drop);
    }
    if (!chunk.length) continue;
    const take = Math.min(length - sent, chunk.length);
    yield chunk.subarray(0, take);
    sent += take;
    if (sent >= length) break;
  }
  source.destroy();
}

function sliceStream(source: Readable, start: number, length: number): Readable {
  return Readable.from(sliceGen(source, start, length), { objectMode: false });
}

/**
 * Messages up to this size are read whole (hash-verified) instead of streamed: for the typical few-KB
 * message one read costs a quarter of a stream's setup. Larger ones always stream.
 */
const READ_WHOLE_BYTES = 1024 * 1024;

async function blobBytes(s: Session, row: MessageRecord, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  return readAll(await s.ctx.blobs.get(row.blobId, { start, end: end - 1 }));
}

/** The header section of the message (from the row when stored, else from the blob). */
async function topHeader(s: Session, row: MessageRecord): Promise<Buffer> {
  return row.header ?? blobBytes(s, row, 0, row.headerBytes);
}

async function sectionContent(s: Session, row: MessageRecord, analysis: AnalysisData | undefined, item: SectionItem): Promise<Content> {
  // The whole message first, tested against null only: code optimised while a client fetched headers
  // is not thrown away when it asks for a body.
  if (item.path.length === 0 && item.text === null && item.name !== 'BINARY') {
    if (row.size <= READ_WHOLE_BYTES) return { kind: 'buffer', data: await s.ctx.blobs.read(row.blobId, READ_WHOLE_BYTES) };
    return { kind: 'stream', length: row.size, open: () => s.ctx.blobs.get(row.blobId) };
  }
  const isHeader = item.text === 'HEADER' || item.text === 'HEADER.FIELDS' || item.text === 'HEADER.FIELDS.NOT';
  if (item.path.length === 0 && isHeader && item.name !== 'BINARY') {
    const header = await topHeader(s, row);
    const data = item.text === 'HEADER' ? header : selectFields(header, item.fields, item.text === 'HEADER.FIELDS.NOT');
    return { kind: 'buffer', data };
  }
  if (item.path.length === 0 && item.text === 'TEXT') {
    if (row.size <= READ_WHOLE_BYTES) return { kind: 'buffer', data: (await s.ctx.blobs.read(row.blobId, READ_WHOLE_BYTES)).subarray(row.headerBytes) };
    const length = row.size - row.headerBytes;
    return length <= 0 ? { kind: 'buffer', data: Buffer.alloc(0) } : { kind: 'stream', length, open: () => s.ctx.blobs.get(row.blobId, { start: row.headerBytes, end: row.size - 1 }) };
  }
  if (!analysis?.parts) throw no('SERVERBUG', 'Message structure unavailable');
  const range = sectionRange(analysis.parts, row.size, item.path, item.text);
  if (range.kind === 'missing') return { kind: 'nil' };
  const start = Math.min(range.start, row.size);
  const end = Math.min(Math.max(range.end, start), row.size);
  if (item.name === 'BINARY') {
    const node = range.node;
    if (node?.c) return { kind: 'stream', length: end - start, open: () => s.ctx.blobs.get(row.blobId, { start, end: Math.max(start, end - 1) }) };
    const encoding = node?.enc ?? '7bit';
    if (!canDecode(encoding)) throw no('UNKNOWN-CTE', `Cannot decode ${encoding.slice(0, 30)}`);
    if (end <= start) return { kind: 'buffer', data: Buffer.alloc(0) };
    // The decoded length comes first in a literal: decode once to count, once to send.
    const open = async () => (await s.ctx.blobs.get(row.blobId, { start, end: end - 1 })).pipe(createTransferDecoder(encoding));
    let length = 0;
    let nul = false;
    for await (const c of await open()) {
      length += (c as Buffer).length;
      nul ||= (c as Buffer).includes(0);
    }
    return { kind: 'stream', length, open, nul };
  }
  if (item.text === 'HEADER.FIELDS' || item.text === 'HEADER.FIELDS.NOT') {
    const header = range.topHeader ? await topHeader(s, row) : await blobBytes(s, row, start, Math.min(end, start + 256 * 1024));
    return { kind: 'buffer', data: selectFields(header, item.fields, item.text === 'HEADER.FIELDS.NOT') };
  }
  if (range.topHeader) return { kind: 'buffer', data: await topHeader(s, row) };
  if (end <= start) return { kind: 'buffer', data: Buffer.alloc(0) };
  return { kind: 'stream', length: end - start, open: () => s.ctx.blobs.get(row.blobId, { start, end: end - 1 }) };
}

/** Writes `lead` (the text before the section's value) and the value itself. */
async function writeContent(s: Session, lead: string, content: Content, binary: boolean): Promise<void> {
  const w = s.writer;
  if (content.kind === 'nil') return w.write(`${lead}NIL`);
  if (content.kind === 'buffer') {
    const lit = binary && content.data.includes(0) ? '~' : '';
    await w.write(`${lead}${lit}{${content.data.length}}\r\n`);
    return w.write(content.data);
  }
  const stream = await content.open();
  await w.write(`${lead}${binary && content.nul !== false ? '~' : ''}{${content.length}}\r\n`);
  let sent = 0;
  try {
    for await (const chunk of stream) {
      const c = chunk as Buffer;
      const take = Math.min(c.length, content.length - sent);
      if (take > 0) await w.write(take === c.length ? c : c.subarray(0, take));
      sent += take;
    }
  } catch (error) {
    // The literal length is on the wire already: the connection cannot continue.
    throw new ImapError('BYE', 'SERVERBUG', 'Stored message could not be read', { cause: error });
  }
  if (sent < content.length) throw new ImapError('BYE', 'SERVERBUG', 'Stored message is shorter than recorded');
}

/** A pre-rendered ENVELOPE/BODYSTRUCTURE, 7-bit for a client that did not enable UTF-8 (RFC 6855 §7). */
function rendered(s: Session, value: string | undefined): string {
  if (value === undefined) return 'NIL';
  return s.utf8 ? value : downgradeRendered(value);
}

async function writeMessage(s: Session, sel: SelectedMailbox, seq: number, row: MessageRecord, args: FetchArgs, byUid: boolean, addFlags: boolean): Promise<void> {
  const { items, changedSince } = args.request;
  const w = s.writer;
  const analysis = row.analysis as AnalysisData | undefined;
  const out: string[] = [];
  const wantsUid = byUid || items.some((i) => i.kind === 'UID');
  if (wantsUid) out.push(`UID ${row.uid}`);
  let flagsDone = false;
  let modseqDone = false;
  const sections: { label: string; item: SectionItem; content: Content }[] = [];
  for (const it of items) {
    switch (it.kind) {
      case 'UID':
        break;
      case 'FLAGS':
        if (!flagsDone) out.push(`FLAGS (${sel.flagsFor(row.uid, row.flags).join(' ')})`);
        flagsDone = true;
        break;
      case 'INTERNALDATE':
        out.push(`INTERNALDATE "${formatInternalDate(row.internalDate)}"`);
        break;
      case 'SAVEDATE':
        out.push(`SAVEDATE "${formatInternalDate(row.savedAt)}"`);
        break;
      case 'RFC822.SIZE':
        out.push(`RFC822.SIZE ${row.size}`);
        break;
      case 'ENVELOPE':
        out.push(`ENVELOPE ${rendered(s, analysis?.envelope)}`);
        break;
      case 'BODYSTRUCTURE':
        out.push(`BODYSTRUCTURE ${rendered(s, analysis?.bodystructure)}`);
        break;
      case 'BODY':
        out.push(`BODY ${rendered(s, analysis?.body)}`);
        break;
      case 'MODSEQ':
        if (!modseqDone) out.push(`MODSEQ (${row.modseq})`);
        modseqDone = true;
        break;
      case 'BINARY.SIZE': {
        const content = await sectionContent(s, row, analysis, { kind: 'section', name: 'BINARY', peek: true, path: it.path, text: null, fields: [], partial: null });
        out.push(`BINARY.SIZE[${it.path.join('.')}] ${content.kind === 'nil' ? 0 : content.kind === 'buffer' ? content.data.length : content.length}`);
        break;
      }
      case 'section':
        sections.push({ label: sectionLabel(it), item: it, content: applyPartial(await sectionContent(s, row, analysis, it), it.partial) });
        break;
    }
  }
  if (addFlags && !flagsDone) out.push(`FLAGS (${sel.flagsFor(row.uid, row.flags).join(' ')})`);
  // RFC 7162 §3.1.4.1: MODSEQ goes with CHANGEDSINCE and with flags a FETCH changed (\Seen), not with
  // every solicited FLAGS (clients asking for it say MODSEQ).
  if (!modseqDone && (changedSince !== null || (addFlags && s.condstore))) out.push(`MODSEQ (${row.modseq})`);
  if (!sections.length) {
    await w.write(`* ${seq} FETCH (${out.join(' ')})\r\n`);
    return;
  }
  // One piece of text before each value: the response head goes out with the first literal's length.
  let lead = `* ${seq} FETCH (${out.join(' ')}`;
  let first = out.length === 0;
  for (const sec of sections) {
    await writeContent(s, `${lead}${first ? '' : ' '}${sec.label} `, sec.content, sec.item.name === 'BINARY');
    lead = '';
    first = false;
  }
  await w.write(')\r\n');
}

async function runFetch(s: Session, args: FetchArgs, byUid: boolean): Promise<{ code?: string; text?: string } | void> {
  const sel = s.selected!;
  const { items, changedSince, vanished } = args.request;
  if (changedSince !== null) s.condstore = true;
  if (vanished && !s.qresync) throw no('CANNOT', 'VANISHED needs ENABLE QRESYNC');
  const set = sel.resolve(args.set, byUid);
  if (vanished && changedSince !== null) {
    const changes = await s.store.changesSince(sel.id, s.user.accountId, changedSince);
    const asked = parseSequenceSet(args.set, Math.max(sel.uidNext - 1, 1));
    const gone = (changes.expunged ?? []).filter((u) => inRanges(asked, u) && !sel.uids.seqOf(u));
    if (gone.length) await s.untagged(`VANISHED (EARLIER) ${formatSet(gone)}`);
  }
  if (!set.uids.length) return;
  // Reading a body part sets \Seen (RFC 9051 §6.4.5) when the mailbox is writable and the user may.
  const setsSeen = items.some((i) => i.kind === 'section' && !i.peek);
  const seenNow = new Set<number>();
  if (setsSeen && !sel.readOnly && sel.can('s')) {
    const r = await s.store.storeFlags(sel.id, s.user.accountId, toUidSet(set.uids), 'add', ['\\Seen']);
    for (const u of r.updated) seenNow.add(u.uid);
    if (r.updated.length) sel.ownWrite(r.highestModseq);
  }
  const want = needs(items);
  let found = 0;
  // A large FETCH takes turns with the other bulk commands, letting cheap commands in between.
  const bulk = set.uids.length > BULK_MESSAGES;
  if (bulk) await bulkTurns.pass();
  let sliceEnd = s.writer.total + BULK_BYTES;
  const rows = s.store.fetch(sel.id, s.user.accountId, toUidSet(set.uids), {
    header: want.header,
    analysis: want.analysis,
    ...(changedSince !== null ? { changedSince } : {}),
  });
  for await (const row of rows) {
    const seq = sel.uids.seqOf(row.uid);
    if (!seq) continue;
    found++;
    await writeMessage(s, sel, seq, row, args, byUid, seenNow.has(row.uid));
    if ((bulk && found % BULK_MESSAGES === 0) || s.writer.total >= sliceEnd) {
      await bulkTurns.pass();
      sliceEnd = s.writer.total + BULK_BYTES;
    }
  }
  if (!byUid && changedSince === null && found < set.uids.length) {
    throw no('EXPUNGEISSUED', 'Some of the requested messages no longer exist');
  }
}

/** RFC 5465 MessageNew with fetch-att: a UID FETCH of the new messages, sent without being asked. */
export async function fetchNew(s: Session, uids: readonly number[], request: FetchRequest): Promise<void> {
  if (!uids.length || !s.selected) return;
  await runFetch(s, { set: formatSet([...uids].sort((a, b) => a - b)), request }, true);
}

/**
 * Item lists already parsed, by their text: a client asks for the same few lists again and again
 * (one per message it downloads), and parsing one cost more than finding the message. Parsed lists
 * are never changed after parsing; bounded, least recently used out first.
 */
const parsedItems = new Map<string, FetchRequest>();
const PARSED_ITEMS_MAX = 256;
const PARSED_TEXT_MAX = 512;

function parseItemsRemembered(r: ArgReader, byUid: boolean): FetchRequest {
  const text = r.lineRest();
  if (text === null || text.length > PARSED_TEXT_MAX) return parseFetchItems(r, byUid);
  const key = byUid ? `U${text}` : `S${text}`;
  const known = parsedItems.get(key);
  if (known) {
    parsedItems.delete(key);
    parsedItems.set(key, known);
    r.skipLineRest();
    return known;
  }
  const request = parseFetchItems(r, byUid);
  if (parsedItems.size >= PARSED_ITEMS_MAX) parsedItems.delete(parsedItems.keys().next().value!);
  parsedItems.set(key, request);
  return request;
}

function parseFetch(byUid: boolean) {
  return (r: ArgReader): FetchArgs => {
    r.sp();
    const set = r.sequenceSet();
    r.sp();
    return { set, request: parseItemsRemembered(r, byUid) };
  };
}

export const fetchCommand = defineCommand({
  name: 'FETCH',
  states: SELECTED,
  noExpunge: true,
  parse: parseFetch(false),
  run: (s, args) => runFetch(s, args, false),
});

export const uidFetchCommand = defineCommand({
  name: 'UID FETCH',
  states: SELECTED,
  parse: parseFetch(true),
  run: (s, args) => runFetch(s, args, true),
});
