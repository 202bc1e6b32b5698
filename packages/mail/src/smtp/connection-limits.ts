/**
 * New SMTP sessions per client address per minute, on one listener of one node: a spam cannon that
 * reconnects for every message. (Concurrent connections are the process-wide ConnectionGate's.) In
 * memory on purpose: a flood is handled where it lands, without a database round trip.
 */
export class ConnectionRate {
  private readonly recent = new Map<string, { window: number; count: number }>();

  constructor(
    private readonly ratePerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count a new connection; true when it is over the rate. */
  exceeded(ip: string): boolean {
    const window = Math.floor(this.now() / 60_000);
    const r = this.recent.get(ip);
    const count = r && r.window === window ? r.count + 1 : 1;
    this.recent.set(ip, { window, count });
    if (this.recent.size > 50_000) for (const [k, v] of this.recent) if (v.window < window) this.recent.delete(k);
    return this.ratePerMinute > 0 && count > this.ratePerMinute;
  }
}
