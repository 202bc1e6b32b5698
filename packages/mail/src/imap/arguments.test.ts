import { describe, expect, it } from 'vitest';
import { ArgReader, MAX_NESTING, literalAnnouncement, type Segment } from './arguments.js';

const reader = (...segments: Segment[]) => new ArgReader(segments);
const text = (s: string) => Buffer.from(s, 'latin1');

describe('ArgReader (RFC 9051 §9 grammar)', () => {
  it('reads atoms, astrings, quoted strings with escapes, numbers and NIL', () => {
    const r = reader(text('INBOX "a \\"quoted\\" \\\\ str" 42 NIL x]y'));
    expect(r.astring()).toBe('INBOX');
    r.sp();
    expect(r.string()).toBe('a "quoted" \\ str');
    r.sp();
    expect(r.number()).toBe(42);
    r.sp();
    expect(r.nstring()).toBeNull();
    r.sp();
    expect(r.astring()).toBe('x]y');
    r.end();
  });

  it('takes literals from the following segment, and knows a literal announced but not yet read', () => {
    const r = reader(text('{5}'), { kind: 'literal', data: Buffer.from('hello'), binary: false }, text(' {3+}'), { kind: 'literal', data: Buffer.from('a\u0000b'), binary: false }, text(''));
    expect(r.astring()).toBe('hello');
    r.sp();
    expect(r.stringBytes()).toEqual(Buffer.from('a\u0000b'));
    r.end();
    const pending = reader(text('INBOX {12}'));
    pending.astring();
    pending.sp();
    expect(pending.atPendingLiteral()).toBe(true);
  });

  it('refuses broken quoted strings, unknown escapes, CR/LF/NUL inside quotes and trailing garbage', () => {
    expect(() => reader(text('"open')).string()).toThrow(/Unterminated/);
    expect(() => reader(text('"a\\nb"')).string()).toThrow(/escape/);
    expect(() => reader(text('"a\u0000b"')).string()).toThrow(/Invalid character/);
    const r = reader(text('a b'));
    r.atom();
    expect(() => r.end()).toThrow(/extra arguments/);
    expect(() => reader(text('')).atom()).toThrow(/Expected atom/);
    expect(() => reader(text('123456789012345678901')).number()).toThrow();
  });

  it('bounds list nesting', () => {
    const deep = '('.repeat(MAX_NESTING + 5) + ')'.repeat(MAX_NESTING + 5);
    const r = reader(text(deep));
    const item = (): unknown => (r.peek() === 0x28 ? r.list(item) : r.atom());
    expect(() => r.list(item)).toThrow(/Too deeply nested/);
    const ok = reader(text('(a (b c) ())'));
    const item2 = (): unknown => (ok.peek() === 0x28 ? ok.list(item2) : ok.atom());
    expect(ok.list(item2)).toEqual(['a', ['b', 'c'], []]);
  });

  it('reads flags, dates and date-times', () => {
    const r = reader(text('\\Seen $Label \\* "1-Feb-2024" 01-Feb-2024 " 2-Jan-2024 03:04:05 -0130"'));
    expect(r.flag()).toBe('\\Seen');
    r.sp();
    expect(r.flag()).toBe('$Label');
    r.sp();
    expect(r.flag(true)).toBe('\\*');
    r.sp();
    expect(r.date()).toEqual({ y: 2024, m: 1, d: 1 });
    r.sp();
    expect(r.date()).toEqual({ y: 2024, m: 1, d: 1 });
    r.sp();
    expect(r.dateTime().toISOString()).toBe('2024-01-02T04:34:05.000Z');
    expect(() => reader(text('"31-Foo-2024 00:00:00 +0000"')).dateTime()).toThrow(/date-time/);
    expect(() => reader(text('32-Jan-2024')).date()).toThrow(/date/);
  });

  it('recognises literal announcements: {n}, {n+}, ~{n}', () => {
    expect(literalAnnouncement(text('a LOGIN {5}'))).toEqual({ size: 5, sync: true, binary: false, length: 3 });
    expect(literalAnnouncement(text('a APPEND x {12+}'))).toEqual({ size: 12, sync: false, binary: false, length: 5 });
    expect(literalAnnouncement(text('a APPEND x ~{7}'))).toEqual({ size: 7, sync: true, binary: true, length: 4 });
    expect(literalAnnouncement(text('a NOOP'))).toBeNull();
    expect(literalAnnouncement(text('{}'))).toBeNull();
    expect(literalAnnouncement(text('x {123456789012345678901}'))).toBeNull();
  });
});
