/** Minutes between attempts: quick retries first (greylisting), then every four hours until expiry. */
export const RETRY_SCHEDULE_MS = [60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 3600_000, 2 * 3600_000, 4 * 3600_000];

/** When to try again after `attempts` failed attempts (±10 % jitter so a backlog spreads out). */
export function nextAttemptAt(now: Date, attempts: number, random: () => number = Math.random): Date {
  const base = RETRY_SCHEDULE_MS[Math.min(attempts, RETRY_SCHEDULE_MS.length - 1)]!;
  const jitter = base * 0.1 * (2 * random() - 1);
  return new Date(now.getTime() + Math.round(base + jitter));
}
