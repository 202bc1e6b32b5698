/** A FIFO async mutex: SQLite has one connection, so interleaved transactions must take turns. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  /** Holders and waiters: 0 means a synchronous step may use the connection right now. */
  private users = 0;

  get free(): boolean {
    return this.users === 0;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => next);
    this.users++;
    try {
      await previous;
      return await fn();
    } finally {
      this.users--;
      release();
    }
  }
}
