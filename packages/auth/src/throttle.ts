import type { FailureWindow, ThrottleStore } from '@palabre/core';

export interface ThrottlePolicy {
  /** Failures per account allowed before each further attempt must wait (exponentially longer). */
  accountFreeFailures: number;
  /** Failures per account within the window that lock it for `lockoutMs`. */
  accountLockoutFailures: number;
  lockoutMs: number;
  ipFreeFailures: number;
  /** Failures from one address within the window that block it for `lockoutMs`. */
  ipBlockFailures: number;
  /** A counter restarts once this long passes without a failure. */
  failureWindowMs: number;
  /** First back-off step; doubles with each failure over the free allowance. */
  baseDelayMs: number;
  maxDelayMs: number;
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
};

export type ThrottleVerdict =
  /** `accountFailures`: failures counted for the account so far (a success need not reset zero). */
  | { readonly allowed: true; readonly accountFailures: number }
  | { readonly allowed: false; readonly retryAfterMs: number; readonly locked: boolean; readonly key: 'account' | 'ip' };

export const accountKey = (address: string) => `acct:${address.toLowerCase().slice(0, 320)}`;
export const ipKey = (ip: string) => `ip:${ip.slice(0, 64)}`;

/**
 * Login throttling by account and by client address with exponential back-off: after the free
 * allowance each attempt must wait 1 s, 2 s, 4 s… since the previous failure, and a hard lock applies
 * past the lockout count. While throttled, passwords are not even checked, so guessing stops paying.
 * Counters live in a ThrottleStore, so every node sees the same counts.
 */
export class LoginThrottle {
  constructor(
    private readonly store: ThrottleStore,
    readonly policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY,
  ) {}

  private verdictFor(window: FailureWindow | null, free: number, lock: number, now: Date, key: 'account' | 'ip'): ThrottleVerdict {
    const allowed = { allowed: true, accountFailures: key === 'account' ? (window?.failures ?? 0) : 0 } as const;
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

  async check(account: string | null, ip: string | null, now: Date): Promise<ThrottleVerdict> {
    const p = this.policy;
    if (ip) {
      const w = await this.store.peek(ipKey(ip), now, p.failureWindowMs);
      const v = this.verdictFor(w, p.ipFreeFailures, p.ipBlockFailures, now, 'ip');
      if (!v.allowed) return v;
    }
    if (account) {
      const w = await this.store.peek(accountKey(account), now, p.failureWindowMs);
      return this.verdictFor(w, p.accountFreeFailures, p.accountLockoutFailures, now, 'account');
    }
    return { allowed: true, accountFailures: 0 };
  }

  /** Count a failure; returns true when this failure just locked the account. */
  async failure(account: string | null, ip: string | null, now: Date): Promise<{ justLocked: boolean }> {
    const p = this.policy;
    if (ip) await this.store.recordFailure(ipKey(ip), now, p.failureWindowMs);
    if (!account) return { justLocked: false };
    const w = await this.store.recordFailure(accountKey(account), now, p.failureWindowMs);
    return { justLocked: w.failures === p.accountLockoutFailures };
  }

  /** A success clears the account's counter (not the address's: one right guess must not reset a spray). */
  async success(account: string): Promise<void> {
    await this.store.reset(accountKey(account));
  }
}
