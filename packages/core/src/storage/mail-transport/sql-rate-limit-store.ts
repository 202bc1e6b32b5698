import type { RateLimitStore } from '../../mail-transport/rate-limit-store.js';
import { checkRateKey } from '../../mail-transport/rate-limit-rules.js';
import type { Database } from '../database.js';

export class SqlRateLimitStore implements RateLimitStore {
  constructor(private readonly db: Database) {}

  // One atomic UPSERT: hits from several nodes in the same window all count.
  async hit(key: string, cost: number, now: Date, windowMs: number): Promise<{ count: number; resetAt: Date }> {
    checkRateKey(key, cost, windowMs);
    const start = Math.floor(now.getTime() / windowMs) * windowMs;
    return this.db.run(async (m) => {
      const rows: { count: number }[] = await m.query(
        this.db.sql(
          `INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN rate_counters.window_start = excluded.window_start THEN rate_counters.count + excluded.count ELSE excluded.count END,
             window_start = excluded.window_start
           RETURNING count`,
        ),
        [key, start, cost],
      );
      return { count: Number(rows[0]!.count), resetAt: new Date(start + windowMs) };
    }, 'counting for a rate limit');
  }

  async peek(key: string, now: Date, windowMs: number): Promise<number> {
    checkRateKey(key, 0, windowMs);
    const start = Math.floor(now.getTime() / windowMs) * windowMs;
    return this.db.run(async (m) => {
      const rows: { count: number }[] = await m.query(this.db.sql('SELECT count FROM rate_counters WHERE key = ? AND window_start = ?'), [key, start]);
      return rows.length ? Number(rows[0]!.count) : 0;
    }, 'reading a rate limit');
  }

  /** Drop counters of windows that ended before `before` (housekeeping). */
  async sweep(before: Date): Promise<void> {
    await this.db.run((m) => m.query(this.db.sql('DELETE FROM rate_counters WHERE window_start < ?'), [before.getTime()]), 'sweeping rate limits');
  }
}
