import { Readable } from 'node:stream';

export type LineResult =
  | { readonly kind: 'line'; readonly line: Buffer }
  /** The line was longer than allowed: its bytes were discarded up to and including the LF; `tail` keeps its last bytes. */
  | { readonly kind: 'too-long'; readonly head: Buffer; readonly tail: Buffer; readonly length: number }
  /** The line was longer than allowed and discarding it would pass the discard budget (see `limitDiscard`). */
  | { readonly kind: 'over-budget' }
  | { readonly kind: 'end' };

export type SkipResult = 'skipped' | 'end' | 'over-budget';

/**
 * Pull-based reader over a connection's incoming bytes (plain, TLS or inflated). It buffers at most
 * `maxBuffered` bytes and pauses the source beyond that, so a client that pipelines faster than we
 * answer is held back by TCP, not by our memory. Lines and literals are read on demand; a literal can
 * be streamed without ever being held whole.
 */
export class InputReader {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private ended = false;
  private waiter: (() => void) | null = null;
  private source: Readable | null = null;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.finish(null);
  private readonly onError = (error: Error) => this.finish(error);
  private discardPerCommand = Infinity;
  private discardLeft = Infinity;

  constructor(private readonly maxBuffered: number) {}

  attach(source: Readable): void {
    this.source = source;
    source.on('data', this.onData);
    source.on('end', this.onEnd);
    source.on('close', this.onEnd);
    source.on('error', this.onError);
    if (this.pending() < this.maxBuffered) source.resume();
  }

  /**
   * Bound the bytes thrown away unread (too-long lines, refused literals) per command. On a plain
   * socket the client pays for every byte it makes us discard; once the input is inflated (COMPRESS)
   * a few KiB can stand for gigabytes, so what is over the budget ends the session instead.
   */
  limitDiscard(bytesPerCommand: number): void {
    this.discardPerCommand = bytesPerCommand;
    this.discardLeft = bytesPerCommand;
  }

  /** A new command starts: its discard budget is whole again. */
  beginCommand(): void {
    this.discardLeft = this.discardPerCommand;
  }

  /** Stop reading from the current source (STARTTLS, COMPRESS); returns it. */
  detach(): Readable | null {
    const s = this.source;
    if (s) {
      s.off('data', this.onData);
      s.off('end', this.onEnd);
      s.off('close', this.onEnd);
      s.off('error', this.onError);
      s.pause();
    }
    this.source = null;
    return s;
  }

  /** Bytes received but not yet read. */
  pending(): number {
    return this.buf.length - this.start;
  }

  /** Forget whatever was received and not read (plaintext pipelined after STARTTLS). */
  discardBuffered(): Buffer {
    const rest = this.buf.subarray(this.start);
    this.buf = Buffer.alloc(0);
    this.start = 0;
    return rest;
  }

  /** Give back bytes that belong to the next layer (compressed input that arrived with the COMPRESS command). */
  unshift(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.buf = Buffer.concat([bytes, this.buf.subarray(this.start)]);
    this.start = 0;
  }

  get isEnded(): boolean {
    return this.ended && this.pending() === 0;
  }

  private push(chunk: Buffer): void {
    if (this.start >= this.buf.length) {
      this.buf = chunk;
      this.start = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.start), chunk]);
      this.start = 0;
    }
    if (this.pending() >= this.maxBuffered) this.source?.pause();
    this.wake();
  }

  private finish(_error: Error | null): void {
    // A socket error ends the input like a close; the session sees the end and cleans up.
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Wait for more bytes; false at the end of input. */
  private async more(): Promise<boolean> {
    if (this.ended) return false;
    this.source?.resume();
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
    });
    return this.pending() > 0 || !this.ended;
  }

  private consumed(n: number): void {
    this.start += n;
    if (this.start >= this.buf.length) {
      this.buf = Buffer.alloc(0);
      this.start = 0;
    }
    if (this.source && this.source.isPaused() && this.pending() < this.maxBuffered / 2) this.source.resume();
  }

  /** Next line without its CRLF (or bare LF). Lines longer than `max` are discarded, not buffered. */
  async readLine(max: number): Promise<LineResult> {
    let scanned = 0;
    for (;;) {
      const nl = this.buf.indexOf(10, this.start + scanned);
      if (nl >= 0 && nl - this.start <= max + 1) {
        const end = nl > this.start && this.buf[nl - 1] === 13 ? nl - 1 : nl;
        const line = Buffer.from(this.buf.subarray(this.start, end));
        this.consumed(nl + 1 - this.start);
        return { kind: 'line', line };
      }
      if (nl >= 0 || this.pending() > max + 1) return this.discardLongLine(max);
      scanned = this.pending();
      if (!(await this.more())) {
        if (this.pending() === 0) return { kind: 'end' };
        // Input ended without a line terminator: hand back what is there as the last line.
        const line = Buffer.from(this.buf.subarray(this.start));
        this.consumed(line.length);
        return { kind: 'line', line };
      }
    }
  }

  private async discardLongLine(max: number): Promise<LineResult> {
    const head = Buffer.from(this.buf.subarray(this.start, this.start + Math.min(256, max)));
    let tail = Buffer.alloc(0);
    let length = 0;
    for (;;) {
      const nl = this.buf.indexOf(10, this.start);
      const stop = nl >= 0 ? nl : this.buf.length;
      const piece = this.buf.subarray(this.start, stop);
      if (piece.length > this.discardLeft) return { kind: 'over-budget' };
      this.discardLeft -= piece.length;
      length += piece.length;
      tail = Buffer.concat([tail, piece]).subarray(-64);
      this.consumed(stop - this.start + (nl >= 0 ? 1 : 0));
      if (nl >= 0) {
        if (tail[tail.length - 1] === 13) {
          tail = tail.subarray(0, -1);
          length--;
        }
        return { kind: 'too-long', head, tail: Buffer.from(tail), length };
      }
      if (!(await this.more())) return { kind: 'too-long', head, tail: Buffer.from(tail), length };
    }
  }

  /** Exactly n bytes (a small literal), or null if the input ends first. */
  async readExactly(n: number): Promise<Buffer | null> {
    while (this.pending() < n) if (!(await this.more())) return null;
    const out = Buffer.from(this.buf.subarray(this.start, this.start + n));
    this.consumed(n);
    return out;
  }

  /**
   * Drop n bytes as they arrive. Bytes the client was invited to send (`invited`: the rest of a
   * literal we accepted) do not count against the discard budget; others that would pass it are not
   * read at all.
   */
  async skip(n: number, invited = false): Promise<SkipResult> {
    if (!invited) {
      if (n > this.discardLeft) return 'over-budget';
      this.discardLeft -= n;
    }
    let left = n;
    while (left > 0) {
      if (this.pending() === 0 && !(await this.more())) return 'end';
      const take = Math.min(left, this.pending());
      this.consumed(take);
      left -= take;
    }
    return 'skipped';
  }

  /**
   * The next n bytes as a stream, pulled only as fast as the consumer reads (APPEND into the blob
   * store). The stream errors if the connection ends first. Reading anything else from this reader
   * before the stream has ended is a bug; if the consumer gives up early, skip `remaining()` bytes.
   */
  streamExactly(n: number): { stream: Readable; remaining: () => number } {
    let left = n;
    const reader = this;
    async function* pull(): AsyncGenerator<Buffer> {
      while (left > 0) {
        if (reader.pending() === 0 && !(await reader.more())) throw new Error('connection closed inside a literal');
        const take = Math.min(left, reader.pending(), 256 * 1024);
        const chunk = Buffer.from(reader.buf.subarray(reader.start, reader.start + take));
        reader.consumed(take);
        left -= take;
        yield chunk;
      }
    }
    const stream = Readable.from(pull(), { objectMode: false, highWaterMark: 64 * 1024 });
    return { stream, remaining: () => left };
  }
}
