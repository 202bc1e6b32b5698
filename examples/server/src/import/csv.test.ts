import { describe, expect, it } from 'vitest';
import { csvRecords, detectSeparator, type CsvItem, type CsvOptions } from './csv.js';

async function all(input: string | Buffer | (string | Buffer)[], options: CsvOptions = {}): Promise<CsvItem[]> {
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
    const items = await all([`a\n${huge.slice(0, 50_000)}`, `${huge.slice(50_000)}\nb\n`, Buffer.from([0xff, 0xfe, 0x0a]), 'c\n'], {
      maxLineBytes: 1000,
      encoding: 'utf-8',
    });
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
  it('detects the separator from the header line, outside quotes, and refuses to guess a tie', async () => {
    expect(detectSeparator('email;name;department')).toBe(';');
    expect(detectSeparator('email\tname\tdepartment')).toBe('\t');
    expect(detectSeparator('email,name')).toBe(',');
    expect(detectSeparator('email')).toBe(',');
    expect(detectSeparator('"Nom, prénom";courriel')).toBe(';');
    expect(() => detectSeparator('email,name;department', 1)).toThrow(/line 1: cannot tell the separator .* 1 "," and 1 ";".*--separator/);
    expect(await all('courriel;nom\na@x;"Diallo, Awa"\n')).toEqual([
      { line: 1, fields: ['courriel', 'nom'] },
      { line: 2, fields: ['a@x', 'Diallo, Awa'] },
    ]);
    expect(await all('email\tname\na@x\tAwa; DRH\n')).toEqual([
      { line: 1, fields: ['email', 'name'] },
      { line: 2, fields: ['a@x', 'Awa; DRH'] },
    ]);
    // Given, the separator is not guessed: a tie is fine, and the other characters are data.
    expect(await all('email,name;x\na,b;c\n', { separator: ';' })).toEqual([
      { line: 1, fields: ['email,name', 'x'] },
      { line: 2, fields: ['a,b', 'c'] },
    ]);
    await expect(all('email,name;department\n')).rejects.toThrow(/cannot tell the separator/);
  });

  it('reads what a French spreadsheet saves: BOM, ";", CRLF, quoted ";" and line breaks, blank rows', async () => {
    const csv =
      '\ufeffCourriel;Nom;Service;Observations\r\n' +
      'awa@x;Awa Diallo;Direction de l’administration;\r\n' +
      'kofi@x;"Mensah; Kofi";"DSI ""numérique""";"Bureau 12\nBâtiment B"\r\n' +
      ';;;\r\n' +
      'esi@x;Esi;"a\r\nb";\r\n' +
      'ama@x;Ama;DRH;\r\n';
    expect(await all(csv)).toEqual([
      { line: 1, fields: ['Courriel', 'Nom', 'Service', 'Observations'] },
      { line: 2, fields: ['awa@x', 'Awa Diallo', 'Direction de l’administration', ''] },
      { line: 3, lastLine: 4, fields: ['kofi@x', 'Mensah; Kofi', 'DSI "numérique"', 'Bureau 12\nBâtiment B'] },
      { line: 6, lastLine: 7, fields: ['esi@x', 'Esi', 'a\nb', ''] },
      { line: 8, fields: ['ama@x', 'Ama', 'DRH', ''] },
    ]);
  });

  it('reads Windows-1252 lines as such, with one warning naming the first line that is not UTF-8', async () => {
    const special: Record<string, number> = { '’': 0x92, '€': 0x80, œ: 0x9c, Œ: 0x8c };
    const cp1252 = (text: string) =>
      Buffer.from(
        text.replace(/[’€œŒ]/g, (c) => String.fromCharCode(special[c]!)),
        'latin1',
      );
    const file = Buffer.concat([
      Buffer.from('email;nom;service\r\nawa@x;Awa;DRH\r\n'),
      cp1252('elodie@x;Élodie;Direction de l’Œuvre\r\nkofi@x;"Kofi\nœ";Budget 5 €\r\n'),
      // Pasted from a UTF-8 export: still read as UTF-8.
      Buffer.from('esi@x;Ésaïe;Sécurité\r\n'),
    ]);
    expect(await all(file)).toEqual([
      { line: 1, fields: ['email', 'nom', 'service'] },
      { line: 2, fields: ['awa@x', 'Awa', 'DRH'] },
      { line: 3, warning: 'not UTF-8: read as Windows-1252, like every later line that is not UTF-8' },
      { line: 3, fields: ['elodie@x', 'Élodie', 'Direction de l’Œuvre'] },
      { line: 4, lastLine: 5, fields: ['kofi@x', 'Kofi\nœ', 'Budget 5 €'] },
      { line: 6, fields: ['esi@x', 'Ésaïe', 'Sécurité'] },
    ]);
    // Chosen encodings are not second-guessed: Windows-1252 reads UTF-8 bytes as two characters,
    // UTF-8 refuses the Windows-1252 line.
    expect(await all('email\r\nÉ@x\r\n', { encoding: 'windows-1252' })).toEqual([
      { line: 1, fields: ['email'] },
      { line: 2, fields: ['Ã‰@x'] },
    ]);
    expect(await all(Buffer.concat([Buffer.from('email\n'), cp1252('é@x\n')]), { encoding: 'utf-8' })).toEqual([
      { line: 1, fields: ['email'] },
      { line: 2, error: 'not valid UTF-8' },
    ]);
  });

  it('takes a UTF-8 byte order mark at its word, and refuses UTF-16', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    expect(await all(Buffer.concat([bom, Buffer.from('email\n'), Buffer.from([0xe9, 0x0a]), Buffer.from('ok\n')]))).toEqual([
      { line: 1, fields: ['email'] },
      { line: 2, error: 'not valid UTF-8' },
      { line: 3, fields: ['ok'] },
    ]);
    await expect(all(Buffer.concat([bom, Buffer.from('email\n')]), { encoding: 'windows-1252' })).rejects.toThrow(
      /byte order mark: it is UTF-8/,
    );
    await expect(all(Buffer.from('\ufeffemail\tname\n', 'utf16le'))).rejects.toThrow(/UTF-16/);
  });

  it('resynchronises after an unbalanced quote at line 3 of 70,000, whatever quotes follow it', async () => {
    const lines = ['email;name;department', 'a2@x;Two;DRH', '"broken@x;Broken;DRH'];
    for (let i = 4; i <= 70_000; i++) {
      lines.push(i % 10 === 0 ? `a${i}@x;"Name ${i}; Jr.";DSI` : i % 7 === 0 ? `a${i}@x;Name ${i};"DSI ""A"""` : `a${i}@x;Name ${i};DSI`);
    }
    const items = await all(`${lines.join('\r\n')}\r\n`);
    const records = items.filter((i): i is Extract<CsvItem, { fields: string[] }> => 'fields' in i);
    expect(items.filter((i) => 'error' in i)).toEqual([{ line: 3, error: 'unbalanced quote' }]);
    expect(records).toHaveLength(70_000 - 1);
    expect(records[2]).toEqual({ line: 4, fields: ['a4@x', 'Name 4', 'DSI'] });
    expect(records[8]).toEqual({ line: 10, fields: ['a10@x', 'Name 10; Jr.', 'DSI'] });
    expect(records.at(-1)).toEqual({ line: 70_000, fields: ['a70000@x', 'Name 70000; Jr.', 'DSI'] });
    // With no quote after it at all, the open record is given up at its line limit.
    const plain = ['email', '"open', ...Array.from({ length: 5000 }, (_, i) => `p${i}@x`)];
    const read = await all(plain.join('\n'));
    expect(read.filter((i) => 'error' in i)).toEqual([{ line: 2, error: 'unbalanced quote' }]);
    expect(read.filter((i) => 'fields' in i)).toHaveLength(5001);
  });

  it('reads a 100 MB line in bounded memory and goes on after it', async () => {
    const piece = Buffer.alloc(64 * 1024, 'x'.charCodeAt(0));
    const before = process.memoryUsage();
    let peak = 0;
    const sample = () => {
      const now = process.memoryUsage();
      peak = Math.max(peak, now.heapUsed + now.arrayBuffers - before.heapUsed - before.arrayBuffers);
    };
    async function* source() {
      yield Buffer.from('email\n"');
      // Measured while the line is being read: a reader that kept it would hold 100 MB here.
      for (let sent = 0; sent < 100 * 1024 * 1024; sent += piece.length) {
        if (sent % (4 * 1024 * 1024) === 0) sample();
        yield piece;
      }
      sample();
      yield Buffer.from('\nafter@x\n');
    }
    const items: CsvItem[] = [];
    for await (const item of csvRecords(source())) items.push(item);
    expect(peak).toBeLessThan(32 * 1024 * 1024);
    expect(items).toEqual([
      { line: 1, fields: ['email'] },
      { line: 2, error: 'line longer than 65536 bytes' },
      { line: 3, fields: ['after@x'] },
    ]);
  });
});
