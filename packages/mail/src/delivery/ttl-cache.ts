/** A tiny time-bounded memo (bounded size); concurrent misses for one key share one lookup. */
export class TtlCache<T> {
  private readonly entries = new Map<string, { until: number; value: Promise<T> }>();

  async get(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
    if (ttlMs <= 0) return load();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value;
    if (this.entries.size >= 10_000) this.entries.clear();
    const value = load();
    this.entries.set(key, { until: now + ttlMs, value });
    value.catch(() => this.entries.delete(key));
    return value;
  }
}
