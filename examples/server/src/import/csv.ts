import { CsvError, parse } from 'csv-parse/sync';
import { textLines, type EncodingChoice, type TextLine } from './lines.js';

/**
 * A streaming CSV reader (RFC 4180 as spreadsheets write it) built for hostile files: every record
 * carries the line it starts on, a broken record is reported and skipped without swallowing the lines
 * after it, and memory stays bounded whatever the input.
 *
 * The grammar (quotes, doubled quotes, separators, line breaks inside quotes) is csv-parse's. What it
 * cannot do for a hostile file is resynchronise: with `skip_records_with_error` a stray quote leaves it
 * inside a quoted field, so it swallows the following lines up to the next quote and reports the wrong
 * line, and `relax_quotes` glues them into one record silently. So records are framed here first, from
 * physical lines: a record ends at the first line where its count of `"` is even (every quoted field
 * then closed), and a record still open after `maxRecordLines` lines, or that csv-parse rejects, is
 * reported on its first line, and reading resumes at its second line. Complete one-line records are
 * parsed by csv-parse in batches, which keeps the speed of one parser call for hundreds of rows.
 */

export type Separator = ',' | ';' | '\t';
export type { EncodingChoice };

export type CsvItem =
  { line: number; fields: string[]; lastLine?: number } | { line: number; error: string } | { line: number; warning: string };

export interface CsvOptions {
  /** Longest physical line kept, in bytes; longer lines are reported and skipped. */
  maxLineBytes?: number;
  /** A quoted field may span at most this many lines before the record is declared broken. */
  maxRecordLines?: number;
  /** Field separator; by default the one of `,` `;` tab that the header line uses. */
  separator?: Separator;
  encoding?: EncodingChoice;
}

/** The records, and once the header line is read, the separator in use. */
export interface CsvRecords extends AsyncIterable<CsvItem> {
  readonly separator: Separator | undefined;
}

const SEPARATORS: Separator[] = [',', ';', '\t'];
const BATCH_RECORDS = 500;
const BATCH_CHARS = 256 * 1024;

const separatorName = (s: Separator) => (s === '\t' ? 'tab' : `"${s}"`);

/** The separator a header line uses: the most frequent of `,` `;` tab outside quotes (`,` if none). */
export function detectSeparator(header: string, line = 1): Separator {
  const counts = new Map<Separator, number>(SEPARATORS.map((s) => [s, 0]));
  let quoted = false;
  for (const c of header) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && counts.has(c as Separator)) counts.set(c as Separator, counts.get(c as Separator)! + 1);
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1]);
  const [first, second] = ranked as [[Separator, number], [Separator, number]];
  if (first[1] === 0) return ',';
  if (first[1] === second[1]) {
    const tied = ranked.filter(([, n]) => n === first[1]).map(([s, n]) => `${n} ${separatorName(s)}`);
    throw new Error(`line ${line}: cannot tell the separator from the header, which has ${tied.join(' and ')}: give it with --separator`);
  }
  return first[0];
}

function countQuotes(text: string): number {
  let n = 0;
  for (let i = text.indexOf('"'); i !== -1; i = text.indexOf('"', i + 1)) n++;
  return n;
}

const blank = (fields: string[]) => fields.every((f) => f.trim() === '');

function describeCsvError(error: unknown, maxChars: number): string {
  const code = error instanceof CsvError ? error.code : undefined;
  if (code === 'CSV_QUOTE_NOT_CLOSED') return 'unbalanced quote';
  if (code === 'INVALID_OPENING_QUOTE' || code === 'CSV_INVALID_CLOSING_QUOTE') return 'stray quote inside a field';
  if (code === 'CSV_MAX_RECORD_SIZE') return `record longer than ${maxChars} characters`;
  return `unreadable record (${code ?? (error instanceof Error ? error.message.split('\n')[0] : String(error))})`;
}

type Entry = { line: number; lastLine: number; text: string } | CsvItem;

export function csvRecords(input: AsyncIterable<Uint8Array | string>, options: CsvOptions = {}): CsvRecords {
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024;
  const maxRecordLines = options.maxRecordLines ?? 20;
  // A record may span lines, but not without end: past this it is declared broken like an open quote.
  const maxRecordChars = maxLineBytes * 4;
  let separator = options.separator;
  const parserOptions = () => ({
    delimiter: separator!,
    record_delimiter: '\n',
    quote: '"',
    escape: '"',
    relax_column_count: true,
    max_record_size: maxRecordChars,
  });
  const parseRecords = (text: string): string[][] => parse(text, parserOptions());

  async function* records(): AsyncGenerator<CsvItem> {
    // Lines of a record still open (a quoted field spanning lines), kept so that they can be re-read
    // one by one if the record turns out to be broken.
    let pending: { line: number; text: string }[] = [];
    let quotes = 0;
    let chars = 0;
    // Records framed and checked, in file order, waiting for one csv-parse call; items pass through.
    let batch: Entry[] = [];
    let batchChars = 0;
    let batchRecords = 0;

    const emit = (entry: Entry, size = 0) => {
      batch.push(entry);
      batchChars += size;
      if ('text' in entry) batchRecords++;
    };

    /** Report the open record's first line as broken and frame its other lines again. */
    const breakPending = (reason: string) => {
      const [first, ...rest] = pending;
      emit({ line: first!.line, error: reason });
      pending = [];
      quotes = 0;
      chars = 0;
      for (const l of rest) add(l);
    };

    const tryParse = (text: string): { fields?: string[][]; error?: unknown } => {
      try {
        return { fields: parseRecords(text) };
      } catch (error) {
        return { error };
      }
    };

    const add = (l: { line: number; text: string }) => {
      if (pending.length === 0 && l.text === '') return;
      pending.push(l);
      quotes += countQuotes(l.text);
      chars += l.text.length + 1;
      const text = pending.length === 1 ? l.text : pending.map((p) => p.text).join('\n');
      if (quotes % 2 === 0) {
        if (pending.length === 1) {
          emit({ line: l.line, lastLine: l.line, text }, text.length);
        } else {
          // A multi-line record is checked now: if its first line opened a quote that a later line
          // closes wrongly, those later lines are records of their own.
          const parsed = tryParse(text);
          if (parsed.error !== undefined || parsed.fields!.length !== 1) return breakPending('unbalanced quote');
          const fields = parsed.fields![0]!;
          if (!blank(fields)) emit({ line: pending[0]!.line, lastLine: l.line, fields });
        }
        pending = [];
        quotes = 0;
        chars = 0;
        return;
      }
      // Still inside quotes: a broken line is reported now rather than after maxRecordLines lines.
      const parsed = tryParse(text);
      const stillOpen = parsed.error instanceof CsvError && parsed.error.code === 'CSV_QUOTE_NOT_CLOSED';
      if (!stillOpen) return breakPending(pending.length === 1 ? describeCsvError(parsed.error, maxRecordChars) : 'unbalanced quote');
      if (pending.length >= maxRecordLines || chars > maxRecordChars) breakPending('unbalanced quote');
    };

    function* flush(): Generator<CsvItem> {
      const entries = batch;
      const framed = entries.filter((e): e is { line: number; lastLine: number; text: string } => 'text' in e);
      batch = [];
      batchChars = 0;
      batchRecords = 0;
      let parsed: string[][] | null = null;
      if (framed.length > 0) {
        parsed = tryParse(framed.map((e) => e.text).join('\n')).fields ?? null;
        // Framing made one record a line; anything else means a bad line: read them one by one.
        if (parsed?.length !== framed.length) parsed = null;
      }
      let k = 0;
      for (const entry of entries) {
        if (!('text' in entry)) {
          yield entry;
          continue;
        }
        let fields = parsed?.[k++];
        if (fields === undefined) {
          const one = tryParse(entry.text);
          if (one.fields?.length !== 1) {
            yield { line: entry.line, error: describeCsvError(one.error, maxRecordChars) };
            continue;
          }
          fields = one.fields[0]!;
        }
        if (!blank(fields)) yield { line: entry.line, fields };
      }
    }

    for await (const item of textLines(input, { maxLineBytes, encoding: options.encoding ?? 'auto' }) as AsyncIterable<TextLine>) {
      if ('error' in item) {
        // The line is gone, so an open record cannot continue across it.
        while (pending.length > 0) breakPending('unbalanced quote');
        emit(item);
        continue;
      }
      if (item.warning !== undefined) emit({ line: item.line, warning: item.warning });
      if (separator === undefined && item.text !== '') separator = detectSeparator(item.text, item.line);
      add(item);
      if (batchRecords >= BATCH_RECORDS || batchChars >= BATCH_CHARS || batch.length >= BATCH_RECORDS) yield* flush();
    }
    while (pending.length > 0) breakPending('unbalanced quote');
    yield* flush();
  }

  return {
    get separator() {
      return separator;
    },
    [Symbol.asyncIterator]: records,
  };
}
