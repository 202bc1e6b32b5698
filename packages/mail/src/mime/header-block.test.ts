import { describe, expect, it } from 'vitest';
import { parseFields, parseStructured, selectFields, splitFields } from './header-block.js';
import { decodeEncodedWords } from './encoded-words.js';
import { decodeCharset } from './charsets.js';
import { parseMessageDate } from './dates.js';

const HEADER = Buffer.from('Subject: one\r\n two\r\nFrom: a@b.test\r\nbroken line\r\nX-Tag: z\r\n\r\n');

describe('header blocks', () => {
  it('splits and unfolds fields, skipping damaged lines', () => {
    expect(splitFields(HEADER).map((f) => f.name)).toEqual(['Subject', 'From', 'X-Tag']);
    expect(parseFields(HEADER).map((f) => [f.key, f.value])).toEqual([
      ['subject', 'one two'],
      ['from', 'a@b.test'],
      ['x-tag', 'z'],
    ]);
  });

  it('selects raw fields for HEADER.FIELDS and HEADER.FIELDS.NOT', () => {
    expect(selectFields(HEADER, ['SUBJECT', 'x-tag'], false).toString()).toBe('Subject: one\r\n two\r\nX-Tag: z\r\n\r\n');
    expect(selectFields(HEADER, ['subject'], true).toString()).toBe('From: a@b.test\r\nX-Tag: z\r\n\r\n');
    expect(selectFields(HEADER, ['nothing'], false).toString()).toBe('\r\n');
  });

  it('parses structured values with quotes, comments and RFC 2231', () => {
    expect(parseStructured('Multipart/Mixed; (c) boundary="a;b"; charset = utf-8 (x)')).toEqual({
      value: 'multipart/mixed',
      params: [
        ['boundary', 'a;b'],
        ['charset', 'utf-8'],
      ],
    });
    // RFC 2231 sections stay as written: BODYSTRUCTURE passes them on and clients decode them.
    expect(parseStructured("attachment; filename*0*=utf-8''r%C3%A9; size=3")!.params).toEqual([
      ['filename*0*', "utf-8''r%C3%A9"],
      ['size', '3'],
    ]);
  });

  it('decodes encoded-words, joining split multi-byte characters', () => {
    expect(decodeEncodedWords('=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=')).toBe('éé');
    expect(decodeEncodedWords('=?utf-8?B?4pw=?= =?utf-8?B?iQ==?=')).toBe('✉');
    expect(decodeEncodedWords('a =?iso-8859-1?q?caf=E9?= b')).toBe('a café b');
    expect(decodeEncodedWords('=?bogus-charset?q?x?=')).toBe('x');
    expect(decodeEncodedWords('plain')).toBe('plain');
  });

  it('decodes charsets, UTF-7 and unknown names without throwing', () => {
    expect(decodeCharset(Buffer.from([0xe9]), 'ISO-8859-1')).toBe('é');
    expect(decodeCharset(Buffer.from('Hi Mom -+Jjo--!'), 'utf-7')).toBe('Hi Mom -☺-!');
    expect(decodeCharset(Buffer.from([0xe9]), 'x-nonsense')).toBe('é');
    expect(decodeCharset(Buffer.from('é'), undefined)).toBe('é');
  });

  it('parses dates with zones, obsolete years and junk', () => {
    expect(parseMessageDate('Tue, 1 Jul 2003 10:52:37 +0200')).toBe(Date.UTC(2003, 6, 1, 8, 52, 37));
    expect(parseMessageDate('1 Jul 03 10:52 EST')).toBe(Date.UTC(2003, 6, 1, 15, 52));
    expect(parseMessageDate('not a date')).toBeNull();
    expect(parseMessageDate(null)).toBeNull();
  });
});
