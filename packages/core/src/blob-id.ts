import { createHash, type Hash } from 'node:crypto';
import { InvalidInputError } from './errors.js';

/**
 * A blob's id is the lower-case hex SHA-256 of its bytes, in every BlobStore (file system, S3,
 * memory): a blob moved from one store to another keeps its id, and the metadata that names it stays
 * valid. Nothing else is an id, so an id can never carry a path (`../`, `/`, `%2F`) into a file name
 * or an object key.
 */
const BLOB_ID = /^[0-9a-f]{64}$/;

export function isBlobId(id: unknown): id is string {
  return typeof id === 'string' && BLOB_ID.test(id);
}

/** InvalidInputError unless `id` is a blob id: checked before any file or request is touched. */
export function checkBlobId(id: unknown): asserts id is string {
  if (!isBlobId(id)) throw new InvalidInputError('invalid blob id');
}

/** The running hash of a blob being streamed in; `digest('hex')` is its id. */
export function createBlobHash(): Hash {
  return createHash('sha256');
}

/** The id of bytes known whole. */
export function blobIdOf(data: Uint8Array | string): string {
  return createBlobHash().update(data).digest('hex');
}
