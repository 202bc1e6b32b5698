import { headerText } from './encoded-words.js';

/** One header field as it stands in the message: `name` as written, the raw bytes from `start` to `end` (folded lines and CRLF included). */
export interface RawField {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

export interface HeaderField {
  readonly name: string;
  /** Lower-cased name. */
  readonly key: string;
  /** Unfolded value without the leading blank, encoded-words left as they are. */
  readonly value: string;
}

/**
 * Split a header section into fields without copying: a field starts at a line that does not begin
 * with a blank and runs until the next such line. Lines without a colon are skipped (damaged mail),
 * so a later good field is still found. Stops at the first empty line.
 */
export function splitFields(header: Uint8Array): RawField[] {
  const fields: RawField[] = [];
  let pos = 0;
  let current: { name: string; start: number } | null = null;
  const close = (end: number) => {
    if (current) fields.push({ name: current.name, start: current.start, end });
    current = null;
  };
  while (pos < header.length) {
    let nl = header.indexOf(10, pos);
    if (nl < 0) nl = header.length - 1;
    const lineEnd = nl + 1;
    const first = header[pos];
    const isBlankLine = first === 10 || (first === 13 && header[pos + 1] === 10);
    if (isBlankLine) {
      close(pos);
      return fields;
    }
    if (first === 32 || first === 9) {
      // Continuation of the current field (or junk before the first field).
      pos = lineEnd;
      continue;
    }
    close(pos);
    const colon = header.indexOf(58, pos);
    if (colon > pos && colon < nl) {
      const name = Buffer.from(header.buffer, header.byteOffset + pos, colon - pos).toString('latin1').trimEnd();
      if (/^[\x21-\x39\x3b-\x7e]+$/.test(name)) current = { name, start: pos };
    }
    pos = lineEnd;
  }
  close(header.length);
  return fields;
}

const MAX_FIELD_VALUE = 32 * 1024;

/** Parsed fields with unfolded values (RFC 5322 §2.2.3), for analysis. */
export function parseFields(header: Uint8Array): HeaderField[] {
  return splitFields(header).map((f) => {
    const colon = header.indexOf(58, f.start);
    const end = Math.min(f.end, colon + 1 + MAX_FIELD_VALUE);
    const raw = headerText(header.subarray(colon + 1, end));
    const value = raw.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n$/, '').replace(/^[ \t]+/, '').replace(/[\r\n]+$/, '');
    return { name: f.name, key: f.name.toLowerCase(), value };
  });
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
