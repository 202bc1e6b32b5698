import type { Writable } from 'node:stream';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';

/**
 * Everything a session sends goes through here: small responses are gathered and written in one
 * piece, large ones (message bodies) are written as they come, and every write waits for the socket
 * to drain when its buffer is full, so a client that stops reading stops the session, not the server.
 * After COMPRESS=DEFLATE each piece written is deflated on its own, ending in a sync flush: every
 * piece is a run of complete, non-final blocks that continue the one raw deflate stream the client
 * inflates (RFC 4978 asks for nothing more), so the client always has every complete response. Done
 * here on the event loop, it costs a client's request no trip through libuv's thread pool (twice
 * what deflating 4 KiB takes) and an idle session holds no deflate state (over 256 KiB each).
 */
export class ResponseWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private sink: Writable;
  private deflating = false;
  private closed = false;
  /** Bytes queued since the session began (a bulk FETCH takes a turn after every so many). */
  total = 0;
  private static readonly GATHER = 64 * 1024;
  /** Deflated at a time: long enough to compress well, short enough not to hold up other sessions. */
  private static readonly DEFLATE_SLICE = 64 * 1024;

  constructor(sink: Writable) {
    this.sink = sink;
  }

  get compressed(): boolean {
    return this.deflating;
  }

  /** Switch the underlying socket (after STARTTLS). Pending bytes must have been flushed. */
  setSink(sink: Writable): void {
    this.sink = sink;
  }

  /** Queue bytes; writes through once enough has gathered. */
  async write(data: string | Buffer): Promise<void> {
    if (this.closed) return;
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    this.total += buf.length;
    if (this.pendingBytes >= ResponseWriter.GATHER) await this.push();
  }

  line(text: string): Promise<void> {
    return this.write(text + '\r\n');
  }

  /** Write what is queued and wait until the socket can take more. */
  async flush(): Promise<void> {
    await this.push();
    await this.drained(this.sink);
  }

  private async push(): Promise<void> {
    if (this.pendingBytes === 0 || this.closed) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.deflating) {
      if (!this.sink.write(data)) await this.drained(this.sink);
      return;
    }
    const slice = ResponseWriter.DEFLATE_SLICE;
    for (let at = 0; at < data.length && !this.closed; at += slice) {
      if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve)); // let other sessions in
      const part = data.subarray(at, Math.min(data.length, at + slice));
      const out = deflateRawSync(part, { level: 6, memLevel: 8, windowBits: 15, finishFlush: zlibConstants.Z_SYNC_FLUSH });
      if (this.sink.destroyed) return;
      if (!this.sink.write(out)) await this.drained(this.sink);
    }
  }

  private drained(stream: Writable): Promise<void> {
    if (this.closed || !stream.writableNeedDrain || stream.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done);
        stream.off('close', done);
        stream.off('error', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
      stream.on('error', done);
    });
  }

  /** Start RFC 4978 compression: everything written from now on is deflated. */
  async startDeflate(): Promise<void> {
    await this.flush();
    this.deflating = true;
  }

  close(): void {
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
  }
}
