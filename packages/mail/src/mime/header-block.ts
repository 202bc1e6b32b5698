import { headerText } from './encoded-words.js';

/**
 * One logical line of a header section as it stands in the message: from a line that does not begin
 * with a blank to the next such line, folded lines and the final line end included (`start` to `end`).
 * `name` is the field name as written, or '' for a line that is no header field.
 */
export interface RawField {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

export interface HeaderField {
  readonly name: string;
  /** Lower-cased name. */
  readonly key: string;
  /** Unfolded value without the blanks around it, encoded-words left as they are. */
  readonly value: string;
}

export interface HeaderScan {
  /** Every logical line up to the empty line, fields and not. */
  readonly lines: readonly RawField[];
  /** True when the section ended with an empty line (a body may follow). */
  readonly terminated: boolean;
}

// RFC 5322 §2.2 / §3.6.8: field-name = 1*ftext, followed directly by ":". The obsolete syntax that
// allows blanks before the colon (§4.5) is not a field here: readers that accept it (a mail client, a
// DMARC library) would see a field that the rest of us do not.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * THE header parser: every layer (SMTP intake and policy, MIME analysis and ENVELOPE, IMAP
 * HEADER.FIELDS and SEARCH) reads header sections through this one function, so they cannot
 * disagree on what a field is. No copying: fields are offsets into `header`. Stops at the first empty
 * line (CRLF or LF).
 */
export function scanHeader(header: Uint8Array): HeaderScan {
  const lines: RawField[] = [];
  let pos = 0;
  let current: { name: string; start: number } | null = null;
  const close = (end: number) => {
    if (current) lines.push({ name: current.name, start: current.start, end });
    current = null;
  };
  while (pos < header.length) {
    let nl = header.indexOf(10, pos);
    if (nl < 0) nl = header.length - 1;
    const first = header[pos];
    if (first === 10 || (first === 13 && header[pos + 1] === 10)) {
      close(pos);
      return { lines, terminated: true };
    }
    if ((first === 32 || first === 9) && current) {
      // A folded line: part of the current field (RFC 5322 §2.2.3).
      pos = nl + 1;
      continue;
    }
    close(pos);
    const colon = header.indexOf(58, pos);
    let name = '';
    if (colon > pos && colon < nl) {
      const text = Buffer.from(header.buffer, header.byteOffset + pos, colon - pos).toString('latin1');
      if (FIELD_NAME.test(text)) name = text;
    }
    current = { name, start: pos };
    pos = nl + 1;
  }
  close(header.length);
  return { lines, terminated: false };
}

/** The header fields (lines that are no field left out), as offsets into `header`. */
export function splitFields(header: Uint8Array): RawField[] {
  return scanHeader(header).lines.filter((f) => f.name !== '');
}

const MAX_FIELD_VALUE = 32 * 1024;

/**
 * A field's value: after the colon, unfolded (RFC 5322 §2.2.3: only the line ends of folds are
 * removed), the blanks around it removed, UTF-8 (RFC 6532) or else Latin-1. At most 32 KiB of it.
 */
export function fieldBody(header: Uint8Array, field: RawField): string {
  const from = field.start + field.name.length + 1;
  const raw = headerText(header.subarray(from, Math.min(field.end, from + MAX_FIELD_VALUE)));
  return raw.replace(/\r?\n(?=[ \t])/g, '').replace(/^[ \t]+/, '').replace(/[ \t\r\n]+$/, '');
}

/** Parsed fields with unfolded values, for analysis. */
export function parseFields(header: Uint8Array): HeaderField[] {
  return splitFields(header).map((f) => ({ name: f.name, key: f.name.toLowerCase(), value: fieldBody(header, f) }));
}

/** The first field with this (lower-case) name. */
export function fieldValue(fields: readonly HeaderField[], key: string): string | null {
  for (const f of fields) if (f.key === key) return f.value;
  return null;
}

/**
 * The raw lines of the fields named (or, with `not`, of all others), followed by the blank line, as
 * BODY[HEADER.FIELDS (...)] returns them (RFC 9051 §6.4.5).
 */
export function selectFields(header: Uint8Array, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const parts: Uint8Array[] = [];
  for (const f of splitFields(header)) {
    if (wanted.has(f.name.toLowerCase()) !== not) parts.push(header.subarray(f.start, f.end));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

export interface ParsedStructuredValue {
  /** The main value, lower-cased (`text/plain`, `attachment`, `base64`). */
  readonly value: string;
  /** Parameters in order, names lower-cased, values unquoted, RFC 2231 sections left as they are. */
  readonly params: readonly (readonly [string, string])[];
}

/**
 * `value; name=token; name="quoted"` with comments and sloppy spacing (RFC 2045 §5.1). Never throws:
 * whatever cannot be read is dropped.
 */
export function parseStructured(raw: string | null): ParsedStructuredValue | null {
  if (raw === null) return null;
  const text = stripComments(raw);
  const semi = splitTopLevel(text, ';');
  const value = (semi[0] ?? '').trim().toLowerCase();
  const params: [string, string][] = [];
  for (const piece of semi.slice(1)) {
    const eq = piece.indexOf('=');
    if (eq <= 0) continue;
    const name = piece.slice(0, eq).trim().toLowerCase();
    let v = piece.slice(eq + 1).trim();
    if (!/^[\x21-\x7e]+$/.test(name) || params.length >= 64) continue;
    if (v.startsWith('"')) v = unquote(v);
    params.push([name, v]);
  }
  return { value, params };
}

function unquote(v: string): string {
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && i + 1 < v.length) out += v[++i];
    else if (c === '"') break;
    else out += c;
  }
  return out;
}

/** Split on a separator outside quoted strings. */
function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\' && i + 1 < text.length) cur += text[++i];
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
      cur += c;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Remove RFC 5322 comments `( … )` (nested, escapes) outside quoted strings. */
export function stripComments(text: string): string {
  if (!text.includes('(')) return text;
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (depth === 0 && quoted) {
      out += c;
      if (c === '\\' && i + 1 < text.length) out += text[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '\\' && depth > 0) {
      i++;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) {
      if (c === '"') quoted = true;
      out += c;
    }
  }
  return out;
}
