/**
 * RFC 6855 (UTF8=ACCEPT) rules about message headers that do not fit the generic string layer: what
 * an APPEND may carry, and what a client that did not enable UTF-8 is shown of an RFC 6532 message.
 */
import type { BlobStore } from '@palabre/core';
import type { AnalysedBlob } from '../mime/analysed-blob.js';

export type HeaderText = 'ascii' | 'utf8' | 'invalid';

/** Whether the header section of a stored message is 7-bit, UTF-8 (RFC 6532), or 8-bit that is not UTF-8. */
export async function headerText(blobs: BlobStore, stored: AnalysedBlob): Promise<HeaderText> {
  const size = stored.analysis.headerBytes;
  if (size === 0) return 'ascii';
  const kept = stored.analysis.header;
  const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = kept ? [kept] : ((await blobs.get(stored.blob.id, { start: 0, end: size - 1 })) as AsyncIterable<Uint8Array>);
  // Streamed: a header section too big to keep beside the row is still checked without holding it.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let ascii = true;
  try {
    for await (const chunk of chunks) {
      if (ascii && chunk.some((b) => b > 0x7f)) ascii = false;
      if (!ascii) decoder.decode(chunk, { stream: true });
    }
    decoder.decode();
  } catch {
    return 'invalid';
  }
  return ascii ? 'ascii' : 'utf8';
}

const LITERAL = /\{(\d{1,10})\}\r\n/g;
const NON_ASCII = /[^\x00-\x7f]/;
/** UTF-8 bytes per encoded-word, so that each stays within RFC 2047's 75 characters. */
const WORD_BYTES = 45;

/** RFC 2047 encoded-words (base64 UTF-8) for a text, split on character boundaries. */
function encodedWords(text: string): string {
  const words: string[] = [];
  let piece = '';
  for (const ch of text) {
    if (Buffer.byteLength(piece + ch) > WORD_BYTES) {
      words.push(piece);
      piece = '';
    }
    piece += ch;
  }
  if (piece) words.push(piece);
  return words.map((w) => `=?utf-8?b?${Buffer.from(w).toString('base64')}?=`).join(' ');
}

/**
 * For a session that did not enable UTF-8: the strings of a pre-rendered ENVELOPE or BODYSTRUCTURE
 * that hold UTF-8 (literals, as rendered) become 7-bit encoded-words, as RFC 6858 §3 downgrades header
 * fields. The message bytes themselves (BODY[], RFC822.SIZE) are never rewritten (RFC 6855 §7, see
 * the package README for why).
 */
export function downgradeRendered(rendered: string): string {
  if (!NON_ASCII.test(rendered)) return rendered;
  let out = '';
  let at = 0;
  LITERAL.lastIndex = 0;
  for (let m = LITERAL.exec(rendered); m; m = LITERAL.exec(rendered)) {
    const start = m.index + m[0].length;
    // The literal counts UTF-8 bytes; walk characters until that many bytes are consumed.
    let bytes = Number(m[1]);
    let end = start;
    while (bytes > 0 && end < rendered.length) {
      const cp = rendered.codePointAt(end)!;
      bytes -= cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      end += cp >= 0x10000 ? 2 : 1;
    }
    const content = rendered.slice(start, end);
    out += rendered.slice(at, m.index);
    if (NON_ASCII.test(content)) {
      const words = encodedWords(content.replace(/[\r\n]+/g, ' '));
      out += words.length <= 1024 && !/["\\]/.test(words) ? `"${words}"` : `{${words.length}}\r\n${words}`;
    } else out += m[0] + content;
    at = end;
    LITERAL.lastIndex = end;
  }
  return out + rendered.slice(at);
}
