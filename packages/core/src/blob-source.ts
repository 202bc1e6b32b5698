import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createBlobHash } from './blob-id.js';
import { InvalidInputError, PalabreError, TooLargeError } from './errors.js';
import type { BlobSource } from './ports/blob-store.js';

/**
 * What every BlobStore's put() begins with: a copy of bytes given whole (the caller may reuse its
 * buffer while the store still hashes, sends or caches them); null for a stream.
 */
export function wholeSource(source: BlobSource): Buffer | null {
  return typeof source === 'string' || source instanceof Uint8Array ? Buffer.from(source as Uint8Array) : null;
}

/** What gatherSmall() read of a small stream: its pieces as they came, their size and their hash. */
export interface GatheredPieces {
  readonly pieces: readonly Buffer[];
  readonly size: number;
  readonly id: string;
}

/**
 * Read a stream until it ends or passes `limit` bytes: the whole of a small one, or a stream that
 * yields what was read and then the rest. `expected` (the announced length, when there is one) lets a
 * small upload be copied once, into a buffer of its size, and hashed piece by piece as it arrives
 * (`id`): no second pass over the bytes, and no copy of them all together. With `fresh` (pieces that
 * nothing reuses, as node:http's) nothing is copied at all: the pieces come back as they are.
 */
export async function gatherSmall(
  source: AsyncIterable<Uint8Array | string>,
  limit: number,
  max: number,
  signal: AbortSignal | undefined,
  expected: number | null = null,
  fresh = false,
): Promise<{ whole: Buffer; id?: string } | GatheredPieces | { stream: AsyncIterable<Uint8Array | string> }> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  const small = expected !== null && expected > 0 && expected <= limit && expected <= max;
  // Else always copies: the pieces may be views of a buffer the source reuses, and the store hashes,
  // writes and caches these bytes across awaits.
  let into = small && !fresh ? Buffer.allocUnsafeSlow(expected) : null;
  let hash = small ? createBlobHash() : null;
  let bytes = 0;
  try {
    for (;;) {
      if (signal?.aborted) throw new InvalidInputError('upload aborted');
      const next = await it.next();
      if (next.done) {
        if (fresh) return { pieces: head, size: bytes, id: hash ? hash.digest('hex') : hashOf(head) };
        if (!into) return { whole: Buffer.concat(head, bytes) };
        return hash ? { whole: into.subarray(0, bytes), id: hash.digest('hex') } : { whole: into.subarray(0, bytes) };
      }
      const string = typeof next.value === 'string';
      const piece = string ? Buffer.from(next.value as string) : (next.value as Uint8Array);
      if (bytes + piece.length > max) throw new TooLargeError(`more than ${max} bytes`);
      if (hash && bytes + piece.length > expected!) {
        // More than announced: the caller will refuse it, but the bytes still go where they belong.
        if (into) head.push(into.subarray(0, bytes));
        into = null;
        hash = null;
      }
      hash?.update(piece);
      if (into) {
        into.set(piece, bytes);
      } else {
        head.push(string ? (piece as Buffer) : fresh ? Buffer.from(piece.buffer, piece.byteOffset, piece.length) : Buffer.from(piece));
      }
      bytes += piece.length;
      if (bytes > limit) break;
    }
  } catch (error) {
    await it.return?.();
    throw error;
  }
  return {
    stream: (async function* () {
      let ended = false;
      try {
        yield* head;
        for (;;) {
          const next = await it.next();
          if (next.done) {
            ended = true;
            return;
          }
          yield next.value;
        }
      } finally {
        // The writer stopped early (too large, aborted, a disk error): let the source go too.
        if (!ended) await it.return?.();
      }
    })(),
  };
}

function hashOf(pieces: readonly Buffer[]): string {
  const hash = createBlobHash();
  for (const piece of pieces) hash.update(piece);
  return hash.digest('hex');
}

/**
 * A whole blob's bytes passed through, hashed on the way: the stream fails at its end if they do not
 * hash to `id` (a reader that stops early learns nothing, as it has not read it all).
 */
export function verifyBlobStream(id: string, stream: Readable, onVerified: () => void = () => undefined): Readable {
  const hash = createBlobHash();
  const verify = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      if (hash.digest('hex') !== id) return done(damagedBlobError());
      onVerified();
      done();
    },
  });
  stream.on('error', (error) => verify.destroy(error));
  verify.on('close', () => {
    if (!stream.destroyed) stream.destroy();
  });
  return stream.pipe(verify);
}

/** What a reader gets for bytes that no longer hash to their id. */
export function damagedBlobError(): PalabreError {
  return new PalabreError('internal', 'stored blob is damaged (hash mismatch)');
}
