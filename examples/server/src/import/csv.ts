/**
 * A streaming RFC 4180 reader built for hostile files: every record carries the line it starts on, a
 * broken record (unbalanced quote, invalid UTF-8, an over-long line) is reported and skipped without
 * swallowing the lines after it, and memory stays bounded whatever the input.
 */

export type CsvItem = { line: number; fields: string[] } | { line: number; error: string };

export interface CsvOptions {
  /** Longest physical line kept, in bytes; longer lines are reported and skipped. */
  maxLineBytes?: number;
  /** A quoted field may span at most this many lines before the record is declared broken. */
  maxRecordLines?: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Physical lines (LF or CRLF), as bytes, with their 1-based numbers; over-long lines become errors. */
async function* lines(input: AsyncIterable<Uint8Array | string>, maxLineBytes: number): AsyncGenerator<{ line: number; text?: string; error?: string }> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 0;
  const emit = (end: Buffer) => {
    number++;
    if (tooLong) return { line: number, error: `line longer than ${maxLineBytes} bytes` };
    let bytes = Buffer.concat([...parts, end]);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, -1);
    if (number === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    try {
      return { line: number, text: decoder.decode(bytes) };
    } catch {
      return { line: number, error: 'not valid UTF-8' };
    }
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
        parts.push(Buffer.from(chunk));
        size += chunk.length;
      }
    }
  }
  if (size > 0 || tooLong) yield emit(Buffer.alloc(0));
}

/** Parse one record from consecutive lines; null when a quoted field is still open at the end. */
function parseRecord(text: string): string[] | null | 'bad-quote' {
  const fields: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let atStart = true;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        // After a closing quote only a separator or the end may follow.
        if (i < text.length && text[i] !== ',') return 'bad-quote';
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && atStart) {
      quoted = true;
      atStart = false;
      i++;
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      atStart = true;
      i++;
      continue;
    }
    if (c === '"') return 'bad-quote';
    field += c;
    atStart = false;
    i++;
  }
  if (quoted) return null;
  fields.push(field);
  return fields;
}

export async function* csvRecords(input: AsyncIterable<Uint8Array | string>, options: CsvOptions = {}): AsyncGenerator<CsvItem> {
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024;
  const maxRecordLines = options.maxRecordLines ?? 20;
  // Lines of a record still open (a quoted field spanning lines), kept so that they can be re-read
  // one by one if the record turns out to be broken.
  let pending: { line: number; text: string }[] = [];

  const join = (k: number) => pending.slice(0, k).map((p) => p.text).join('\n');

  function* settle(final: boolean): Generator<CsvItem> {
    while (pending.length > 0) {
      // The record starting at pending[0] spans the fewest lines that close every quote.
      let k = 1;
      let parsed = parseRecord(pending[0]!.text);
      while (parsed === null && k < pending.length && k < maxRecordLines && join(k).length <= maxLineBytes * 4) {
        k++;
        parsed = parseRecord(join(k));
      }
      const start = pending[0]!.line;
      if (parsed === null && !final && k === pending.length && k < maxRecordLines && join(k).length <= maxLineBytes * 4) return;
      if (parsed === null || parsed === 'bad-quote') {
        yield { line: start, error: parsed === null ? 'unbalanced quote' : 'stray quote inside a field' };
        pending = pending.slice(1); // resume right after the broken line
        continue;
      }
      pending = pending.slice(k);
      if (!(parsed.length === 1 && parsed[0] === '')) yield { line: start, fields: parsed };
    }
  }

  for await (const item of lines(input, maxLineBytes)) {
    if (item.error !== undefined) {
      yield* settle(true);
      yield { line: item.line, error: item.error };
      continue;
    }
    pending.push({ line: item.line, text: item.text! });
    yield* settle(false);
  }
  yield* settle(true);
}
