export interface FailureWindow {
  readonly failures: number;
  readonly firstFailureAt: Date;
  readonly lastFailureAt: Date;
}

/**
 * Login throttling state shared by every node when backed by the database: failure counters keyed by
 * `acct:<name>`, `ip:<address>` or `from:<address>|<name>`, which reset once `windowMs` passes without
 * a failure; and the devices (`dev:<address>|<account>`) that signed in successfully, so that a lock
 * meant for guessers spares the owner's known devices.
 */
export interface ThrottleStore {
  recordFailure(key: string, now: Date, windowMs: number): Promise<FailureWindow>;
  peek(key: string, now: Date, windowMs: number): Promise<FailureWindow | null>;
  reset(key: string): Promise<void>;
  /** Note that this device signed in successfully at `now`. */
  rememberDevice(key: string, now: Date): Promise<void>;
  /** Whether this device signed in successfully within `maxAgeMs` before `now`. */
  isKnownDevice(key: string, now: Date, maxAgeMs: number): Promise<boolean>;
}
