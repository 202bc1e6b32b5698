import { describe, expect, it } from 'vitest';
import { ArgReader } from './arguments.js';
import { parseSearch, requiredEnvelopeText, searchNeeds } from './search-query.js';

const parse = (s: string, rev2 = false) => parseSearch(new ArgReader([Buffer.from(' ' + s)]), rev2);

describe('SEARCH grammar', () => {
  it('parses the full grammar into keys', () => {
    expect(parse('OR FROM a (SEEN NOT DELETED) 1:5').key).toEqual({
      k: 'and',
      keys: [
        { k: 'or', a: { k: 'envelope', field: 'from', value: 'a' }, b: { k: 'and', keys: [{ k: 'flag', flag: '\\Seen', has: true }, { k: 'not', key: { k: 'flag', flag: '\\Deleted', has: true } }] } },
        { k: 'seq', set: '1:5' },
      ],
    });
    expect(parse('NEW').key).toEqual({ k: 'and', keys: [{ k: 'recent', has: true }, { k: 'flag', flag: '\\Seen', has: false }] });
    expect(parse('SINCE 1-Feb-2024').key).toEqual({ k: 'date', field: 'internal', op: 'since', day: Date.UTC(2024, 1, 1) });
    expect(parse('HEADER X-Tag ""').key).toEqual({ k: 'header', field: 'x-tag', value: '' });
    expect(parse('MODSEQ "/flags/\\\\draft" all 620162338').key).toEqual({ k: 'modseq', value: 620162338 });
    expect(parse('UID $').key).toEqual({ k: 'uid', set: '$' });
  });

  it('reads RETURN options and CHARSET; IMAP4rev2 defaults to ESEARCH ALL', () => {
    expect(parse('RETURN (MIN COUNT) ALL').returns).toEqual(['MIN', 'COUNT']);
    expect(parse('RETURN () ALL').returns).toEqual(['ALL']);
    expect(parse('ALL').returns).toBeNull();
    expect(parse('ALL', true).returns).toEqual(['ALL']);
    expect(parse('CHARSET utf-8 BODY x').key).toEqual({ k: 'body', value: 'x' });
    expect(() => parse('CHARSET ISO-2022-JP ALL')).toThrow(/Only UTF-8/);
  });

  it('knows what evaluation will need', () => {
    expect(searchNeeds(parse('SEEN LARGER 5').key)).toEqual({ header: false, analysis: false, search: false, blob: false, modseq: false });
    expect(searchNeeds(parse('NOT TEXT x').key)).toEqual({ header: true, analysis: true, search: false, blob: true, modseq: false });
    expect(searchNeeds(parse('OR SENTON 1-Jan-2024 MODSEQ 3').key)).toEqual({ header: false, analysis: false, search: true, blob: false, modseq: true });
  });

  it('finds an envelope string every match must contain (for the store to prefilter)', () => {
    expect(requiredEnvelopeText(parse('SEEN (SUBJECT budget FROM awa)').key)).toBe('budget');
    expect(requiredEnvelopeText(parse('OR SUBJECT a SUBJECT b').key)).toBeNull();
    expect(requiredEnvelopeText(parse('NOT FROM x').key)).toBeNull();
  });

  it('refuses unknown keys, missing arguments and unbalanced input', () => {
    for (const bad of ['', 'BOGUS', 'FROM', 'OR ALL', 'NOT', '(ALL', 'LARGER x', 'RETURN (FOO) ALL', 'BEFORE yesterday']) expect(() => parse(bad), bad).toThrow();
  });
});
