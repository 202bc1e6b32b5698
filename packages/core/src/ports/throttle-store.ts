export interface FailureWindow {
  readonly failures: number;
  readonly firstFailureAt: Date;
  readonly lastFailureAt: Date;
}

/**
 * Failure counters for login throttling, keyed by `acct:<address>` or `ip:<address>`. A counter resets
 * once `windowMs` passes without a failure. Shared by every node when backed by the database.
 */
export interface ThrottleStore {
  recordFailure(key: string, now: Date, windowMs: number): Promise<FailureWindow>;
  peek(key: string, now: Date, windowMs: number): Promise<FailureWindow | null>;
  reset(key: string): Promise<void>;
}
