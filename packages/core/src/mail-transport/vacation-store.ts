/** Out-of-office replies (RFC 3834): a per-account setting and the "already answered" record. */

export interface VacationSettings {
  readonly accountId: string;
  readonly enabled: boolean;
  readonly subject: string;
  /** Plain text. */
  readonly body: string;
  /** Replies are sent only between these (null: no bound). */
  readonly startsAt: Date | null;
  readonly endsAt: Date | null;
  /** A sender gets at most one reply per interval (RFC 3834 suggests 7 days). */
  readonly intervalMs: number;
  readonly updatedAt: Date;
}

export interface VacationStore {
  get(accountId: string): Promise<VacationSettings | null>;
  set(settings: Omit<VacationSettings, 'updatedAt'> & { updatedAt?: Date }): Promise<VacationSettings>;
  /** Turn it off (keeps the text for next time). */
  disable(accountId: string): Promise<void>;
  /**
   * Atomically: true (and the reply is recorded) if `sender` has not been answered for this account
   * within `intervalMs` before `now`; false otherwise. Two nodes racing on one sender give one true.
   */
  shouldReply(accountId: string, sender: string, now: Date, intervalMs: number): Promise<boolean>;
  /** Forget answers older than `before` (housekeeping). */
  sweep(before: Date): Promise<number>;
}
