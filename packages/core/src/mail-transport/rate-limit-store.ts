/**
 * Fixed-window counters for rate limits (messages per user per hour, connections per IP per minute).
 * Backed by the database, every node counts into the same window.
 */
export interface RateLimitStore {
  /**
   * Add `cost` to the counter of `key` for the window of `windowMs` that contains `now`; returns the
   * count in that window after adding, and when the window ends.
   */
  hit(key: string, cost: number, now: Date, windowMs: number): Promise<{ count: number; resetAt: Date }>;
  /** The current count without adding. */
  peek(key: string, now: Date, windowMs: number): Promise<number>;
}
