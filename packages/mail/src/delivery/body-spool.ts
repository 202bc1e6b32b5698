import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';

/**
 * Where a message body waits between DATA and the blob store: in memory up to `memoryBytes`, then in a
 * private temp file. Memory per session stays bounded whatever the message size. Nothing here is
 * durable: the 250 is only sent once the final blob is in the BlobStore.
 */
export class BodySpool {
  private chunks: Buffer[] = [];
  private inMemory = 0;
  private file: FileHandle | null = null;
  private path: string | null = null;
  size = 0;

  constructor(
    private readonly dir: string,
    private readonly memoryBytes: number,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.size += chunk.length;
    if (!this.file && this.inMemory + chunk.length <= this.memoryBytes) {
      this.chunks.push(chunk);
      this.inMemory += chunk.length;
      return;
    }
    if (!this.file) {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.path = join(this.dir, `spool-${Date.now()}-${randomBytes(8).toString('hex')}`);
      this.file = await open(this.path, 'wx', 0o600);
      for (const c of this.chunks) await this.file.write(c);
      this.chunks = [];
      this.inMemory = 0;
    }
    await this.file.write(chunk);
  }

  /** The whole body when it stayed in memory (small messages), else null. */
  buffered(): Buffer | null {
    return this.path ? null : Buffer.concat(this.chunks);
  }

  /** A fresh reader over everything written so far (can be called several times). */
  stream(): Readable {
    if (this.path) return createReadStream(this.path, { highWaterMark: 256 * 1024 });
    return Readable.from(this.chunks.length ? [...this.chunks] : []);
  }

  async dispose(): Promise<void> {
    this.chunks = [];
    if (this.file) await this.file.close().catch(() => undefined);
    if (this.path) await rm(this.path, { force: true }).catch(() => undefined);
    this.file = null;
    this.path = null;
  }
}
