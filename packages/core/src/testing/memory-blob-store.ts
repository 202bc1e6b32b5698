import { blobIdOf, checkBlobId } from '../blob-id.js';
import { damagedBlobError } from '../blob-source.js';
import { Readable } from 'node:stream';
import { InvalidInputError, NotFoundError, PalabreError, TooLargeError } from '../errors.js';
import type { BlobEntry, BlobInfo, BlobSource, BlobStore, ByteRange, PutBlobOptions } from '../ports/blob-store.js';

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, { data: Buffer; modifiedAt: Date }>();
  /** Trashed blobs; modifiedAt is when they were trashed. */
  private readonly trashed = new Map<string, { data: Buffer; modifiedAt: Date }>();

  private find(id: string): { data: Buffer; modifiedAt: Date } | undefined {
    return this.blobs.get(id) ?? this.trashed.get(id);
  }

  private check(id: string): void {
    checkBlobId(id);
  }

  async put(source: BlobSource, options: PutBlobOptions = {}): Promise<BlobInfo> {
    const max = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    const chunks: Buffer[] = [];
    let size = 0;
    const input = typeof source === 'string' || source instanceof Uint8Array ? [Buffer.from(source)] : source;
    for await (const chunk of input as AsyncIterable<Uint8Array>) {
      if (options.signal?.aborted) throw new InvalidInputError('upload aborted');
      size += chunk.length;
      if (size > max) throw new TooLargeError(`more than ${max} bytes`);
      chunks.push(Buffer.from(chunk));
    }
    const data = Buffer.concat(chunks);
    const id = blobIdOf(data);
    if (options.expectedId !== undefined && options.expectedId !== id) throw new InvalidInputError('content does not match its announced digest');
    this.blobs.set(id, { data, modifiedAt: new Date() });
    return { id, size: data.length };
  }

  async get(id: string, range?: ByteRange): Promise<Readable> {
    this.check(id);
    const blob = this.find(id);
    if (!blob) throw new NotFoundError('no such blob');
    if (range) {
      if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
        throw new InvalidInputError('invalid byte range');
      }
      return Readable.from([blob.data.subarray(range.start, range.end + 1)]);
    }
    this.verify(id, blob.data);
    return Readable.from([Buffer.from(blob.data)]);
  }

  async read(id: string, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
    this.check(id);
    const blob = this.find(id);
    if (!blob) throw new NotFoundError('no such blob');
    if (blob.data.length > maxBytes) throw new TooLargeError(`blob larger than ${maxBytes} bytes`);
    this.verify(id, blob.data);
    return Buffer.from(blob.data);
  }

  async stat(id: string): Promise<BlobInfo | null> {
    this.check(id);
    const blob = this.find(id);
    return blob ? { id, size: blob.data.length } : null;
  }

  async delete(id: string): Promise<void> {
    this.check(id);
    this.blobs.delete(id);
    this.trashed.delete(id);
  }

  async *list(): AsyncIterable<BlobEntry> {
    for (const [id, blob] of [...this.blobs]) yield { id, size: blob.data.length, modifiedAt: blob.modifiedAt };
  }

  async trash(id: string): Promise<void> {
    this.check(id);
    const blob = this.blobs.get(id);
    if (!blob) return;
    this.blobs.delete(id);
    this.trashed.set(id, { data: blob.data, modifiedAt: new Date() });
  }

  async restore(id: string): Promise<void> {
    this.check(id);
    const blob = this.trashed.get(id);
    if (!blob) return;
    this.trashed.delete(id);
    if (!this.blobs.has(id)) this.blobs.set(id, { data: blob.data, modifiedAt: new Date() });
  }

  async purge(id: string): Promise<void> {
    this.check(id);
    this.trashed.delete(id);
  }

  async *listTrash(): AsyncIterable<BlobEntry> {
    for (const [id, blob] of [...this.trashed]) yield { id, size: blob.data.length, modifiedAt: blob.modifiedAt };
  }

  /** Nothing is ever half-written in memory. */
  async sweepTemp(): Promise<number> {
    return 0;
  }

  async probe(): Promise<void> {}

  async close(): Promise<void> {}

  private verify(id: string, data: Buffer): void {
    if (blobIdOf(data) !== id) throw damagedBlobError();
  }

  /** Test hook: damage a stored blob to prove readers notice. */
  corrupt(id: string): void {
    const blob = this.blobs.get(id);
    if (!blob) throw new PalabreError('not-found', 'no such blob');
    blob.data[0] = blob.data[0]! ^ 0xff;
  }
}
