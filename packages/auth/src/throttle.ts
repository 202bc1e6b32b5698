import { clientNetwork, type FailureWindow, type ThrottleStore } from '@palabre/core';

export interface ThrottlePolicy {
  /**
   * Failures of one login name from one client address allowed before each further attempt from
   * there must wait (exponentially longer). Counted over every address, the same number makes devices
   * the account never signed in from wait.
   */
  accountFreeFailures: number;
  /**
   * Failures of one login name from one address within the window that lock that address out of it
   * for `lockoutMs`; counted over every address, the same number locks out every device the account
   * never signed in from (distributed guessing), never its known devices.
   */
  accountLockoutFailures: number;
  lockoutMs: number;
  ipFreeFailures: number;
  /** Failures from one address, whatever the name, within the window that block it for `lockoutMs`. */
  ipBlockFailures: number;
  /** A counter restarts once this long passes without a failure. */
  failureWindowMs: number;
  /** First back-off step; doubles with each failure over the free allowance. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A device that signed in within this long is known: the lock against guessers spares it. */
  knownDeviceMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  accountFreeFailures: 5,
  accountLockoutFailures: 50,
  lockoutMs: 15 * 60_000,
  ipFreeFailures: 20,
  ipBlockFailures: 200,
  failureWindowMs: 60 * 60_000,
  baseDelayMs: 1000,
  maxDelayMs: 5 * 60_000,
  knownDeviceMs: 30 * 24 * 60 * 60_000,
};

/**
 * One login attempt as the throttle sees it. `name` is what the directory resolves the login to: the
 * account's address, or, when no account has it, the name as typed with the same normalisation (case,
 * domain aliases), so that an unknown name is counted exactly like an existing one.
 */
export interface LoginAttempt {
  readonly name: string | null;
  readonly ip: string | null;
}

/** Which counter refused: the client address, this name from this address, or this name from anywhere. */
export type ThrottleKey = 'ip' | 'device' | 'account';

export type ThrottleVerdict =
  /** `deviceFailures`: failures of this name from this address so far (a success resets them). */
  | { readonly allowed: true; readonly deviceFailures: number }
  | { readonly allowed: false; readonly retryAfterMs: number; readonly locked: boolean; readonly key: ThrottleKey };

/** The client's network as throttling counts it (IPv4 address, IPv6 /64): one rule with connection limits. */
export { clientNetwork };

const MAX_NAME = 320;
const nameKey = (n: string) => n.toLowerCase().slice(0, MAX_NAME);
export const accountKey = (account: string) => `acct:${nameKey(account)}`;
export const ipKey = (ip: string) => `ip:${clientNetwork(ip)}`;
/** This name from this client network; the name is cut where no address is that long anyway. */
export const deviceFailureKey = (account: string, ip: string) => `from:${clientNetwork(ip)}|${nameKey(account)}`.slice(0, 330);
export const knownDeviceKey = (account: string, ip: string) => `dev:${clientNetwork(ip)}|${nameKey(account)}`.slice(0, 330);

/**
 * Login throttling with exponential back-off, at three levels:
 * - a client address, whatever the names it tries (password spraying);
 * - one name from one address: after the free allowance each attempt must wait 1 s, 2 s, 4 s… since
 *   the previous failure, and a lock applies past the lockout count;
 * - one name from every address together (distributed guessing): the same back-off and lock, but only
 *   for devices the account has not signed in from. A stranger's wrong passwords therefore slow and
 *   lock the stranger, never the owner at a known address or with an app password.
 * While throttled, passwords are not even checked, so guessing stops paying. Counters live in a
 * ThrottleStore, so every node sees the same counts, and they are kept by name whether or not an
 * account has it: the answers never tell which accounts exist.
 */
export class LoginThrottle {
  constructor(
    private readonly store: ThrottleStore,
    readonly policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY,
  ) {}

  private verdictFor(window: FailureWindow | null, free: number, lock: number, now: Date, key: ThrottleKey): ThrottleVerdict {
    const allowed = { allowed: true, deviceFailures: key === 'device' ? (window?.failures ?? 0) : 0 } as const;
    if (!window) return allowed;
    const last = window.lastFailureAt.getTime();
    if (window.failures >= lock) {
      const until = last + this.policy.lockoutMs;
      if (now.getTime() < until) return { allowed: false, retryAfterMs: until - now.getTime(), locked: true, key };
      return allowed;
    }
    if (window.failures < free) return allowed;
    const delay = Math.min(this.policy.baseDelayMs * 2 ** (window.failures - free), this.policy.maxDelayMs);
    const until = last + delay;
    if (now.getTime() < until) return { allowed: false, retryAfterMs: until - now.getTime(), locked: false, key };
    return allowed;
  }

  /**
   * May this attempt go on to a password check? `exempt` is asked only when the account-wide counter
   * refuses, for proof that this is the owner's device without guessing (an app password: 100 bits).
   */
  async check(attempt: LoginAttempt, now: Date, exempt?: () => Promise<boolean>): Promise<ThrottleVerdict> {
    const p = this.policy;
    const { name, ip } = attempt;
    if (ip) {
      const v = this.verdictFor(await this.store.peek(ipKey(ip), now, p.failureWindowMs), p.ipFreeFailures, p.ipBlockFailures, now, 'ip');
      if (!v.allowed) return v;
    }
    if (!name) return { allowed: true, deviceFailures: 0 };
    let device: ThrottleVerdict = { allowed: true, deviceFailures: 0 };
    if (ip) {
      device = this.verdictFor(await this.store.peek(deviceFailureKey(name, ip), now, p.failureWindowMs), p.accountFreeFailures, p.accountLockoutFailures, now, 'device');
      if (!device.allowed) return device;
    }
    const account = this.verdictFor(await this.store.peek(accountKey(name), now, p.failureWindowMs), p.accountFreeFailures, p.accountLockoutFailures, now, 'account');
    if (account.allowed) return device;
    // The same lookups for every name, existing or not: neither the answer nor its time may tell.
    const known = ip ? await this.store.isKnownDevice(knownDeviceKey(name, ip), now, p.knownDeviceMs) : false;
    if (known || (exempt && (await exempt()))) return device;
    return account;
  }

  /** Count a failure; `justLocked` when it just locked an address out of a name, or a name's unknown devices. */
  async failure(attempt: LoginAttempt, now: Date): Promise<{ justLocked: boolean }> {
    const p = this.policy;
    const { name, ip } = attempt;
    if (ip) await this.store.recordFailure(ipKey(ip), now, p.failureWindowMs);
    if (!name) return { justLocked: false };
    const device = ip ? await this.store.recordFailure(deviceFailureKey(name, ip), now, p.failureWindowMs) : null;
    const account = await this.store.recordFailure(accountKey(name), now, p.failureWindowMs);
    return { justLocked: device?.failures === p.accountLockoutFailures || account.failures === p.accountLockoutFailures };
  }

  /**
   * A success clears this name's counter at this address (`deviceFailures` when already known, else
   * it is read). Not the address's own counter (one right password must not reset a spray), nor the
   * account-wide one (the owner signing in must not reset distributed guessing: it binds only
   * unknown devices anyway).
   */
  async success(attempt: LoginAttempt, now: Date, deviceFailures?: number): Promise<void> {
    const { name, ip } = attempt;
    if (!name || !ip) return;
    const key = deviceFailureKey(name, ip);
    const failures = deviceFailures ?? (await this.store.peek(key, now, this.policy.failureWindowMs))?.failures ?? 0;
    if (failures > 0) await this.store.reset(key);
  }

  /** Remember the device, so that the account-wide lock spares it from now on. */
  async rememberDevice(attempt: LoginAttempt, now: Date): Promise<void> {
    if (attempt.name && attempt.ip) await this.store.rememberDevice(knownDeviceKey(attempt.name, attempt.ip), now);
  }
}
