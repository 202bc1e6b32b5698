import type { Readable } from 'node:stream';

export interface BlobInfo {
  /** Lower-case hex SHA-256 of the content: blobs are content-addressed and immutable. */
  readonly id: string;
  readonly size: number;
}

export type BlobSource = Uint8Array | string | AsyncIterable<Uint8Array> | Readable;

export interface PutBlobOptions {
  /** Abort with TooLargeError (kind 'too-large') once more bytes arrive; nothing is kept. */
  maxBytes?: number;
  /** Abort with InvalidInputError if the content does not hash to this (end-to-end integrity). */
  expectedId?: string;
  signal?: AbortSignal;
  /**
   * The length the caller was told (Content-Length), null or absent when unknown: a store may gather a
   * small upload into one buffer of that size. Not checked here: the caller compares it with `size`.
   */
  expectedBytes?: number | null;
  /**
   * The stream yields new buffers that nothing changes or reuses afterwards (node:http's request
   * bodies): a store may keep them as they are instead of copying them.
   */
  freshPieces?: boolean;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface BlobEntry {
  readonly id: string;
  readonly size: number;
  readonly modifiedAt: Date;
}

/**
 * Bytes of files and messages. `put` resolves only once the content is durable (fsync'd on a file
 * system); a crash before that leaves no visible blob. Reading a whole blob verifies its hash and
 * fails the stream if the stored bytes were damaged.
 */
export interface BlobStore {
  put(source: BlobSource, options?: PutBlobOptions): Promise<BlobInfo>;
  /** NotFoundError if absent. A range read is not hash-verified (it cannot be without reading it all). */
  get(id: string, range?: ByteRange): Promise<Readable>;
  /**
   * Whole blob in memory, hash-verified. For small blobs only (headers, calendar objects). The buffer
   * (and the chunks get() yields) may be shared with other readers through a cache: never modify it.
   */
  read(id: string, maxBytes?: number): Promise<Buffer>;
  stat(id: string): Promise<BlobInfo | null>;
  /** Deleting an absent blob is a no-op. */
  delete(id: string): Promise<void>;
  /** Every stored blob, for garbage collection (not the trashed ones). */
  list(): AsyncIterable<BlobEntry>;
  /**
   * Set a blob aside: get, read and stat still find it, list() no longer shows it, listTrash() does,
   * until restore() puts it back or purge() destroys it. Garbage collection trashes what nothing uses
   * and decides later, once every write in flight has committed: with content addressing a writer may
   * store the same bytes again (or find them stored) and refer to them just as the collector deletes
   * them, and only a second look after that moment can tell. Trashing an absent blob is a no-op.
   */
  trash(id: string): Promise<void>;
  /** A trashed blob back in place (a live copy written meanwhile is kept as it is); absent: no-op. */
  restore(id: string): Promise<void>;
  /** Destroy a trashed blob, never a live copy of the same bytes; absent: no-op. */
  purge(id: string): Promise<void>;
  /** The trashed blobs; `modifiedAt` is when each was trashed. */
  listTrash(): AsyncIterable<BlobEntry>;
  /**
   * Remove what writers killed mid-upload left behind (temp files, unfinished multipart uploads)
   * older than `olderThanMs`, so no live upload is touched. Returns how many were removed.
   */
  sweepTemp(olderThanMs: number, now?: number): Promise<number>;
  /**
   * Throws (UnavailableError, saying what is wrong) unless the store can be read and written now: its
   * folder there and writable, its bucket reachable with its credentials. For readiness and doctor.
   */
  probe(): Promise<void>;
  /** Let go of caches, descriptors and connections; a closed store may open them again if used. */
  close(): Promise<void>;
}
