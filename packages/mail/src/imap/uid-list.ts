/**
 * A session's sequence map: UIDs ascending in a growable Uint32Array (4 bytes a message, so a
 * 100,000-message mailbox costs 400 KB per session that selects it, and nothing per idle INBOX of
 * ordinary size beyond a few KB). Sequence number n is index n-1.
 */
export class UidList {
  private data: Uint32Array;
  private size = 0;

  constructor(uids: ArrayLike<number> = []) {
    this.data = new Uint32Array(Math.max(16, uids.length));
    this.data.set(uids);
    this.size = uids.length;
  }

  get length(): number {
    return this.size;
  }

  /** UID at sequence number `seq` (1-based). */
  uidAt(seq: number): number {
    return this.data[seq - 1]!;
  }

  last(): number {
    return this.size ? this.data[this.size - 1]! : 0;
  }

  /** Sequence number of a UID, or 0 if it is not in the map. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.data[mid]!;
      if (v < uid) lo = mid + 1;
      else if (v > uid) hi = mid - 1;
      else return mid + 1;
    }
    return 0;
  }

  /** Index of the first UID >= uid (0-based). */
  lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.data[mid]! < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  push(uid: number): void {
    if (this.size === this.data.length) {
      const bigger = new Uint32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = uid;
  }

  /** Remove the message at `seq`. */
  removeSeq(seq: number): void {
    this.data.copyWithin(seq - 1, seq, this.size);
    this.size--;
    if (this.data.length > 64 && this.size < this.data.length / 4) this.data = this.data.slice(0, Math.max(16, this.size * 2));
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) yield this.data[i]!;
  }

  toArray(): number[] {
    return Array.from(this.data.subarray(0, this.size));
  }
}
