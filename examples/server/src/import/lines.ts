import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

/**
 * The physical lines of a text file, numbered from 1, as text: bounded (a line longer than the limit is
 * reported and skipped without being kept), whatever the chunking of the input, and decoded line by line.
 *
 * Encoding. Spreadsheets save CSV as UTF-8 (often with a byte order mark) or, for "CSV" in a French
 * Windows locale, as Windows-1252. In `auto` mode each line is decoded as UTF-8 when it is valid UTF-8
 * and as Windows-1252 otherwise, and the first line read as Windows-1252 carries one warning. Deciding
 * per line needs no look-ahead, no second pass and no guess from a prefix: lines before the first
 * non-UTF-8 byte are decoded exactly as they would be in a whole-file decision (ASCII is the same in
 * both; a Windows-1252 line that is also valid UTF-8 with accents is all but impossible in practice),
 * and a file mixing both (two exports pasted together) comes out right line by line. A UTF-8 byte order
 * mark declares the file UTF-8: there, as with `utf-8`, a line that is not valid UTF-8 is an error.
 * Windows-1252 goes through iconv-lite: Node's TextDecoder('windows-1252') decodes 0x80-0x9F as
 * Latin-1 since 20.18.3 (nodejs/node#60888), turning ’ € œ into control characters.
 */

export type TextEncoding = 'utf-8' | 'windows-1252';
export type EncodingChoice = TextEncoding | 'auto';

export type TextLine = { line: number; text: string; warning?: string } | { line: number; error: string };

export interface LineOptions {
  maxLineBytes: number;
  encoding: EncodingChoice;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

const startsWith = (bytes: Buffer, prefix: number[]) => prefix.every((b, i) => bytes[i] === b);

/** Physical lines (LF or CRLF) as bytes with their numbers; an over-long line comes as its number alone. */
async function* rawLines(
  input: AsyncIterable<Uint8Array | string>,
  maxLineBytes: number,
): AsyncGenerator<{ line: number; bytes?: Buffer }> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 0;
  const emit = (end: Buffer) => {
    number++;
    if (tooLong) return { line: number };
    let bytes = parts.length === 0 ? end : Buffer.concat([...parts, end]);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, -1);
    return { line: number, bytes };
  };
  for await (const piece of input) {
    let chunk = typeof piece === 'string' ? Buffer.from(piece) : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10)) {
      const head = chunk.subarray(0, nl);
      if (!tooLong && size + head.length > maxLineBytes) tooLong = true;
      yield emit(tooLong ? Buffer.alloc(0) : head);
      parts = [];
      size = 0;
      tooLong = false;
      chunk = chunk.subarray(nl + 1);
    }
    if (chunk.length > 0 && !tooLong) {
      if (size + chunk.length > maxLineBytes) {
        tooLong = true;
        parts = [];
      } else {
        // A copy: the caller may reuse the chunk's memory once we ask for the next one.
        parts.push(Buffer.from(chunk));
        size += chunk.length;
      }
    }
  }
  if (size > 0 || tooLong) yield emit(Buffer.alloc(0));
}

export async function* textLines(input: AsyncIterable<Uint8Array | string>, options: LineOptions): AsyncGenerator<TextLine> {
  let strictUtf8 = options.encoding === 'utf-8';
  let warned = false;
  for await (const { line, bytes: raw } of rawLines(input, options.maxLineBytes)) {
    if (raw === undefined) {
      yield { line, error: `line longer than ${options.maxLineBytes} bytes` };
      continue;
    }
    let bytes = raw;
    if (line === 1) {
      if (startsWith(bytes, [0xff, 0xfe]) || startsWith(bytes, [0xfe, 0xff])) {
        throw new Error('the file is UTF-16 (Excel\'s "Unicode text"): save it as "CSV UTF-8" or "CSV (point-virgule)" instead');
      }
      if (startsWith(bytes, UTF8_BOM)) {
        if (options.encoding === 'windows-1252')
          throw new Error('the file starts with a UTF-8 byte order mark: it is UTF-8, not Windows-1252');
        strictUtf8 = true;
        bytes = bytes.subarray(UTF8_BOM.length);
      }
    }
    if (options.encoding === 'windows-1252') {
      yield { line, text: iconv.decode(bytes, 'windows-1252') };
    } else if (isUtf8(bytes)) {
      yield { line, text: bytes.toString('utf8') };
    } else if (strictUtf8) {
      yield { line, error: 'not valid UTF-8' };
    } else if (warned) {
      yield { line, text: iconv.decode(bytes, 'windows-1252') };
    } else {
      warned = true;
      yield {
        line,
        text: iconv.decode(bytes, 'windows-1252'),
        warning: 'not UTF-8: read as Windows-1252, like every later line that is not UTF-8',
      };
    }
  }
}
