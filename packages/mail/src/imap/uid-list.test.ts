import { describe, expect, it } from 'vitest';
import { UidList } from './uid-list.js';

describe('UidList', () => {
  it('maps sequence numbers and UIDs, grows and shrinks', () => {
    const l = new UidList([3, 7, 9]);
    for (let u = 10; u < 100; u++) l.push(u);
    expect(l.length).toBe(93);
    expect(l.seqOf(7)).toBe(2);
    expect(l.seqOf(8)).toBe(0);
    expect(l.uidAt(3)).toBe(9);
    expect(l.lowerBound(8)).toBe(2);
    l.removeSeq(2);
    expect(l.seqOf(9)).toBe(2);
    expect(l.last()).toBe(99);
    while (l.length > 1) l.removeSeq(1);
    expect(l.toArray()).toEqual([99]);
  });
});
