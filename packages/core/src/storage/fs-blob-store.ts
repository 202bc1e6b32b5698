import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rm, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { blobIdOf, checkBlobId, createBlobHash, isBlobId } from '../blob-id.js';
import { damagedBlobError, gatherSmall, verifyBlobStream, wholeSource } from '../blob-source.js';
import { InvalidInputError, NotFoundError, TooLargeError, UnavailableError, PalabreError } from '../errors.js';
import type { BlobEntry, BlobInfo, BlobSource, BlobStore, ByteRange, PutBlobOptions } from '../ports/blob-store.js';
import { BlobHolds, type BlobHold } from './blob-hold.js';

const TMP = '.tmp';
/** Blobs garbage collection has set aside (trash()): still readable, no longer listed. */
const TRASH = '.trash';
// Large reads: reading 1 MiB at a time instead of Node's 64 KiB more than doubles what one core serves.
const READ_CHUNK = 1024 * 1024;
const WRITE_CHUNK = 512 * 1024;
/** Blobs up to this size are read in one go and handed over as one buffer (the fewest hops to the socket). */
const WHOLE_READ_BYTES = 1024 * 1024;
/** Streamed blobs up to this size are gathered in memory and written in one go. */
const WHOLE_WRITE_BYTES = 1024 * 1024;
const MAX_VERIFIED_ENTRIES = 100_000;
/** Open descriptors kept for small blobs (they are immutable, so a cached descriptor never goes stale). */
const MAX_OPEN_HANDLES = 256;
/**
 * Sizes of blobs this store wrote are remembered this long, so the metadata commit that follows a
 * write does not stat the file again. Far below any garbage-collection grace period (hours).
 */
const KNOWN_SIZE_MS = 60_000;
const MAX_KNOWN_SIZES = 10_000;

// Writes and small reads use plain descriptors: fs/promises' FileHandle costs several times more
// main-thread time per call, which a mail burst (one small blob per message) pays thousands of times a
// second, and a cached FileHandle left behind is closed by the garbage collector with a warning.
const fsOpen = (path: string, flags: number, mode: number) =>
  new Promise<number>((resolve, reject) => fs.open(path, flags, mode, (error, fd) => (error ? reject(error) : resolve(fd))));
const fsWrite = (fd: number, buffer: Buffer, length: number): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const from = (offset: number) =>
      fs.write(fd, buffer, offset, length - offset, null, (error, written) => {
        if (error) return reject(error);
        if (offset + written < length) return from(offset + written);
        resolve();
      });
    from(0);
  });
const fsFsync = (fd: number) => new Promise<void>((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
const fsClose = (fd: number) => new Promise<void>((resolve, reject) => fs.close(fd, (error) => (error ? reject(error) : resolve())));
const fsRead = (fd: number, buffer: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => fs.read(fd, buffer, offset, length, position, (error, n) => (error ? reject(error) : resolve(n))));
const fsFstatSize = (fd: number) => new Promise<number>((resolve, reject) => fs.fstat(fd, (error, st) => (error ? reject(error) : resolve(st.size))));
const fsRename = (from: string, to: string) => new Promise<void>((resolve, reject) => fs.rename(from, to, (error) => (error ? reject(error) : resolve())));

export interface FsBlobStoreOptions {
  /** Verify the SHA-256 of whole-blob reads (default true). */
  verifyReads?: boolean;
  /**
   * A blob whose hash was verified is trusted for this long before a whole read verifies it again
   * (default 10 minutes): hashing every download of a popular file costs more CPU than serving it,
   * while damage on disk is still caught within minutes of any read.
   */
  reverifyAfterMs?: number;
  /**
   * Bytes of small blobs (up to 1 MiB each) kept in memory after a read, least recently used out
   * first (default 64 MiB; 0 turns the cache off). A document or message that many open at once is
   * read from disk once; an entry lives no longer than a verification is trusted.
   */
  cacheBytes?: number;
  /**
   * Blobs up to this size are read with blocking calls (default 64 KiB; 0: never). Cheaper than the
   * thread pool when the files are on a local disk; set 0 for a slow network file system.
   */
  syncReadBytes?: number;
}

/**
 * Content-addressed blobs on a local or shared file system: `<root>/ab/cd/<sha256>`. Writes go to
 * `<root>/.tmp`, are fsync'd, then renamed into place and the directory fsync'd, so a crash leaves
 * either the whole blob or nothing visible (a temp file at most, which sweepTemp() removes).
 */
export class FsBlobStore implements BlobStore {
  private readonly verifyReads: boolean;
  private readonly reverifyAfterMs: number;
  /** Blob id → until when its last verification is trusted. */
  private readonly verified = new Map<string, number>();
  /** Small blobs' open descriptors, least recently used first; `users` counts reads in flight. */
  private readonly handles = new Map<string, { fd: number; size: number; users: number; evicted: boolean }>();
  /** Directories known to exist (the temp folder and the 65,536 fan-out folders at most). */
  private readonly madeDirs = new Set<string>();
  /** Small blobs' contents after a verified read, least recently used first. */
  private readonly contents = new Map<string, { data: Buffer; until: number }>();
  private contentBytes = 0;
  private readonly maxContentBytes: number;
  private readonly syncReadBytes: number;
  /** Blob id → [size, until when] for blobs this store has just written. */
  private readonly knownSizes = new Map<string, [number, number]>();
  /** Backups' holds on this folder (hold(), and delete() setting blobs aside while one is live). */
  private readonly holdsOf: BlobHolds;

  constructor(
    readonly root: string,
    options: FsBlobStoreOptions = {},
  ) {
    this.verifyReads = options.verifyReads ?? true;
    this.reverifyAfterMs = options.reverifyAfterMs ?? 10 * 60_000;
    this.maxContentBytes = options.cacheBytes ?? 64 * 1024 * 1024;
    this.syncReadBytes = options.syncReadBytes ?? 64 * 1024;
    this.holdsOf = new BlobHolds(root, (id) => this.pathOf(id), (id) => this.trashOf(id));
  }

  private cachedContent(id: string): Buffer | null {
    const entry = this.contents.get(id);
    if (!entry) return null;
    this.contents.delete(id);
    if (entry.until < Date.now()) {
      this.contentBytes -= entry.data.length;
      return null;
    }
    this.contents.set(id, entry); // most recently used last
    return entry.data;
  }

  private cacheContent(id: string, data: Buffer): void {
    // Only what a verification vouches for, and never more than the verification is trusted.
    if (this.maxContentBytes <= 0 || this.reverifyAfterMs <= 0 || data.length > this.maxContentBytes / 4) return;
    this.uncache(id);
    this.contents.set(id, { data, until: Date.now() + this.reverifyAfterMs });
    this.contentBytes += data.length;
    for (const [key, entry] of this.contents) {
      if (this.contentBytes <= this.maxContentBytes) break;
      this.contents.delete(key);
      this.contentBytes -= entry.data.length;
    }
  }

  private uncache(id: string): void {
    const entry = this.contents.get(id);
    if (!entry) return;
    this.contents.delete(id);
    this.contentBytes -= entry.data.length;
  }

  private mustVerify(id: string): boolean {
    if (!this.verifyReads) return false;
    const until = this.verified.get(id);
    return until === undefined || until < Date.now();
  }

  private markVerified(id: string): void {
    if (this.reverifyAfterMs <= 0) return;
    if (this.verified.size >= MAX_VERIFIED_ENTRIES) this.verified.clear();
    this.verified.set(id, Date.now() + this.reverifyAfterMs);
  }

  private checkContent(id: string, data: Buffer): void {
    if (!this.mustVerify(id)) return;
    if (blobIdOf(data) !== id) {
      this.verified.delete(id);
      this.forgetHandle(id);
      this.uncache(id);
      throw damagedBlobError();
    }
    this.markVerified(id);
  }

  private pathOf(id: string): string {
    return join(this.root, id.slice(0, 2), id.slice(2, 4), id);
  }

  private trashOf(id: string): string {
    return join(this.root, TRASH, id);
  }

  private checkId(id: string): void {
    checkBlobId(id);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    const first = await mkdir(dir, { recursive: true });
    // A new folder's name lives in its parent: until the parent is synced, a crash can lose the folder
    // and with it a blob already acknowledged (syncDir after the rename syncs only the leaf).
    if (first !== undefined) {
      const parents: string[] = [];
      for (let d = dir; ; d = dirname(d)) {
        parents.push(dirname(d));
        if (d === first || dirname(d) === d) break;
      }
      await Promise.all(parents.map(syncDir));
    }
    this.madeDirs.add(dir);
  }

  async put(source: BlobSource, options: PutBlobOptions = {}): Promise<BlobInfo> {
    const tmpDir = join(this.root, TMP);
    await this.ensureDir(tmpDir);
    const tmp = join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    let size = 0;
    const max = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    let whole = wholeSource(source);
    let stream: AsyncIterable<Uint8Array | string> | null = null;
    let id = '';
    if (!whole) {
      // A small upload (a document, a message) is gathered first: known whole, it is hashed before any
      // file exists, so a copy of bytes just written costs no disk at all, and a new one is one write.
      const gathered = await gatherSmall(
        source as AsyncIterable<Uint8Array | string>,
        WHOLE_WRITE_BYTES,
        max,
        options.signal,
        options.expectedBytes,
        options.freshPieces,
      );
      if ('pieces' in gathered) {
        id = gathered.id;
        if (options.expectedId !== undefined && options.expectedId !== id) throw new InvalidInputError('content does not match its announced digest');
        // Bytes stored a moment ago (a client saving the same file again): never copied together at all.
        if (this.holds(id, gathered.size)) return { id, size: gathered.size };
        whole = Buffer.concat(gathered.pieces, gathered.size);
      } else if ('whole' in gathered) {
        whole = gathered.whole;
        id = gathered.id ?? '';
      } else stream = gathered.stream;
    }
    // The id of a blob known whole comes first (a copy of bytes just written then costs nothing); a
    // streamed one's once its last byte is written.
    if (whole) {
      if (whole.length > max) throw new TooLargeError(`more than ${max} bytes`);
      id ||= blobIdOf(whole);
      if (options.expectedId !== undefined && options.expectedId !== id) throw new InvalidInputError('content does not match its announced digest');
      if (this.holds(id, whole.length)) return { id, size: whole.length };
    }
    // A blob given whole is written with O_DSYNC: the one write returns once the bytes are on disk, a
    // trip through libuv's pool fewer than write + fsync (a streamed blob syncs once, at the end).
    const flags = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | (whole ? constants.O_DSYNC : 0);
    const create = () => fsOpen(tmp, flags, 0o600);
    const fd = await create().catch(async (error: NodeJS.ErrnoException) => {
      // The temp folder was removed behind our back (an operator cleaning up): make it again, once.
      if (error.code !== 'ENOENT') throw error;
      this.madeDirs.clear();
      await this.ensureDir(tmpDir);
      return create();
    });
    let closed = false;
    try {
      if (whole) {
        size = whole.length;
        if (size > 0) await fsWrite(fd, whole, size);
      } else {
        const hash = createBlobHash();
        // One reused buffer gathers the small pieces a socket delivers into large writes, so a long
        // upload neither makes a syscall per piece nor leaves a trail of garbage buffers behind it.
        const buffer = Buffer.allocUnsafe(WRITE_CHUNK);
        let fill = 0;
        const flush = async () => {
          if (fill === 0) return;
          hash.update(buffer.subarray(0, fill));
          await fsWrite(fd, buffer, fill);
          fill = 0;
        };
        for await (const piece of stream!) {
          if (options.signal?.aborted) throw new InvalidInputError('upload aborted');
          const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
          size += chunk.length;
          if (size > max) throw new TooLargeError(`more than ${max} bytes`);
          // A whole piece that fits no fuller buffer goes out as it is (one write, no copy).
          if (fill === 0 && chunk.length >= WRITE_CHUNK) {
            hash.update(chunk);
            await fsWrite(fd, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length), chunk.length);
            continue;
          }
          for (let offset = 0; offset < chunk.length; ) {
            const n = Math.min(chunk.length - offset, WRITE_CHUNK - fill);
            buffer.set(chunk.subarray(offset, offset + n), fill);
            fill += n;
            offset += n;
            if (fill === WRITE_CHUNK) await flush();
          }
        }
        await flush();
        id = hash.digest('hex');
      }
      if (options.signal?.aborted) throw new InvalidInputError('upload aborted');
      if (options.expectedId !== undefined && options.expectedId !== id) {
        throw new InvalidInputError('content does not match its announced digest');
      }
      if (this.holds(id, size)) {
        // The same bytes are already stored and trusted: no flush, no rename (a re-upload costs no sync).
        closed = true;
        void fsClose(fd).then(() => unlink(tmp)).catch(() => undefined);
        return { id, size };
      }
      if (!whole || size === 0) await fsFsync(fd);
      closed = true;
      // Nothing waits for close: the bytes are durable, and Linux reports no write errors at close.
      void fsClose(fd).catch(() => undefined);
      const dir = join(this.root, id.slice(0, 2), id.slice(2, 4));
      await this.ensureDir(dir);
      // rename() atomically replaces an existing copy of the same content, which also heals a damaged one.
      await fsRename(tmp, this.pathOf(id)).catch(async (error: NodeJS.ErrnoException) => {
        // The folder was removed behind our back (an operator cleaning up): make it again, once.
        if (error.code !== 'ENOENT') throw error;
        this.madeDirs.delete(dir);
        await this.ensureDir(dir);
        await fsRename(tmp, this.pathOf(id));
      });
      await syncDir(dir);
      this.forgetHandle(id);
      this.rememberSize(id, size);
      // The bytes just hashed are kept for the reads that follow: a message is most often read seconds
      // after it arrives (the client that was IDLE fetches it), a document right after its upload. The
      // file itself is not marked verified: once the copy in memory goes, the first read checks it.
      if (whole) this.cacheContent(id, whole);
      return { id, size };
    } catch (error) {
      if (!closed) await fsClose(fd).catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      if (error instanceof PalabreError) throw error;
      const code = (error as { code?: string }).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new UnavailableError('blob store is full', { cause: error, retryable: false });
      throw error;
    }
  }

  /**
   * Whether this store wrote exactly this blob within the last minute: writing the same bytes again
   * would change nothing on disk. Only that: the file's time is then recent, so no garbage collection
   * (whose grace period is far longer) can remove it before the caller's metadata refers to it, as it
   * could an older file that a rewrite would have made young again.
   */
  private holds(id: string, size: number): boolean {
    const known = this.knownSizes.get(id);
    return known !== undefined && known[1] > Date.now() && known[0] === size;
  }

  private rememberSize(id: string, size: number): void {
    if (this.knownSizes.size >= MAX_KNOWN_SIZES) {
      for (const key of this.knownSizes.keys()) {
        this.knownSizes.delete(key);
        if (this.knownSizes.size < MAX_KNOWN_SIZES / 2) break;
      }
    }
    this.knownSizes.delete(id);
    this.knownSizes.set(id, [size, Date.now() + KNOWN_SIZE_MS]);
  }

  /**
   * A small blob's whole content through a cached descriptor: one positional read instead of open,
   * stat, read and close (four trips through libuv's pool per download). Null for large blobs.
   */
  private async readSmall(id: string): Promise<Buffer | null> {
    let entry = this.handles.get(id);
    if (entry) {
      this.handles.delete(id); // re-insert: most recently used last
      this.handles.set(id, entry);
    } else {
      const opened = this.syncReadBytes > 0 ? this.openSync(id) : await this.openAsync(id);
      if (opened === null || Buffer.isBuffer(opened)) return opened;
      const raced = this.handles.get(id);
      if (raced) {
        void fsClose(opened.fd).catch(() => undefined);
        entry = raced;
      } else {
        entry = { ...opened, users: 0, evicted: false };
        this.handles.set(id, entry);
        this.evictHandles();
      }
    }
    entry.users++;
    try {
      const data = Buffer.allocUnsafe(entry.size);
      for (let at = 0; at < entry.size; ) {
        const n = await fsRead(entry.fd, data, at, entry.size - at, at);
        if (n === 0) throw new PalabreError('internal', 'stored blob is shorter than its size');
        at += n;
      }
      return data;
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) await fsClose(entry.fd).catch(() => undefined);
    }
  }

  /**
   * Open a blob with blocking calls: one of a few KiB (a mail message, a calendar object) is read at
   * once, which from the page cache takes microseconds where three trips through libuv's pool (open,
   * fstat, read) cost a client's request a third of a millisecond. A larger small blob comes back
   * open, for the descriptor cache; null (closed) for a large one.
   */
  private openSync(id: string): Buffer | { fd: number; size: number } | null {
    let fd: number;
    try {
      fd = fs.openSync(this.pathOf(id), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('no such blob');
      throw error;
    }
    let keep = false;
    try {
      const size = fs.fstatSync(fd).size;
      if (size > WHOLE_READ_BYTES) return null;
      if (size > this.syncReadBytes) {
        keep = true;
        return { fd, size };
      }
      const data = Buffer.allocUnsafe(size);
      for (let at = 0; at < size; ) {
        const n = fs.readSync(fd, data, at, size - at, at);
        if (n === 0) throw new PalabreError('internal', 'stored blob is shorter than its size');
        at += n;
      }
      return data;
    } finally {
      if (!keep) fs.closeSync(fd);
    }
  }

  /** The thread pool's way to open a small blob for the descriptor cache; null (closed) for a large one. */
  private async openAsync(id: string): Promise<{ fd: number; size: number } | null> {
    const fd = await fsOpen(this.pathOf(id), constants.O_RDONLY, 0).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new NotFoundError('no such blob');
      throw error;
    });
    let size: number;
    try {
      size = await fsFstatSize(fd);
    } catch (error) {
      await fsClose(fd).catch(() => undefined);
      throw error;
    }
    if (size <= WHOLE_READ_BYTES) return { fd, size };
    await fsClose(fd).catch(() => undefined);
    return null;
  }

  private evictHandles(): void {
    for (const [id, entry] of this.handles) {
      if (this.handles.size <= MAX_OPEN_HANDLES) break;
      this.handles.delete(id);
      entry.evicted = true;
      if (entry.users === 0) void fsClose(entry.fd).catch(() => undefined);
    }
  }

  private forgetHandle(id: string): void {
    const entry = this.handles.get(id);
    if (!entry) return;
    this.handles.delete(id);
    entry.evicted = true;
    if (entry.users === 0) void fsClose(entry.fd).catch(() => undefined);
  }

  async get(id: string, range?: ByteRange): Promise<Readable> {
    try {
      return await this.getLive(id, range);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      // Trashed by garbage collection and maybe referred to again: readable until purged.
      const handle = await open(this.trashOf(id), 'r').catch(() => {
        throw error;
      });
      if (range) return handle.createReadStream({ start: range.start, end: range.end, highWaterMark: READ_CHUNK });
      const stream = handle.createReadStream({ highWaterMark: READ_CHUNK });
      return this.verifyReads ? verifyBlobStream(id, stream) : stream;
    }
  }

  private async getLive(id: string, range?: ByteRange): Promise<Readable> {
    this.checkId(id);
    if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start)) {
      throw new InvalidInputError('invalid byte range');
    }
    const cached = this.cachedContent(id);
    const small = cached ?? (await this.readSmall(id));
    if (small) {
      if (!cached) {
        this.checkContent(id, small);
        this.cacheContent(id, small);
      }
      return Readable.from([range ? small.subarray(range.start, range.end + 1) : small], { objectMode: false });
    }
    const handle = await open(this.pathOf(id), 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new NotFoundError('no such blob');
      throw error;
    });
    if (range) return handle.createReadStream({ start: range.start, end: range.end, highWaterMark: READ_CHUNK });
    const stream = handle.createReadStream({ highWaterMark: READ_CHUNK });
    if (!this.mustVerify(id)) return stream;
    return verifyBlobStream(id, stream, () => this.markVerified(id));
  }

  async read(id: string, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
    try {
      return await this.readLive(id, maxBytes);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      const s = await stat(this.trashOf(id)).catch(() => null);
      if (!s) throw error;
      if (s.size > maxBytes) throw new TooLargeError(`blob larger than ${maxBytes} bytes`);
      const data = await readFile(this.trashOf(id)).catch(() => {
        throw error;
      });
      if (this.verifyReads && blobIdOf(data) !== id) throw damagedBlobError();
      return data;
    }
  }

  private async readLive(id: string, maxBytes: number): Promise<Buffer> {
    this.checkId(id);
    const cached = this.cachedContent(id);
    if (cached) {
      if (cached.length > maxBytes) throw new TooLargeError(`blob larger than ${maxBytes} bytes`);
      return cached;
    }
    const small = await this.readSmall(id);
    if (small && small.length > maxBytes) throw new TooLargeError(`blob larger than ${maxBytes} bytes`);
    let data = small;
    if (!data) {
      const info = await this.stat(id);
      if (!info) throw new NotFoundError('no such blob');
      if (info.size > maxBytes) throw new TooLargeError(`blob larger than ${maxBytes} bytes`);
      data = await readFile(this.pathOf(id));
    }
    this.checkContent(id, data);
    if (small) this.cacheContent(id, data);
    return data;
  }

  async stat(id: string): Promise<BlobInfo | null> {
    this.checkId(id);
    const known = this.knownSizes.get(id);
    if (known && known[1] > Date.now()) return { id, size: known[0] };
    const s = (await stat(this.pathOf(id)).catch(() => null)) ?? (await stat(this.trashOf(id)).catch(() => null));
    return s ? { id, size: s.size } : null;
  }

  async delete(id: string): Promise<void> {
    this.checkId(id);
    this.forgetHandle(id);
    this.uncache(id);
    this.knownSizes.delete(id);
    // A backup copying this folder may still need the bytes (its database snapshot may predate the
    // delete): while one holds the folder, the blob is set aside for it instead of destroyed.
    if (await this.holdsOf.live()) {
      await this.holdsOf.park(id, this.trashOf(id));
      return this.holdsOf.park(id);
    }
    await unlinkIfThere(this.pathOf(id));
    await unlinkIfThere(this.trashOf(id));
  }

  async trash(id: string): Promise<void> {
    this.checkId(id);
    this.forgetHandle(id);
    this.uncache(id);
    this.knownSizes.delete(id);
    await this.ensureDir(join(this.root, TRASH));
    // rename() is atomic: a writer storing these bytes from now on makes a new live file (kept), and
    // one that stored them before left them in the inode that moves here (found again by restore()).
    const moved = await fsRename(this.pathOf(id), this.trashOf(id)).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false;
        throw error;
      },
    );
    if (!moved) return;
    const now = new Date();
    await utimes(this.trashOf(id), now, now);
  }

  async restore(id: string): Promise<void> {
    this.checkId(id);
    // A live copy written since (the same bytes) is as good; the trashed one is then not needed.
    if (await stat(this.pathOf(id)).catch(() => null)) return unlinkIfThere(this.trashOf(id));
    await this.ensureDir(join(this.root, id.slice(0, 2), id.slice(2, 4)));
    await fsRename(this.trashOf(id), this.pathOf(id)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async purge(id: string): Promise<void> {
    this.checkId(id);
    if (await this.holdsOf.live()) return this.holdsOf.park(id, this.trashOf(id));
    await unlinkIfThere(this.trashOf(id));
  }

  async *listTrash(): AsyncIterable<BlobEntry> {
    for (const id of await readdir(join(this.root, TRASH)).catch(() => [] as string[])) {
      if (!isBlobId(id)) continue;
      const s = await stat(this.trashOf(id)).catch(() => null);
      if (s) yield { id, size: s.size, modifiedAt: s.mtime };
    }
  }

  /**
   * Keep every blob of this folder readable (through the hold) until release(), even if it is deleted
   * meanwhile, by this or any other process sharing the folder: what a backup takes before its
   * database snapshot, so that every blob the snapshot refers to can still be copied.
   */
  hold(owner: string): Promise<BlobHold> {
    return this.holdsOf.hold(owner);
  }

  /** The folder is there, a folder, readable and writable (the system error if not; prepare() makes a fresh one). */
  async probe(): Promise<void> {
    const s = await stat(this.root);
    if (!s.isDirectory()) throw new UnavailableError(`${this.root} is not a folder`);
    await access(this.root, constants.R_OK | constants.W_OK | constants.X_OK);
  }

  /** Make the folder of a fresh store, so that only one lost later fails probe(). */
  async prepare(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  /** Let go of cached descriptors and contents (the store stays usable: it opens files again as needed). */
  async close(): Promise<void> {
    const entries = [...this.handles.values()];
    this.handles.clear();
    for (const entry of entries) {
      entry.evicted = true;
      if (entry.users === 0) await fsClose(entry.fd).catch(() => undefined);
    }
    this.contents.clear();
    this.contentBytes = 0;
  }

  async *list(): AsyncIterable<BlobEntry> {
    for (const a of await readdir(this.root).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(a)) continue;
      for (const b of await readdir(join(this.root, a)).catch(() => [] as string[])) {
        if (!/^[0-9a-f]{2}$/.test(b)) continue;
        for (const id of await readdir(join(this.root, a, b)).catch(() => [] as string[])) {
          if (!isBlobId(id)) continue;
          const s = await stat(join(this.root, a, b, id)).catch(() => null);
          if (s) yield { id, size: s.size, modifiedAt: s.mtime };
        }
      }
    }
  }

  /** Remove temp files left by crashed writers (older than `olderThanMs`). Returns how many. */
  async sweepTemp(olderThanMs = 60 * 60_000, now = Date.now()): Promise<number> {
    const dir = join(this.root, TMP);
    let removed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, name);
      const s = await stat(path).catch(() => null);
      if (s && now - s.mtimeMs > olderThanMs) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fd = await fsOpen(dir, constants.O_RDONLY, 0);
  try {
    await fsFsync(fd);
  } finally {
    void fsClose(fd).catch(() => undefined);
  }
}

export function createFsBlobStore(root: string, options?: FsBlobStoreOptions): FsBlobStore {
  return new FsBlobStore(root, options);
}

async function unlinkIfThere(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
