/**
 * Values kept by key and version, for listings a DAV backend can tell are current by a counter it reads
 * anyway (a drive folder's version, a calendar's change counter): every write bumps the counter in its
 * own transaction, on every node, so a value found at the counter just read is exactly what the
 * database would answer, and nothing needs invalidating. Bounded by a total weight (members kept), least
 * recently used dropped first; a value heavier than `maxItemWeight` is not kept.
 */
export class VersionedCache<T> {
  private readonly entries = new Map<string, { readonly version: number; readonly value: T; readonly weight: number }>();
  private total = 0;

  constructor(
    private readonly maxWeight: number,
    private readonly maxItemWeight = maxWeight,
  ) {}

  get(key: string, version: number): T | undefined {
    const hit = this.entries.get(key);
    if (!hit || hit.version !== version) return undefined;
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  /** Keeps `value` for `key` at `version` (replacing an older one); false when it weighs too much to keep. */
  set(key: string, version: number, value: T, weight: number): boolean {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.total -= old.weight;
    }
    if (weight > this.maxItemWeight) return false;
    for (const [k, v] of this.entries) {
      if (this.total + weight <= this.maxWeight) break;
      this.entries.delete(k);
      this.total -= v.weight;
    }
    this.entries.set(key, { version, value, weight });
    this.total += weight;
    return true;
  }
}
