/** A listener of `palabre serve` (HTTP, SMTP, submission, IMAP…). */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stop accepting, finish or cut what is in flight within the grace period. */
  stop(graceMs: number): Promise<void>;
  /** Lines for the connection details printed at start; `user` is the address to show in URLs, if known. */
  banner(user?: string): string[];
}
