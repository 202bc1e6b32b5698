import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import {
  InvalidInputError,
  NotFoundError,
  PalabreError,
  TooLargeError,
  UnavailableError,
  blobIdOf,
  checkBlobId,
  createBlobHash,
  damagedBlobError,
  gatherSmall,
  isPalabreError,
  isBlobId,
  verifyBlobStream,
  wholeSource,
  type BlobEntry,
  type BlobInfo,
  type BlobSource,
  type BlobStore,
  type ByteRange,
  type PutBlobOptions,
} from '@palabre/core';
import { checkS3Location, type S3Location } from './s3-location.js';

const MiB = 1024 * 1024;
/** S3's smallest part but the last (Swift's s3api: `min_segment_size`, 5 MiB too). */
const MIN_PART_BYTES = 5 * MiB;
/** S3's largest single-request object, hence the largest CopyObject source. */
const MAX_SINGLE_COPY_BYTES = 5 * 1024 * MiB;
/** Where a streamed upload is put while its hash is not known yet, inside the store's prefix. */
const TMP = '.tmp/';
/** Blobs garbage collection has set aside (trash()): still readable, no longer listed. */
const TRASH = '.trash/';

export interface S3ServerSideEncryption {
  /** `AES256` (SSE-S3, keys held by the object store) or `aws:kms` (a KMS key, `kmsKeyId`). */
  readonly algorithm: 'AES256' | 'aws:kms';
  readonly kmsKeyId?: string;
}

export interface S3BlobStoreOptions extends S3Location {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /**
   * Key prefix of this store's blobs (`mail/`, `drive/`): stores sharing a bucket never see each
   * other's blobs, so each feature's garbage collection owns its prefix alone. Default: none.
   */
  readonly prefix?: string;
  /** Sent on every write (PutObject, CreateMultipartUpload, CopyObject). */
  readonly sse?: S3ServerSideEncryption;
  /** Bytes per part of a streamed upload (default 8 MiB, at least 5 MiB): memory is two parts at most. */
  readonly partBytes?: number;
  /** Above this size the final copy goes part by part (UploadPartCopy); default S3's 5 GiB limit. */
  readonly singleCopyMaxBytes?: number;
  /** Bytes per part of such a copy (default 512 MiB). */
  readonly copyPartBytes?: number;
  /** Attempts per request, with the SDK's exponential back-off on 5xx and network errors (default 5). */
  readonly maxAttempts?: number;
  readonly connectTimeoutMs?: number;
  /** A socket silent this long fails the request (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** Verify the SHA-256 of whole-blob reads (default true). */
  readonly verifyReads?: boolean;
  /** Keys per ListObjectsV2 page (default 1,000, S3's most). */
  readonly listPageSize?: number;
  /** An existing client (several stores of one bucket share its connections); not closed by close(). */
  readonly client?: S3Client;
}

type Encryption = { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string };

/**
 * Content-addressed blobs in an S3 bucket: `<prefix><sha256>`, the id the file-system store gives the
 * same bytes (core's blobIdOf).
 *
 * A blob is visible under its final key only once its hash is known and every byte is stored. One
 * that arrives whole or fits one part is hashed in memory and written with one PutObject. A larger
 * one arrives as a stream that can be read once (an SMTP DATA, a WebDAV PUT body): its id is known
 * only after its last byte. Hashing first would mean keeping the whole stream somewhere, on a node
 * meant to have no disk of its own; so it is streamed as a multipart upload to a temp key, two parts
 * in memory at most, hashed on the way, then copied server-side under its id (the bytes do not come
 * back through this node) and the temp object deleted. Any failure aborts the multipart upload, so
 * no parts are left; what a killed process leaves (an upload never aborted, a temp object never
 * deleted) is removed by sweepTemp.
 */
export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly partBytes: number;
  private readonly singleCopyMaxBytes: number;
  private readonly copyPartBytes: number;
  private readonly verifyReads: boolean;
  private readonly encryption: Encryption;
  private readonly listPageSize: number;

  constructor(options: S3BlobStoreOptions) {
    checkS3Location(options);
    const prefix = options.prefix ?? '';
    if (!/^([a-z0-9][a-z0-9-]*\/)*$/.test(prefix))
      throw new InvalidInputError('S3 prefix: lower-case words each ending in /, such as mail/');
    const partBytes = options.partBytes ?? 8 * MiB;
    if (!Number.isSafeInteger(partBytes) || partBytes < MIN_PART_BYTES)
      throw new InvalidInputError(`S3 partBytes: at least ${MIN_PART_BYTES}`);
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.partBytes = partBytes;
    this.singleCopyMaxBytes = Math.min(options.singleCopyMaxBytes ?? MAX_SINGLE_COPY_BYTES, MAX_SINGLE_COPY_BYTES);
    this.copyPartBytes = Math.max(options.copyPartBytes ?? 512 * MiB, MIN_PART_BYTES);
    this.verifyReads = options.verifyReads ?? true;
    this.listPageSize = Math.min(Math.max(options.listPageSize ?? 1000, 1), 1000);
    this.encryption = options.sse
      ? { ServerSideEncryption: options.sse.algorithm, ...(options.sse.kmsKeyId ? { SSEKMSKeyId: options.sse.kmsKeyId } : {}) }
      : {};
    this.ownsClient = !options.client;
    this.client = options.client ?? createS3Client(options);
  }

  private keyOf(id: string): string {
    return `${this.prefix}${id}`;
  }

  /** Where garbage collection sets a blob aside (trash()): outside what list() yields. */
  private trashKeyOf(id: string): string {
    return `${this.prefix}${TRASH}${id}`;
  }

  async put(source: BlobSource, options: PutBlobOptions = {}): Promise<BlobInfo> {
    const max = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    let whole = wholeSource(source);
    let stream: AsyncIterable<Uint8Array | string> | null = null;
    let id: string | undefined;
    if (!whole) {
      const gathered = await gatherSmall(source as AsyncIterable<Uint8Array | string>, this.partBytes, max, options.signal, options.expectedBytes, options.freshPieces);
      if ('pieces' in gathered) {
        whole = Buffer.concat(gathered.pieces, gathered.size);
        id = gathered.id;
      } else if ('whole' in gathered) {
        whole = gathered.whole;
        id = gathered.id;
      } else stream = gathered.stream;
    }
    return whole ? this.putWhole(whole, max, options, id) : this.putStreamed(stream!, max, options);
  }

  /**
   * One PutObject under the final key, atomic on every S3. Written even when that key exists: the
   * write makes the object young again, so a garbage collection that listed the old copy as
   * unreferenced keeps it for its grace period, long enough for the caller's metadata to commit.
   */
  private async putWhole(data: Buffer, max: number, options: PutBlobOptions, hashed?: string): Promise<BlobInfo> {
    if (data.length > max) throw new TooLargeError(`more than ${max} bytes`);
    const id = hashed ?? blobIdOf(data);
    if (options.expectedId !== undefined && options.expectedId !== id)
      throw new InvalidInputError('content does not match its announced digest');
    if (options.signal?.aborted) throw new InvalidInputError('upload aborted');
    await this.run('put', () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(id),
          Body: data,
          ContentLength: data.length,
          ContentType: 'application/octet-stream',
          ...this.encryption,
        }),
      ),
    );
    return { id, size: data.length };
  }

  private async putStreamed(stream: AsyncIterable<Uint8Array | string>, max: number, options: PutBlobOptions): Promise<BlobInfo> {
    const tempKey = `${this.prefix}${TMP}${Date.now()}-${randomBytes(8).toString('hex')}`;
    const uploadId = await this.createUpload(tempKey);
    const hash = createBlobHash();
    let size = 0;
    try {
      const parts = await this.uploadParts(tempKey, uploadId, stream, (chunk) => {
        size += chunk.length;
        if (size > max) throw new TooLargeError(`more than ${max} bytes`);
        if (options.signal?.aborted) throw new InvalidInputError('upload aborted');
        hash.update(chunk);
      });
      if (options.signal?.aborted) throw new InvalidInputError('upload aborted');
      const id = hash.digest('hex');
      if (options.expectedId !== undefined && options.expectedId !== id)
        throw new InvalidInputError('content does not match its announced digest');
      await this.run('put', () =>
        this.client.send(
          new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: tempKey, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        ),
      );
      try {
        await this.copy(tempKey, this.keyOf(id), size);
      } finally {
        // Best effort: a temp object left here (the store unreachable now) goes at the next sweepTemp.
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: tempKey })).catch(() => undefined);
      }
      return { id, size };
    } catch (error) {
      // Also after a completed upload: aborting a finished upload is refused, harmlessly.
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: tempKey, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  private async createUpload(key: string): Promise<string> {
    const created = await this.run('put', () =>
      this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/octet-stream', ...this.encryption }),
      ),
    );
    if (!created.UploadId) throw new UnavailableError('blob store: the object store gave no upload id');
    return created.UploadId;
  }

  /**
   * Parts of `partBytes` from the stream: one is sent while the next fills, so memory stays at two
   * parts whatever the size, and a slow store slows the reader (backpressure) instead of piling up.
   */
  private async uploadParts(
    key: string,
    uploadId: string,
    stream: AsyncIterable<Uint8Array | string>,
    seen: (chunk: Uint8Array) => void,
  ): Promise<CompletedPart[]> {
    const buffers = [Buffer.allocUnsafe(this.partBytes), Buffer.allocUnsafe(this.partBytes)];
    const parts: CompletedPart[] = [];
    let current = 0;
    let fill = 0;
    let inFlight: Promise<void> | null = null;
    const ship = async () => {
      if (inFlight) await inFlight;
      const body = buffers[current]!.subarray(0, fill);
      const partNumber = parts.length + 1;
      const part: CompletedPart = { PartNumber: partNumber };
      parts.push(part);
      inFlight = this.run('put', () =>
        this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
          }),
        ),
      ).then((r) => {
        part.ETag = r.ETag;
      });
      inFlight.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
      current ^= 1;
      fill = 0;
    };
    try {
      for await (const piece of stream) {
        const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
        seen(chunk);
        for (let offset = 0; offset < chunk.length;) {
          const n = Math.min(chunk.length - offset, this.partBytes - fill);
          buffers[current]!.set(chunk.subarray(offset, offset + n), fill);
          fill += n;
          offset += n;
          if (fill === this.partBytes) await ship();
        }
      }
      if (fill > 0 || parts.length === 0) await ship();
    } finally {
      if (inFlight) await (inFlight as Promise<void>).catch(() => undefined);
    }
    // The last part's outcome: a failure above already threw; this one's surfaces here.
    await inFlight;
    return parts;
  }

  /** Server-side copy under the final key: one CopyObject up to 5 GiB, part by part beyond. */
  private async copy(from: string, to: string, size: number): Promise<void> {
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= this.singleCopyMaxBytes) {
      await this.run('put', () =>
        this.client.send(
          new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source, MetadataDirective: 'COPY', ...this.encryption }),
        ),
      );
      return;
    }
    const uploadId = await this.createUpload(to);
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0; start < size; start += this.copyPartBytes) {
        const end = Math.min(start + this.copyPartBytes, size) - 1;
        const r = await this.run('put', () =>
          this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: to,
              UploadId: uploadId,
              PartNumber: parts.length + 1,
              CopySource: source,
              CopySourceRange: `bytes=${start}-${end}`,
            }),
          ),
        );
        parts.push({ PartNumber: parts.length + 1, ETag: r.CopyPartResult?.ETag });
      }
      await this.run('put', () =>
        this.client.send(
          new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        ),
      );
    } catch (error) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId: uploadId })).catch(() => undefined);
      throw error;
    }
  }

  async get(id: string, range?: ByteRange): Promise<Readable> {
    checkBlobId(id);
    try {
      return await this.getKey(this.keyOf(id), id, range);
    } catch (error) {
      // Trashed by garbage collection and maybe referred to again: readable until purged.
      if (!(error instanceof NotFoundError)) throw error;
      return this.getKey(this.trashKeyOf(id), id, range).catch(() => {
        throw error;
      });
    }
  }

  private async getKey(key: string, id: string, range?: ByteRange): Promise<Readable> {
    if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start)) {
      throw new InvalidInputError('invalid byte range');
    }
    let body: Readable;
    try {
      const r = await this.run('get', () =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        ),
      );
      body = r.Body as Readable;
    } catch (error) {
      // A range that starts past the end reads nothing, as from a file.
      if (range && statusOf(error) === 416) return Readable.from([]);
      throw error;
    }
    if (range || !this.verifyReads) return body;
    return verifyBlobStream(id, body);
  }

  async read(id: string, maxBytes = 64 * MiB): Promise<Buffer> {
    checkBlobId(id);
    try {
      return await this.readKey(this.keyOf(id), id, maxBytes);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      return this.readKey(this.trashKeyOf(id), id, maxBytes).catch((other: unknown) => {
        throw other instanceof NotFoundError ? error : other;
      });
    }
  }

  private async readKey(key: string, id: string, maxBytes: number): Promise<Buffer> {
    const r = await this.run('get', () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
    const body = r.Body as Readable;
    if ((r.ContentLength ?? 0) > maxBytes) {
      body.destroy();
      throw new TooLargeError(`blob larger than ${maxBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) throw new TooLargeError(`blob larger than ${maxBytes} bytes`);
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      body.destroy();
      if (error instanceof PalabreError) throw error;
      throw unavailable('get', error);
    }
    const data = Buffer.concat(chunks, size);
    if (this.verifyReads && blobIdOf(data) !== id) throw damagedBlobError();
    return data;
  }

  async stat(id: string): Promise<BlobInfo | null> {
    checkBlobId(id);
    const size = (await this.sizeOf(this.keyOf(id))) ?? (await this.sizeOf(this.trashKeyOf(id)));
    return size === null ? null : { id, size };
  }

  private async sizeOf(key: string): Promise<number | null> {
    try {
      const r = await this.run('stat', () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return r.ContentLength ?? 0;
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw error;
    }
  }

  private async deleteKey(key: string): Promise<void> {
    // S3 answers 204 for an absent key too.
    await this.run('delete', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  async delete(id: string): Promise<void> {
    checkBlobId(id);
    await this.deleteKey(this.keyOf(id));
    await this.deleteKey(this.trashKeyOf(id));
  }

  /**
   * S3 has no rename: a server-side copy into the trash, then the live key deleted. A writer storing
   * these bytes between the two loses its copy to the delete, but the trashed one is the same bytes,
   * still readable, and restored at the collector's second look, which comes after that writer's
   * reference has committed.
   */
  async trash(id: string): Promise<void> {
    checkBlobId(id);
    const size = await this.sizeOf(this.keyOf(id));
    if (size === null) return;
    await this.copy(this.keyOf(id), this.trashKeyOf(id), size);
    await this.deleteKey(this.keyOf(id));
  }

  async restore(id: string): Promise<void> {
    checkBlobId(id);
    const size = await this.sizeOf(this.trashKeyOf(id));
    if (size === null) return;
    if ((await this.sizeOf(this.keyOf(id))) === null) await this.copy(this.trashKeyOf(id), this.keyOf(id), size);
    await this.deleteKey(this.trashKeyOf(id));
  }

  async purge(id: string): Promise<void> {
    checkBlobId(id);
    await this.deleteKey(this.trashKeyOf(id));
  }

  async *listTrash(): AsyncIterable<BlobEntry> {
    const prefix = `${this.prefix}${TRASH}`;
    for await (const object of this.objects(prefix)) {
      const id = object.key.slice(prefix.length);
      if (isBlobId(id)) yield { id, size: object.size, modifiedAt: object.modifiedAt };
    }
  }

  async *list(): AsyncIterable<BlobEntry> {
    for await (const object of this.objects(this.prefix)) {
      const id = object.key.slice(this.prefix.length);
      if (isBlobId(id)) yield { id, size: object.size, modifiedAt: object.modifiedAt };
    }
  }

  /** Every object under a prefix, a page (1,000 keys at most) per ListObjectsV2 request. */
  private async *objects(prefix: string): AsyncIterable<{ key: string; size: number; modifiedAt: Date }> {
    let token: string | undefined;
    do {
      const page = await this.run('list', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            MaxKeys: this.listPageSize,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      for (const o of page.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Remove what killed writers left: temp objects and multipart uploads never completed nor aborted
   * (their parts cost storage and are invisible to list()), older than `olderThanMs`.
   */
  async sweepTemp(olderThanMs = 60 * 60_000, now = Date.now()): Promise<number> {
    let removed = 0;
    for await (const object of this.objects(`${this.prefix}${TMP}`)) {
      if (now - object.modifiedAt.getTime() <= olderThanMs) continue;
      await this.run('delete', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.key })));
      removed++;
    }
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.run('list', () =>
        this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        ),
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || now - (upload.Initiated?.getTime() ?? 0) <= olderThanMs) continue;
        await this.run('delete', () =>
          this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId })),
        );
        removed++;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return removed;
  }

  /** Multipart uploads under this store's prefix not completed nor aborted (what a test checks is none). */
  async unfinishedUploads(): Promise<number> {
    const page = await this.run('list', () =>
      this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix })),
    );
    return page.Uploads?.length ?? 0;
  }

  /** The bucket answers with these credentials (HeadBucket): for readiness and `palabre doctor`. */
  async probe(): Promise<void> {
    await this.run('probe', () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  /**
   * Make the bucket if it is not there (a bucket already owned by these credentials is fine): for
   * setting up a site or a test; a production bucket is usually made by the object store's operator.
   */
  async createBucket(): Promise<void> {
    try {
      await this.run('create bucket', () => this.client.send(new CreateBucketCommand({ Bucket: this.bucket })));
    } catch (error) {
      if (isPalabreError(error) && (error.cause as { name?: string } | undefined)?.name === 'BucketAlreadyOwnedByYou') return;
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  /** A request, its failure as core's typed errors (the SDK has already retried what can be). */
  private async run<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw toPalabreError(what, error, this.bucket);
    }
  }
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof PalabreError) return (error.detail?.status as number | undefined) ?? undefined;
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function unavailable(what: string, error: unknown): UnavailableError {
  const e = error as { name?: string; code?: string; message?: string };
  return new UnavailableError(`blob store unreachable (${what}): ${e.code ?? e.name ?? 'error'}${e.message ? `: ${e.message}` : ''}`, {
    cause: error,
  });
}

/** What callers handle: not-found, refused (credentials, bucket), unavailable (retryable). */
function toPalabreError(what: string, error: unknown, bucket: string): PalabreError {
  if (error instanceof PalabreError) return error;
  const status = statusOf(error);
  const name = (error as { name?: string }).name ?? '';
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound') {
    if (name === 'NoSuchBucket' || (what === 'probe' && status === 404))
      return new UnavailableError(`blob store: no bucket ${bucket}`, { cause: error, retryable: false, detail: { status } });
    return new NotFoundError('no such blob', { detail: { status } });
  }
  if (status === 416) return new InvalidInputError('range not satisfiable', { detail: { status } });
  if (status === 403 || status === 401)
    return new UnavailableError(`blob store refused access to bucket ${bucket} (${name || status}): check the S3 credentials`, {
      cause: error,
      retryable: false,
      detail: { status },
    });
  if (status === 400 || status === 501)
    return new UnavailableError(`blob store refused the request (${what}): ${name || status}`, {
      cause: error,
      retryable: false,
      detail: { status },
    });
  return unavailable(what, error);
}

/** The SDK client for these options: retries with exponential back-off, timeouts, no flexible checksums. */
export function createS3Client(
  options:
    | S3BlobStoreOptions
    | (S3Location & {
        accessKeyId: string;
        secretAccessKey: string;
        maxAttempts?: number;
        connectTimeoutMs?: number;
        requestTimeoutMs?: number;
      }),
): S3Client {
  checkS3Location(options);
  return new S3Client({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    region: options.region,
    forcePathStyle: options.forcePathStyle ?? true,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    maxAttempts: options.maxAttempts ?? 5,
    retryMode: 'standard',
    // Checksums only where S3 requires them: the default CRC32 trailers use aws-chunked encoding,
    // which S3-compatible stores (Swift's s3api among them) refuse. Integrity is the SHA-256 id anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 5000, requestTimeout: options.requestTimeoutMs ?? 60_000 },
  });
}
