import { describe, expect, it } from 'vitest';
import { formatSet, inRanges, parseSequenceSet } from './sequence-set.js';

describe('sequence sets', () => {
  it('parses ranges, stars, backwards ranges, and merges', () => {
    expect(parseSequenceSet('1:3,5,7:*', 10)).toEqual([[1, 3], [5, 5], [7, 10]]);
    expect(parseSequenceSet('*:4', 10)).toEqual([[4, 10]]);
    expect(parseSequenceSet('3,1,2,9:8', 10)).toEqual([[1, 3], [8, 9]]);
    expect(parseSequenceSet('*', 0)).toEqual([]);
    expect(parseSequenceSet('100:*', 50)).toEqual([[50, 100]]);
    expect(parseSequenceSet('7', 10)).toEqual([[7, 7]]);
    expect(parseSequenceSet('4294967295', 10)).toEqual([[4294967295, 4294967295]]);
  });

  it('refuses zero, junk and numbers beyond 32 bits', () => {
    for (const bad of ['0', '1:0', '', ',', '1,,2', '1:2:3', 'a', '4294967296', '-1', '01']) expect(() => parseSequenceSet(bad, 10), bad).toThrow();
  });

  it('formats ascending numbers compactly and tests membership', () => {
    expect(formatSet([1, 2, 3, 5, 7, 8])).toBe('1:3,5,7:8');
    expect(formatSet([])).toBe('');
    const r = parseSequenceSet('2:4,9', 20);
    expect([1, 2, 4, 5, 9, 10].map((n) => inRanges(r, n))).toEqual([false, true, true, false, true, false]);
  });
});
