import type { CalendarObjectEntry } from '@palabre/core';

/** Entries kept in all, across collections (about 200 bytes each: some 20 MiB at most). */
const MAX_ENTRIES = 100_000;

/**
 * The entries of recently listed collections, by collection and change counter, as the drive keeps a
 * folder's members by its version. Every write of an object bumps its collection's counter in the
 * write's own transaction, and the counter is read afresh with the collection on every request (on every
 * node), so an entry list found here is exactly what the store's pages would give for that counter: a
 * client listing a 25,000-object calendar again, or another client after it, reads no rows at all.
 * Least recently used lists go first; a collection bigger than the bound is never kept.
 */
export class ListingCache {
  private readonly lists = new Map<string, { readonly seq: number; readonly entries: readonly CalendarObjectEntry[] }>();
  private total = 0;

  get(collectionId: string, seq: number): readonly CalendarObjectEntry[] | null {
    const hit = this.lists.get(collectionId);
    if (!hit || hit.seq !== seq) return null;
    // Most recently used last.
    this.lists.delete(collectionId);
    this.lists.set(collectionId, hit);
    return hit.entries;
  }

  set(collectionId: string, seq: number, entries: readonly CalendarObjectEntry[]): void {
    const old = this.lists.get(collectionId);
    if (old) {
      this.lists.delete(collectionId);
      this.total -= old.entries.length;
    }
    if (entries.length > MAX_ENTRIES) return;
    for (const [id, list] of this.lists) {
      if (this.total + entries.length <= MAX_ENTRIES) break;
      this.lists.delete(id);
      this.total -= list.entries.length;
    }
    this.lists.set(collectionId, { seq, entries });
    this.total += entries.length;
  }
}
