import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { SyntaxError } from './errors.js';

/** A literal the command reader already holds, or one it streams (the APPEND message). */
export type LiteralPart =
  | { readonly kind: 'literal'; readonly data: Buffer; readonly binary: boolean }
  | { readonly kind: 'stream'; readonly stream: Readable; readonly size: number; readonly binary: boolean };

/** A command as framed: text fragments (each ending where a literal was announced) and literals between them. */
export type Segment = Buffer | LiteralPart;

/** Deepest parenthesised nesting any command may use (SEARCH, FETCH sections, LIST options). */
export const MAX_NESTING = 64;

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

// RFC 9051 ATOM-CHAR: any CHAR except atom-specials ( ) { SP CTL % * " \ ]
function isAtomChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== DQUOTE && c !== BACKSLASH && c !== 0x5d;
}
// ASTRING-CHAR adds "]"; list-char adds "%" and "*"
const isAstringChar = (c: number) => isAtomChar(c) || c === 0x5d;
const isListChar = (c: number) => isAstringChar(c) || c === 0x25 || c === 0x2a;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** The literal announcement at the end of a line fragment: `{n}`, `{n+}`, `~{n}`. */
export function literalAnnouncement(line: Buffer): { size: number; sync: boolean; binary: boolean; length: number } | null {
  if (line.length < 3 || line[line.length - 1] !== 0x7d) return null;
  let i = line.length - 2;
  let sync = true;
  if (line[i] === 0x2b) {
    sync = false;
    i--;
  }
  const digitsEnd = i + 1;
  while (i >= 0 && line[i]! >= 0x30 && line[i]! <= 0x39) i--;
  if (i === digitsEnd - 1 || digitsEnd - i - 1 > 20 || line[i] !== 0x7b) return null;
  const binary = i > 0 && line[i - 1] === 0x7e;
  const size = Number(line.subarray(i + 1, digitsEnd).toString('latin1'));
  return { size, sync, binary, length: line.length - i + (binary ? 1 : 0) };
}

/**
 * Recursive-descent reader of command arguments (RFC 9051 §9 grammar) over the framed segments.
 * Every method consumes exactly its production or throws SyntaxError (→ BAD).
 */
export class ArgReader {
  private seg = 0;
  private pos = 0;
  private depth = 0;

  /**
   * `utf8Quoted`: the session enabled UTF8=ACCEPT, whose quoted strings may carry UTF-8; 8-bit bytes
   * there that are not UTF-8 are a syntax error (RFC 6855 §3).
   */
  constructor(
    private readonly segments: readonly Segment[],
    private readonly options: { readonly utf8Quoted?: boolean } = {},
  ) {}

  private text(): Buffer | null {
    const s = this.segments[this.seg];
    return Buffer.isBuffer(s) ? s : null;
  }

  /** Start reading at byte `n` of the first segment (after the tag and command name). */
  skipTo(n: number): void {
    this.seg = 0;
    this.pos = n;
  }

  /** Next byte of the current text segment, or -1 at its end (or on a literal). */
  peek(): number {
    const t = this.text();
    return t && this.pos < t.length ? t[this.pos]! : -1;
  }

  /**
   * A quoted string or a literal starts here: `"`, `{`, or `~{` (literal8). A `~` followed by anything
   * else is an ATOM-CHAR (`~foo` is a mailbox name), not a literal.
   */
  private atString(): boolean {
    const c = this.peek();
    if (c === DQUOTE || c === 0x7b) return true;
    const t = this.text();
    return c === 0x7e && t !== null && t[this.pos + 1] === 0x7b;
  }

  atEnd(): boolean {
    const t = this.text();
    return this.seg >= this.segments.length - 1 && t !== null && this.pos >= t.length;
  }

  end(): void {
    if (!this.atEnd()) throw new SyntaxError('Unexpected extra arguments');
  }

  sp(): void {
    if (this.peek() !== SP) throw new SyntaxError('Expected a space');
    this.pos++;
  }

  /** Consume a space if one follows. */
  maybeSp(): boolean {
    if (this.peek() !== SP) return false;
    this.pos++;
    return true;
  }

  expect(ch: string): void {
    if (this.peek() !== ch.charCodeAt(0)) throw new SyntaxError(`Expected ${JSON.stringify(ch)}`);
    this.pos++;
  }

  maybe(ch: string): boolean {
    if (this.peek() !== ch.charCodeAt(0)) return false;
    this.pos++;
    return true;
  }

  private run(test: (c: number) => boolean): string {
    const t = this.text();
    if (!t) return '';
    const from = this.pos;
    while (this.pos < t.length && test(t[this.pos]!)) this.pos++;
    return t.subarray(from, this.pos).toString('latin1');
  }

  atom(what = 'atom'): string {
    const a = this.run(isAtomChar);
    if (!a) throw new SyntaxError(`Expected ${what}`);
    return a;
  }

  /** Like atom but stops at "[" too (FETCH items, `BODY[`). */
  fetchAtom(): string {
    const a = this.run((c) => isAtomChar(c) && c !== 0x5b && c !== 0x3c);
    if (!a) throw new SyntaxError('Expected a fetch item');
    return a;
  }

  number(what = 'number'): number {
    const digits = this.run((c) => c >= 0x30 && c <= 0x39);
    if (!digits || digits.length > 20) throw new SyntaxError(`Expected ${what}`);
    const n = Number(digits);
    if (!Number.isSafeInteger(n)) throw new SyntaxError(`${what} out of range`);
    return n;
  }

  nzNumber(what = 'number'): number {
    const n = this.number(what);
    if (n === 0) throw new SyntaxError(`${what} must not be zero`);
    return n;
  }

  /** A number that must fit in 32 bits (UIDs, sequence numbers, sizes in SEARCH). */
  number32(what = 'number'): number {
    const n = this.number(what);
    if (n > 0xffffffff) throw new SyntaxError(`${what} out of range`);
    return n;
  }

  private literalHere(): LiteralPart | null {
    const t = this.text();
    if (!t) return null;
    const ann = literalAnnouncement(t.subarray(this.pos));
    if (!ann || this.pos + ann.length !== t.length) return null;
    const next = this.segments[this.seg + 1];
    if (!next || Buffer.isBuffer(next)) throw new SyntaxError('Literal expected');
    this.seg += 2;
    this.pos = 0;
    return next;
  }

  /** quoted / literal → bytes. A streamed literal is refused here (only APPEND takes one). */
  stringBytes(what = 'string'): Buffer {
    const c = this.peek();
    if (c === DQUOTE) return this.quoted();
    if (c === 0x7b || c === 0x7e) {
      const lit = this.literalHere();
      if (!lit) throw new SyntaxError(`Invalid literal for ${what}`);
      if (lit.kind !== 'literal') throw new SyntaxError(`Unexpected message literal for ${what}`);
      return lit.data;
    }
    throw new SyntaxError(`Expected ${what}`);
  }

  private quoted(): Buffer {
    const t = this.text()!;
    const out: number[] = [];
    this.pos++;
    for (;;) {
      if (this.pos >= t.length) throw new SyntaxError('Unterminated quoted string');
      const c = t[this.pos++]!;
      if (c === DQUOTE) {
        const bytes = Buffer.from(out);
        if (this.options.utf8Quoted && !isUtf8(bytes)) throw new SyntaxError('Quoted string is not valid UTF-8');
        return bytes;
      }
      if (c === BACKSLASH) {
        const n = t[this.pos++];
        if (n !== DQUOTE && n !== BACKSLASH) throw new SyntaxError('Invalid escape in quoted string');
        out.push(n);
      } else if (c === 0x0d || c === 0x0a || c === 0) throw new SyntaxError('Invalid character in quoted string');
      else out.push(c);
    }
  }

  /** astring as UTF-8 text. */
  astring(what = 'string'): string {
    return this.astringBytes(what).toString('utf8');
  }

  astringBytes(what = 'string'): Buffer {
    if (this.atString()) return this.stringBytes(what);
    const a = this.run(isAstringChar);
    if (!a) throw new SyntaxError(`Expected ${what}`);
    return Buffer.from(a, 'latin1');
  }

  string(what = 'string'): string {
    return this.stringBytes(what).toString('utf8');
  }

  /** NIL or a string. */
  nstring(what = 'string'): string | null {
    const t = this.text();
    if (t && t.subarray(this.pos, this.pos + 3).toString('latin1').toUpperCase() === 'NIL' && !isAstringChar(t[this.pos + 3] ?? 0x20)) {
      this.pos += 3;
      return null;
    }
    return this.string(what);
  }

  /** list-mailbox: a string, or list-chars including wildcards. */
  listMailbox(): Buffer {
    if (this.atString()) return this.stringBytes('mailbox pattern');
    const a = this.run(isListChar);
    if (!a) throw new SyntaxError('Expected a mailbox pattern');
    return Buffer.from(a, 'latin1');
  }

  /** True when what is left of the last segment is exactly a literal announcement (the literal has not been read yet). */
  atPendingLiteral(): boolean {
    const t = this.text();
    if (!t || this.seg !== this.segments.length - 1) return false;
    const ann = literalAnnouncement(t.subarray(this.pos));
    return ann !== null && this.pos + ann.length === t.length;
  }

  /** The message literal of APPEND (streamed or held). */
  messageLiteral(): LiteralPart {
    const c = this.peek();
    if (c !== 0x7b && c !== 0x7e) throw new SyntaxError('Expected a message literal');
    const lit = this.literalHere();
    if (!lit) throw new SyntaxError('Invalid literal');
    return lit;
  }

  /** `(` items `)` with bounded nesting; `item` reads one element. */
  list<T>(item: () => T, { allowEmpty = true } = {}): T[] {
    this.expect('(');
    if (++this.depth > MAX_NESTING) throw new SyntaxError('Too deeply nested');
    const out: T[] = [];
    try {
      if (this.maybe(')')) {
        if (!allowEmpty) throw new SyntaxError('Empty list');
        return out;
      }
      for (;;) {
        out.push(item());
        if (this.maybe(')')) return out;
        this.sp();
      }
    } finally {
      this.depth--;
    }
  }

  enter(): void {
    if (++this.depth > MAX_NESTING) throw new SyntaxError('Too deeply nested');
  }

  leave(): void {
    this.depth--;
  }

  /** A flag: `\System`, `\*` only where allowed, or a keyword atom. */
  flag(allowStar = false): string {
    if (this.maybe('\\')) {
      if (allowStar && this.maybe('*')) return '\\*';
      return '\\' + this.atom('flag');
    }
    return this.atom('flag');
  }

  /**
   * What is left of the command when it is all on this one line (no literal follows), without
   * consuming it; null otherwise. For parsers that remember what a line parsed to.
   */
  lineRest(): string | null {
    const t = this.text();
    if (!t || this.seg !== this.segments.length - 1) return null;
    return t.subarray(this.pos).toString('latin1');
  }

  /** Consume the rest of the last line (what lineRest() returned). */
  skipLineRest(): void {
    const t = this.text();
    if (t && this.seg === this.segments.length - 1) this.pos = t.length;
  }

  /** sequence-set / uid-set as raw text (resolved later against the session's map). */
  sequenceSet(): string {
    const s = this.run((c) => (c >= 0x30 && c <= 0x39) || c === 0x3a || c === 0x2c || c === 0x2a || c === 0x24);
    if (!s) throw new SyntaxError('Expected a sequence set');
    return s;
  }

  peekAtom(): string {
    const t = this.text();
    if (!t) return '';
    let i = this.pos;
    while (i < t.length && isAtomChar(t[i]!)) i++;
    return t.subarray(this.pos, i).toString('latin1');
  }

  /** date = date-text / DQUOTE date-text DQUOTE; date-text = d-MMM-yyyy. Returns UTC midnight ms. */
  date(): { y: number; m: number; d: number } {
    const quoted = this.maybe('"');
    const text = this.run((c) => isAtomChar(c));
    if (quoted) this.expect('"');
    const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
    const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
    if (!m || month < 0 || Number(m[1]) < 1 || Number(m[1]) > 31) throw new SyntaxError('Invalid date');
    return { y: Number(m[3]), m: month, d: Number(m[1]) };
  }

  /** date-time = DQUOTE dd-MMM-yyyy SP hh:mm:ss SP zone DQUOTE (day may start with a space). */
  dateTime(): Date {
    const raw = this.string('date-time');
    const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(raw);
    const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
    if (!m || month < 0) throw new SyntaxError('Invalid date-time');
    const [d, hh, mm, ss, zh, zm] = [m[1], m[4], m[5], m[6], m[8], m[9]].map(Number) as number[];
    if (d! < 1 || d! > 31 || hh! > 23 || mm! > 59 || ss! > 60 || zm! > 59) throw new SyntaxError('Invalid date-time');
    const offset = (m[7] === '-' ? -1 : 1) * (zh! * 60 + zm!);
    return new Date(Date.UTC(Number(m[3]), month, d!, hh!, mm!, Math.min(ss!, 59)) - offset * 60_000);
  }
}
