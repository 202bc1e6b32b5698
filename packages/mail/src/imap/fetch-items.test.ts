import { describe, expect, it } from 'vitest';
import { ArgReader } from './arguments.js';
import { parseFetchItems, sectionLabel, type SectionItem } from './fetch-items.js';

const parse = (s: string, uid = false) => parseFetchItems(new ArgReader([Buffer.from(s)]), uid);

describe('FETCH items', () => {
  it('expands macros and reads simple items', () => {
    expect(parse('FAST').items.map((i) => i.kind)).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    expect(parse('(UID ENVELOPE BODYSTRUCTURE BODY MODSEQ)').items.map((i) => i.kind)).toEqual(['UID', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'MODSEQ']);
  });

  it('reads sections, partials, BINARY and labels them as RFC 9051 answers them', () => {
    const [a, b, c, d] = parse('(BODY.PEEK[HEADER.FIELDS (Subject From)]<0.100> BODY[1.2.MIME] BINARY.PEEK[3]<5.10> RFC822.HEADER)').items as SectionItem[];
    expect(sectionLabel(a!)).toBe('BODY[HEADER.FIELDS (SUBJECT FROM)]<0>');
    expect(a!.peek).toBe(true);
    expect(sectionLabel(b!)).toBe('BODY[1.2.MIME]');
    expect(sectionLabel(c!)).toBe('BINARY[3]<5>');
    expect(d!.text).toBe('HEADER');
    expect(sectionLabel(d!)).toBe('RFC822.HEADER');
  });

  it('reads CHANGEDSINCE and VANISHED (UID FETCH only)', () => {
    expect(parse('FLAGS (CHANGEDSINCE 12345)')).toMatchObject({ changedSince: 12345, vanished: false });
    expect(parse('FLAGS (CHANGEDSINCE 1 VANISHED)', true)).toMatchObject({ vanished: true });
    expect(() => parse('FLAGS (CHANGEDSINCE 1 VANISHED)')).toThrow(/UID FETCH/);
    expect(() => parse('FLAGS (VANISHED)', true)).toThrow(/CHANGEDSINCE/);
  });

  it('refuses unknown items, MIME at the top level, BINARY with a section text, bad partials', () => {
    for (const bad of ['BOGUS', '(FLAGS', 'BODY[MIME]', 'BINARY[1.TEXT]', 'BODY[]<1.0>', 'BODY[HEADER.FIELDS ()]', 'BODY.PEEK', '(ALL)', 'BODY[0]']) {
      expect(() => parse(bad), bad).toThrow();
    }
  });
});
