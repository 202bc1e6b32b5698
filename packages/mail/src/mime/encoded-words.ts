import { decodeCharset, decodeUnknown } from './charsets.js';

// =?charset[*language]?B|Q?text?=  (RFC 2047, RFC 2231 §5 language suffix)
const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=/g;
const MAX_INPUT = 64 * 1024;

function decodeQ(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '_') bytes.push(0x20);
    else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0) & 0xff);
  }
  return Buffer.from(bytes);
}

function decodeB(text: string): Buffer {
  return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
}

/**
 * Decode RFC 2047 encoded-words in a header value. Whitespace between two adjacent encoded-words is
 * dropped; adjacent words in the same charset are joined before decoding, so a multi-byte character
 * split across two words (common with Base64) comes out whole.
 */
export function decodeEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  const text = value.length > MAX_INPUT ? value.slice(0, MAX_INPUT) : value;
  const pieces: { encoded: boolean; charset?: string; bytes?: Buffer; text?: string }[] = [];
  let last = 0;
  for (const m of text.matchAll(ENCODED_WORD)) {
    const start = m.index!;
    const between = text.slice(last, start);
    const prev = pieces[pieces.length - 1];
    if (between.length > 0 && !(prev?.encoded && /^[ \t\r\n]*$/.test(between))) pieces.push({ encoded: false, text: between });
    const charset = m[1]!.toLowerCase();
    const bytes = m[2]!.toUpperCase() === 'B' ? decodeB(m[3]!) : decodeQ(m[3]!);
    const top = pieces[pieces.length - 1];
    if (top?.encoded && top.charset === charset) top.bytes = Buffer.concat([top.bytes!, bytes]);
    else pieces.push({ encoded: true, charset, bytes });
    last = start + m[0].length;
  }
  if (last < text.length) pieces.push({ encoded: false, text: text.slice(last) });
  return pieces.map((p) => (p.encoded ? decodeCharset(p.bytes!, p.charset) : p.text!)).join('');
}

/** A raw header value (bytes) as text: UTF-8 (RFC 6532) when valid, else Latin-1. */
export function headerText(bytes: Uint8Array): string {
  return decodeUnknown(bytes);
}
