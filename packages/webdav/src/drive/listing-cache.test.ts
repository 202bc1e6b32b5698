import type { DriveNode } from '@palabre/core';
import { describe, expect, it } from 'vitest';
import { ListingCache } from './listing-cache.js';

const folder = (id: string, version: number, spaceId = 's1') => ({ id, version, spaceId }) as DriveNode;
const nodes = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `n${i}` }) as DriveNode);

describe('ListingCache', () => {
  it('answers only for the exact (space, folder, version) it was filled with', () => {
    const cache = new ListingCache(100);
    const members = nodes(3);
    const listing = cache.set(folder('f', 7), members);
    expect(cache.get(folder('f', 7))).toBe(listing);
    expect(listing?.nodes).toBe(members);
    expect(cache.get(folder('f', 8))).toBeUndefined();
    expect(cache.get(folder('f', 7, 's2'))).toBeUndefined();
    expect(cache.get(folder('g', 7))).toBeUndefined();
  });

  it('stays within its node budget, dropping the least recently used folders', () => {
    const cache = new ListingCache(40);
    cache.set(folder('a', 1), nodes(10));
    cache.set(folder('b', 1), nodes(10));
    cache.set(folder('c', 1), nodes(10));
    expect(cache.get(folder('a', 1))).toBeDefined();
    cache.set(folder('d', 1), nodes(10));
    cache.set(folder('e', 1), nodes(10));
    expect(cache.get(folder('b', 1))).toBeUndefined();
    expect(cache.get(folder('a', 1))).toBeDefined();
    cache.set(folder('huge', 1), nodes(11));
    expect(cache.get(folder('huge', 1))).toBeUndefined();
  });
});
