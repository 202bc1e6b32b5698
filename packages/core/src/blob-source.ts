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

/**
 * Read a stream until it ends or passes `limit` bytes: the whole of a small one, or a stream that
 * yields what was read and then the rest.
 */
export async function gatherSmall(
  source: AsyncIterable<Uint8Array | string>,
  limit: number,
  max: number,
  signal: AbortSignal | undefined,
): Promise<{ whole: Buffer } | { stream: AsyncIterable<Uint8Array | string> }> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let bytes = 0;
  try {
    for (;;) {
      if (signal?.aborted) throw new InvalidInputError('upload aborted');
      const next = await it.next();
      // Always a copy: the pieces may be views of a buffer the source reuses, and the store hashes,
      // writes and caches these bytes across awaits.
      if (next.done) return { whole: Buffer.concat(head, bytes) };
      const chunk = Buffer.from(next.value as Uint8Array);
      bytes += chunk.length;
      if (bytes > max) throw new TooLargeError(`more than ${max} bytes`);
      head.push(chunk);
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
