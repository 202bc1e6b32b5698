/**
 * Turns for the work that grows with the data (an IMAP FETCH of many messages, SEARCH, SORT; a DAV
 * listing or REPORT of thousands of resources), so that the cheap requests of other clients (NOOP,
 * STORE, a PUT, an empty sync-collection) do not wait behind them on the one event loop. A bulk command waits for its turn before it starts
 * and again after each slice of its work (`pass()`); one waiting slice goes on per turn of the event
 * loop, after the loop has read every socket that had input and run the cheap commands found there.
 * So a cheap command waits for at most one slice, however many bulk commands run, and bulk commands
 * share the rest of the time round-robin.
 *
 * Nothing is held between slices: a bulk command that waits for its client to read (a full socket
 * buffer) is not in the queue and holds up nobody, so a client cannot stall the others by not reading.
 */
export class BulkTurns {
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  private scheduled = false;

  /** Resolves at this command's next turn. */
  pass(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Slices waiting now. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after the poll phase, where the sockets' input (the cheap commands) is read.
    setImmediate(() => this.next());
  }

  private next(): void {
    this.scheduled = false;
    const resolve = this.waiting[this.head];
    if (!resolve) return;
    this.waiting[this.head++] = undefined as unknown as () => void;
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    if (this.queued > 0) this.schedule();
    resolve();
  }
}

/** One event loop per process, so one queue of turns for every server in it (IMAP, DAV). */
export const bulkTurns = new BulkTurns();
