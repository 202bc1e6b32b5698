import type { Writable } from 'node:stream';
import { constants as zlibConstants, createDeflateRaw, type DeflateRaw } from 'node:zlib';

/**
 * Everything a session sends goes through here: small responses are gathered and written in one
 * piece, large ones (message bodies) are written as they come, and every write waits for the socket
 * to drain when its buffer is full, so a client that stops reading stops the session, not the server.
 * After COMPRESS=DEFLATE the bytes go through raw deflate, flushed (Z_SYNC_FLUSH) whenever we stop
 * writing for a while, so the client always has every complete response.
 */
export class ResponseWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private sink: Writable;
  private deflate: DeflateRaw | null = null;
  /** Bytes went into deflate since its last sync flush. */
  private unflushed = false;
  private closed = false;
  private static readonly GATHER = 64 * 1024;

  constructor(sink: Writable) {
    this.sink = sink;
  }

  get compressed(): boolean {
    return this.deflate !== null;
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
    if (this.pendingBytes >= ResponseWriter.GATHER) await this.push();
  }

  line(text: string): Promise<void> {
    return this.write(text + '\r\n');
  }

  /** Write what is queued, flush compression, and wait until the socket can take more. */
  async flush(): Promise<void> {
    await this.push();
    // An empty sync block right after "OK DEFLATE active" could reach the client in the same read as
    // the OK, before it switched (imapflow refuses that): flush only what was written.
    if (this.deflate && this.unflushed && !this.closed) {
      this.unflushed = false;
      await new Promise<void>((resolve) => this.deflate!.flush(zlibConstants.Z_SYNC_FLUSH, () => resolve()));
    }
    await this.drained(this.sink);
  }

  private async push(): Promise<void> {
    if (this.pendingBytes === 0 || this.closed) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const target: Writable = this.deflate ?? this.sink;
    if (this.deflate) this.unflushed = true;
    if (!target.write(data)) await this.drained(target);
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
    const deflate = createDeflateRaw({ level: 6, memLevel: 8, windowBits: 15 });
    deflate.on('data', (chunk: Buffer) => {
      if (!this.sink.destroyed && !this.sink.write(chunk)) deflate.pause();
    });
    this.sink.on('drain', () => deflate.resume());
    deflate.on('error', () => this.close());
    this.deflate = deflate;
  }

  close(): void {
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.deflate?.destroy();
  }
}
