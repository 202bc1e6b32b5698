import { describe, expect, it } from 'vitest';
import { csvRecords, type CsvItem } from './csv.js';

async function all(input: string | Buffer | (string | Buffer)[], options = {}): Promise<CsvItem[]> {
  const out: CsvItem[] = [];
  const chunks = Array.isArray(input) ? input : [input];
  async function* source() {
    for (const c of chunks) yield typeof c === 'string' ? Buffer.from(c) : c;
  }
  for await (const item of csvRecords(source(), options)) out.push(item);
  return out;
}

describe('csvRecords', () => {
  it('reads RFC 4180: quotes, doubled quotes, commas and newlines inside quotes, CRLF, BOM', async () => {
    expect(await all('\ufeffa,b\r\n"x, y","he said ""hi"""\r\n"multi\nline",z\n\nlast,1')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'he said "hi"'] },
      { line: 3, lastLine: 4, fields: ['multi\nline', 'z'] },
      { line: 6, fields: ['last', '1'] },
    ]);
  });

  it('handles records split across chunks anywhere, even inside a UTF-8 character', async () => {
    const text = Buffer.from('é,"ü\nx"\nlast,ok\n');
    const pieces = Array.from(text, (b) => Buffer.from([b]));
    expect(await all(pieces)).toEqual([
      { line: 1, lastLine: 2, fields: ['é', 'ü\nx'] },
      { line: 3, fields: ['last', 'ok'] },
    ]);
  });

  it('reports a broken record by its line and keeps reading the following lines', async () => {
    const items = await all('a,b\n"unclosed,1\nok1,2\nok2,3\nx"y,4\nok3,5\n', { maxRecordLines: 2 });
    expect(items).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, error: 'unbalanced quote' },
      { line: 3, fields: ['ok1', '2'] },
      { line: 4, fields: ['ok2', '3'] },
      { line: 5, error: 'stray quote inside a field' },
      { line: 6, fields: ['ok3', '5'] },
    ]);
  });

  it('bounds memory: over-long lines and (in strict UTF-8) invalid UTF-8 are reported, the rest goes on', async () => {
    const huge = 'x'.repeat(100_000);
    const items = await all([`a\n${huge.slice(0, 50_000)}`, `${huge.slice(50_000)}\nb\n`, Buffer.from([0xff, 0xfe, 0x0a]), 'c\n'], { maxLineBytes: 1000, encoding: 'utf-8' });
    expect(items).toEqual([
      { line: 1, fields: ['a'] },
      { line: 2, error: 'line longer than 1000 bytes' },
      { line: 3, fields: ['b'] },
      { line: 4, error: 'not valid UTF-8' },
      { line: 5, fields: ['c'] },
    ]);
  });

  it('reports an unclosed quote at the end of the file', async () => {
    expect(await all('a\n"never closed')).toEqual([
      { line: 1, fields: ['a'] },
      { line: 2, error: 'unbalanced quote' },
    ]);
  });
});
