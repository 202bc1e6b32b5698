import type { Readable } from 'node:stream';
import type { MessageAnalysis } from '@palabre/core';
import { parseAddressList, type EnvelopeAddress } from './addresses.js';
import { parseMessageDateParts } from './dates.js';
import { decodeEncodedWords } from './encoded-words.js';
import { fieldValue, parseFields, parseStructured, type HeaderField, type ParsedStructuredValue } from './header-block.js';
import { imapString, nstring } from './imap-strings.js';
import type { AnalysisData, PartNode } from './types.js';

/** Nested multiparts and message/rfc822 parts followed; deeper content is one opaque body. */
export const MAX_MIME_DEPTH = 20;
/** Parts described; later parts are folded into the body of the last one. */
export const MAX_MIME_PARTS = 1000;
/** Header bytes parsed per part (the rest still counts towards offsets). */
export const MAX_PART_HEADER_BYTES = 64 * 1024;
/** Bytes of one line kept for parsing (boundary lines are short; header lines are capped above). */
const MAX_LINE_KEEP = 8 * 1024;
const MAX_SEARCH_TEXT = 4096;

type Mode = 'header' | 'leaf' | 'multipart' | 'message';

interface Entity {
  mode: Mode;
  depth: number;
  headerStart: number;
  bodyStart: number;
  end: number;
  headerChunks: Buffer[];
  headerKept: number;
  fields: HeaderField[];
  ctype: ParsedStructuredValue;
  encoding: string;
  /** Line index of the first body line, and whether the last body line was empty. */
  firstBodyLine: number;
  lines: number;
  /** Multipart state. */
  boundary: Buffer | null;
  closed: boolean;
  children: Entity[];
  /** message/rfc822: the encapsulated message. */
  inner: Entity | null;
  /** Parent multipart's default type (message/rfc822 inside multipart/digest). */
  defaultType: string;
}

export interface AnalyzedMessage extends MessageAnalysis {
  readonly data: AnalysisData & Readonly<Record<string, unknown>>;
  /** The raw header section, when it is small enough to keep beside the message row. */
  readonly header: Buffer | null;
  readonly size: number;
}

export interface AnalyzeOptions {
  /** Keep the header section up to this size (default 64 KiB). */
  maxHeaderKeep?: number;
}

const DASH = 0x2d;

/**
 * One pass over a message, chunk by chunk, without holding its body: finds the header, every MIME
 * part's byte offsets, line counts and headers, then renders ENVELOPE, BODY and BODYSTRUCTURE and the
 * search fields. Bounded memory (a few header blocks), bounded nesting and part count; never throws on
 * malformed input — whatever cannot be read becomes an opaque part.
 */
export class MimeAnalyzer {
  private offset = 0;
  private lineIndex = 0;
  private prevTerminator = 0;
  private prevEmpty = false;
  private pending: Buffer[] = [];
  private pendingKept = 0;
  private pendingLength = 0;
  private readonly stack: Entity[] = [];
  private readonly root: Entity;
  private partCount = 1;
  private readonly limits = new Set<string>();
  private topHeader: Buffer[] = [];
  private topHeaderKept = 0;
  private readonly maxHeaderKeep: number;
  private finished = false;

  constructor(options: AnalyzeOptions = {}) {
    this.maxHeaderKeep = options.maxHeaderKeep ?? 64 * 1024;
    this.root = this.entity(0, 0, 'text/plain');
    this.stack.push(this.root);
  }

  private entity(start: number, depth: number, defaultType: string): Entity {
    return {
      mode: 'header',
      depth,
      headerStart: start,
      bodyStart: -1,
      end: -1,
      headerChunks: [],
      headerKept: 0,
      fields: [],
      ctype: { value: defaultType, params: [] },
      encoding: '7bit',
      firstBodyLine: 0,
      lines: 0,
      boundary: null,
      closed: false,
      children: [],
      inner: null,
      defaultType,
    };
  }

  write(chunk: Uint8Array): void {
    if (this.finished) throw new Error('analyzer already finished');
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) {
        this.keepPending(buf.subarray(pos));
        break;
      }
      const piece = buf.subarray(pos, nl + 1);
      if (this.pendingLength === 0) this.line(piece, piece.length);
      else {
        this.keepPending(piece);
        const whole = Buffer.concat(this.pending);
        const total = this.pendingLength;
        this.pending = [];
        this.pendingKept = 0;
        this.pendingLength = 0;
        this.line(whole, total);
      }
      pos = nl + 1;
    }
  }

  private keepPending(piece: Buffer): void {
    this.pendingLength += piece.length;
    const room = MAX_LINE_KEEP - this.pendingKept;
    if (room > 0) {
      const kept = piece.length <= room ? Buffer.from(piece) : Buffer.from(piece.subarray(0, room));
      this.pending.push(kept);
      this.pendingKept += kept.length;
    }
  }

  /** One line: `bytes` is its start (possibly cut at MAX_LINE_KEEP), `length` its full length with terminator. */
  private line(bytes: Buffer, length: number): void {
    const start = this.offset;
    const endsWithLf = bytes[bytes.length - 1] === 10 && bytes.length === length;
    const terminator = endsWithLf ? (bytes[bytes.length - 2] === 13 ? 2 : 1) : 0;
    const contentLength = length - terminator;
    const content = bytes.subarray(0, Math.min(bytes.length, contentLength));
    const top = this.stack[this.stack.length - 1]!;

    if (content.length >= 2 && content[0] === DASH && content[1] === DASH && this.boundaryLine(content, start, length)) {
      this.advance(length, terminator, contentLength === 0);
      return;
    }

    if (top.mode === 'header') {
      if (contentLength === 0) {
        if (top === this.root && this.topHeaderKept !== Infinity) this.topHeader.push(Buffer.from(bytes));
        this.endHeader(top, start + length);
      } else this.keepHeaderLine(top, bytes, length);
    }
    this.advance(length, terminator, contentLength === 0);
  }

  private advance(length: number, terminator: number, empty: boolean): void {
    this.offset += length;
    this.lineIndex++;
    this.prevTerminator = terminator;
    this.prevEmpty = empty;
  }

  private keepHeaderLine(e: Entity, bytes: Buffer, length: number): void {
    if (e.headerKept < MAX_PART_HEADER_BYTES) {
      const take = bytes.subarray(0, Math.min(bytes.length, MAX_PART_HEADER_BYTES - e.headerKept));
      e.headerChunks.push(Buffer.from(take));
      e.headerKept += take.length;
      if (take.length < length) this.limits.add('header-truncated');
    } else this.limits.add('header-truncated');
    if (e === this.root) {
      if (this.topHeaderKept + length <= this.maxHeaderKeep && bytes.length === length) {
        this.topHeader.push(Buffer.from(bytes));
        this.topHeaderKept += length;
      } else this.topHeaderKept = Infinity;
    }
  }

  /** The blank line after a header: decide what the body is. */
  private endHeader(e: Entity, bodyStart: number): void {
    e.bodyStart = bodyStart;
    e.firstBodyLine = this.lineIndex + 1;
    e.fields = parseFields(Buffer.concat([...e.headerChunks, Buffer.from('\r\n')]));
    e.headerChunks = [];
    const ctype = parseStructured(fieldValue(e.fields, 'content-type'));
    if (ctype && /^[\x21-\x7e]+\/[\x21-\x7e]+$/.test(ctype.value)) e.ctype = ctype;
    else if (ctype) e.ctype = { value: e.defaultType, params: [] };
    e.encoding = (parseStructured(fieldValue(e.fields, 'content-transfer-encoding'))?.value || '7bit').toLowerCase();
    const [type] = e.ctype.value.split('/');
    const tooDeep = e.depth >= MAX_MIME_DEPTH;
    if (type === 'multipart') {
      const boundary = e.ctype.params.find(([k]) => k === 'boundary')?.[1];
      if (boundary && boundary.length <= 200 && !tooDeep) {
        e.mode = 'multipart';
        e.boundary = Buffer.from(boundary, 'latin1');
        return;
      }
      if (tooDeep) this.limits.add('too-deep');
      e.mode = 'leaf';
      return;
    }
    if ((e.ctype.value === 'message/rfc822' || e.ctype.value === 'message/global') && ['7bit', '8bit', 'binary'].includes(e.encoding)) {
      if (tooDeep || this.partCount >= MAX_MIME_PARTS) {
        this.limits.add(tooDeep ? 'too-deep' : 'too-many-parts');
        e.mode = 'leaf';
        return;
      }
      e.mode = 'message';
      e.inner = this.entity(bodyStart, e.depth + 1, 'text/plain');
      this.partCount++;
      this.stack.push(e.inner);
      return;
    }
    e.mode = 'leaf';
  }

  /** A `--…` line: if it is the boundary of an open multipart, close what it ends and open the next part. */
  private boundaryLine(content: Buffer, start: number, length: number): boolean {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const mp = this.stack[i]!;
      if (mp.mode !== 'multipart' || mp.closed || !mp.boundary) continue;
      const b = mp.boundary;
      if (content.length < b.length + 2 || content.compare(b, 0, b.length, 2, 2 + b.length) !== 0) continue;
      let rest = content.subarray(2 + b.length);
      const isClose = rest.length >= 2 && rest[0] === DASH && rest[1] === DASH;
      if (isClose) rest = rest.subarray(2);
      if (!/^[ \t]*$/.test(rest.toString('latin1'))) continue;
      // Close everything opened inside this multipart.
      const bodyEnd = Math.max(start - this.prevTerminator, 0);
      while (this.stack.length - 1 > i) this.close(this.stack.pop()!, bodyEnd, this.lineIndex);
      if (isClose) {
        mp.closed = true;
      } else if (this.partCount >= MAX_MIME_PARTS) {
        this.limits.add('too-many-parts');
        mp.closed = true;
      } else {
        const child = this.entity(start + length, mp.depth + 1, mp.ctype.value === 'multipart/digest' ? 'message/rfc822' : 'text/plain');
        this.partCount++;
        mp.children.push(child);
        this.stack.push(child);
      }
      return true;
    }
    return false;
  }

  /** Fix an entity's end and line count; `endLine` is the index of the line that ends it (or the line count at EOF). */
  private close(e: Entity, end: number, endLine: number, atEof = false): void {
    if (e.mode === 'header') {
      // No blank line: everything was header, the body is empty.
      e.fields = parseFields(Buffer.concat([...e.headerChunks, Buffer.from('\r\n')]));
      e.headerChunks = [];
      const ctype = parseStructured(fieldValue(e.fields, 'content-type'));
      if (ctype && /^[\x21-\x7e]+\/[\x21-\x7e]+$/.test(ctype.value) && !ctype.value.startsWith('multipart/') && !ctype.value.startsWith('message/')) e.ctype = ctype;
      e.encoding = (parseStructured(fieldValue(e.fields, 'content-transfer-encoding'))?.value || '7bit').toLowerCase();
      e.mode = 'leaf';
      e.bodyStart = Math.max(e.headerStart, end);
      e.end = e.bodyStart;
      e.lines = 0;
      return;
    }
    e.end = Math.max(end, e.bodyStart);
    const count = endLine - e.firstBodyLine;
    // At a boundary the last body line loses its terminator: an empty last line is no line at all.
    e.lines = e.end === e.bodyStart ? 0 : Math.max(0, atEof ? count : count - (this.prevEmpty ? 1 : 0));
    if (e.mode === 'multipart' && e.children.length === 0) this.limits.add('multipart-without-parts');
  }

  finish(): AnalyzedMessage {
    if (this.finished) throw new Error('analyzer already finished');
    if (this.pendingLength > 0) {
      const whole = Buffer.concat(this.pending);
      const total = this.pendingLength;
      this.pending = [];
      this.pendingLength = 0;
      this.line(whole, total);
    }
    this.finished = true;
    const size = this.offset;
    // A last line without terminator still counts as a line.
    const eofLines = this.lineIndex;
    while (this.stack.length) this.close(this.stack.pop()!, size, eofLines, true);
    const root = this.root;
    const headerBytes = root.bodyStart >= 0 ? root.bodyStart : size;
    const header = this.topHeaderKept !== Infinity && this.topHeaderKept <= this.maxHeaderKeep ? Buffer.concat(this.topHeader).subarray(0, headerBytes) : null;
    const fields = root.fields;
    const decoded = (key: string) => clip(decodeEncodedWords(allValues(fields, key)));
    const data: AnalysisData = {
      v: 1,
      envelope: renderEnvelope(fields),
      body: renderBody(root, false),
      bodystructure: renderBody(root, true),
      parts: toNode(root),
      ...sentDates(parseMessageDateParts(fieldValue(fields, 'date'))),
      messageId: fieldValue(fields, 'message-id')?.trim() || null,
      search: { subject: decoded('subject'), from: decoded('from'), to: decoded('to'), cc: decoded('cc'), bcc: decoded('bcc') },
      ...(this.limits.size ? { limits: [...this.limits].sort() } : {}),
    };
    return { headerBytes, data, header: header && header.length === headerBytes ? header : null, size };
  }
}

function sentDates(parts: { utc: number; written: number } | null): { date: number | null; dateWritten: number | null } {
  return { date: parts?.utc ?? null, dateWritten: parts?.written ?? null };
}

function clip(text: string): string {
  return text.length > MAX_SEARCH_TEXT ? text.slice(0, MAX_SEARCH_TEXT) : text;
}

function allValues(fields: readonly HeaderField[], key: string): string {
  return fields
    .filter((f) => f.key === key)
    .map((f) => f.value)
    .join(', ');
}

function toNode(e: Entity): PartNode {
  const type = e.ctype.value;
  const charset = e.ctype.params.find(([k]) => k === 'charset')?.[1];
  return {
    t: type,
    hs: e.headerStart,
    bs: e.bodyStart,
    be: e.end,
    enc: e.encoding,
    ...(type.startsWith('text/') && charset ? { cs: charset } : {}),
    ...(e.mode === 'multipart' ? { c: e.children.map(toNode) } : {}),
    ...(e.mode === 'message' && e.inner ? { m: toNode(e.inner) } : {}),
  };
}

// ------------------------------------------------------------------ rendering (RFC 9051 §7.5.2)

function addressList(list: readonly EnvelopeAddress[]): string {
  if (list.length === 0) return 'NIL';
  return `(${list.map((a) => `(${nstring(a.name)} ${nstring(a.adl)} ${nstring(a.mailbox)} ${nstring(a.host)})`).join('')})`;
}

export function renderEnvelope(fields: readonly HeaderField[]): string {
  const one = (key: string) => fieldValue(fields, key);
  const list = (key: string) => parseAddressList(one(key));
  const from = list('from');
  const sender = list('sender');
  const replyTo = list('reply-to');
  const date = one('date');
  const subject = one('subject');
  const parts = [
    nstring(date === null ? null : date.trim()),
    nstring(subject),
    addressList(from),
    addressList(sender.length ? sender : from),
    addressList(replyTo.length ? replyTo : from),
    addressList(list('to')),
    addressList(list('cc')),
    addressList(list('bcc')),
    nstring(one('in-reply-to')?.trim() ?? null),
    nstring(one('message-id')?.trim() ?? null),
  ];
  return `(${parts.join(' ')})`;
}

function paramList(params: readonly (readonly [string, string])[]): string {
  return params.length ? `(${params.map(([k, v]) => `${imapString(k)} ${imapString(v)}`).join(' ')})` : 'NIL';
}

function extensionTail(e: Entity): string {
  const disposition = parseStructured(fieldValue(e.fields, 'content-disposition'));
  const dsp = disposition && disposition.value ? `(${imapString(disposition.value)} ${paramList(disposition.params)})` : 'NIL';
  const langRaw = fieldValue(e.fields, 'content-language');
  const langs = langRaw ? langRaw.split(',').map((s) => s.trim()).filter(Boolean) : [];
  const lang = langs.length === 0 ? 'NIL' : langs.length === 1 ? imapString(langs[0]!) : `(${langs.map(imapString).join(' ')})`;
  const loc = nstring(fieldValue(e.fields, 'content-location')?.trim() ?? null);
  return `${dsp} ${lang} ${loc}`;
}

function renderBody(e: Entity, extensible: boolean): string {
  const [type = 'text', subtype = 'plain'] = e.ctype.value.split('/');
  if (e.mode === 'multipart') {
    if (e.children.length === 0) {
      // RFC 9051 needs at least one part: describe an empty text part, as other servers do.
      const empty = `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0${extensible ? ' NIL NIL NIL NIL' : ''})`;
      return `(${empty} ${imapString(subtype)}${extensible ? ` ${paramList(e.ctype.params)} ${extensionTail(e)}` : ''})`;
    }
    const kids = e.children.map((c) => renderBody(c, extensible)).join('');
    return `(${kids} ${imapString(subtype)}${extensible ? ` ${paramList(e.ctype.params)} ${extensionTail(e)}` : ''})`;
  }
  let params = e.ctype.params;
  if (type === 'text' && !params.some(([k]) => k === 'charset')) params = [...params, ['charset', 'us-ascii']];
  const size = Math.max(0, e.end - e.bodyStart);
  const fieldsPart = [
    imapString(type),
    imapString(subtype),
    paramList(params),
    nstring(fieldValue(e.fields, 'content-id')?.trim() ?? null),
    nstring(fieldValue(e.fields, 'content-description') ?? null),
    imapString(e.encoding),
    String(size),
  ].join(' ');
  let out = fieldsPart;
  if (e.mode === 'message' && e.inner) out += ` ${renderEnvelope(e.inner.fields)} ${renderBody(e.inner, extensible)} ${e.lines}`;
  else if (type === 'text') out += ` ${e.lines}`;
  if (extensible) out += ` ${nstring(fieldValue(e.fields, 'content-md5')?.trim() ?? null)} ${extensionTail(e)}`;
  return `(${out})`;
}

// ------------------------------------------------------------------ convenience

export type MessageSource = Uint8Array | string | AsyncIterable<Uint8Array> | Readable;

/** Analyse a whole message from bytes or a stream. */
export async function analyzeMessage(source: MessageSource, options?: AnalyzeOptions): Promise<AnalyzedMessage> {
  const analyzer = new MimeAnalyzer(options);
  if (typeof source === 'string') analyzer.write(Buffer.from(source));
  else if (source instanceof Uint8Array) analyzer.write(source);
  else for await (const chunk of source as AsyncIterable<Uint8Array | string>) analyzer.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return analyzer.finish();
}
