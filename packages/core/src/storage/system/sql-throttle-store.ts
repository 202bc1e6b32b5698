import { InvalidInputError } from '../../errors.js';
import type { FailureWindow, ThrottleStore } from '../../system/throttle-store.js';
import type { Database } from '../database.js';

export class SqlThrottleStore implements ThrottleStore {
  constructor(private readonly db: Database) {}

  // One atomic UPSERT: concurrent failures on several nodes are all counted.
  async recordFailure(key: string, now: Date, windowMs: number): Promise<FailureWindow> {
    checkKey(key);
    const t = now.getTime();
    const expired = t - windowMs;
    return this.db.run(async (m) => {
      const rows = await m.query(
        this.db.sql(
          `INSERT INTO auth_throttle (key, failures, first_failure_at, last_failure_at) VALUES (?, 1, ?, ?)
           ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN auth_throttle.last_failure_at < ? THEN 1 ELSE auth_throttle.failures + 1 END,
             first_failure_at = CASE WHEN auth_throttle.last_failure_at < ? THEN excluded.first_failure_at ELSE auth_throttle.first_failure_at END,
             last_failure_at = excluded.last_failure_at
           RETURNING failures, first_failure_at, last_failure_at`,
        ),
        [key, t, t, expired, expired],
      );
      return toWindow(rows[0]);
    }, 'recording a failure');
  }

  async peek(key: string, now: Date, windowMs: number): Promise<FailureWindow | null> {
    checkKey(key);
    // A prepared read (every authenticated DAV request clears its address's failures through here).
    const rows = await this.db.select<Parameters<typeof toWindow>[0]>(
      'SELECT failures, first_failure_at, last_failure_at FROM auth_throttle WHERE key = ? AND last_failure_at >= ?',
      [key, now.getTime() - windowMs],
      'reading failures',
    );
    return rows.length ? toWindow(rows[0]!) : null;
  }

  async reset(key: string): Promise<void> {
    checkKey(key);
    await this.db.run((m) => m.query(this.db.sql('DELETE FROM auth_throttle WHERE key = ?'), [key]), 'resetting failures');
  }

  async rememberDevice(key: string, now: Date): Promise<void> {
    checkKey(key);
    const t = now.getTime();
    await this.db.run(
      (m) =>
        m.query(
          this.db.sql(
            `INSERT INTO auth_known_devices (key, last_success_at) VALUES (?, ?)
             ON CONFLICT (key) DO UPDATE SET last_success_at = CASE
               WHEN auth_known_devices.last_success_at > excluded.last_success_at THEN auth_known_devices.last_success_at
               ELSE excluded.last_success_at END`,
          ),
          [key, t],
        ),
      'remembering a device',
    );
  }

  async isKnownDevice(key: string, now: Date, maxAgeMs: number): Promise<boolean> {
    checkKey(key);
    return this.db.run(async (m) => {
      const rows = await m.query(this.db.sql('SELECT 1 AS known FROM auth_known_devices WHERE key = ? AND last_success_at >= ?'), [
        key,
        now.getTime() - maxAgeMs,
      ]);
      return rows.length > 0;
    }, 'reading known devices');
  }

  /**
   * Housekeeping: drop counters idle for longer than the window and, when `deviceMaxAgeMs` is given,
   * devices that have not signed in for that long.
   */
  async sweep(now: Date, windowMs: number, deviceMaxAgeMs?: number): Promise<void> {
    await this.db.run(
      (m) => m.query(this.db.sql('DELETE FROM auth_throttle WHERE last_failure_at < ?'), [now.getTime() - windowMs]),
      'sweeping failures',
    );
    if (deviceMaxAgeMs === undefined) return;
    await this.db.run(
      (m) => m.query(this.db.sql('DELETE FROM auth_known_devices WHERE last_success_at < ?'), [now.getTime() - deviceMaxAgeMs]),
      'sweeping known devices',
    );
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 330) throw new InvalidInputError('invalid throttle key');
}

function toWindow(row: { failures: number; first_failure_at: number; last_failure_at: number }): FailureWindow {
  return {
    failures: Number(row.failures),
    firstFailureAt: new Date(Number(row.first_failure_at)),
    lastFailureAt: new Date(Number(row.last_failure_at)),
  };
}
