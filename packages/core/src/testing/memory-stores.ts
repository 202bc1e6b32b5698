import { blobIdOf, checkBlobId } from '../blob-id.js';
import { damagedBlobError } from '../blob-source.js';
import { Readable } from 'node:stream';
import { auditRow } from '../audit-rules.js';
import { InvalidInputError, NotFoundError, PalabreError, TooLargeError } from '../errors.js';
import type { AuditEvent, AuditLog, AuditQuery } from '../ports/audit-log.js';
import type { BlobEntry, BlobInfo, BlobSource, BlobStore, ByteRange, PutBlobOptions } from '../ports/blob-store.js';
import type { ChangeKind, ChangeLog, ChangeSet } from '../ports/change-log.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { FailureWindow, ThrottleStore } from '../ports/throttle-store.js';
import { checkUsageDelta, usageOf, type AccountUsage, type UsageKind, type UsageStore } from '../ports/usage-store.js';

export class MemoryChangeLog implements ChangeLog {
  private readonly heads = new Map<string, { seq: number; floor: number }>();
  private readonly entries = new Map<string, Map<string, { seq: number; kind: ChangeKind }>>();

  private check(collection: string): void {
    if (typeof collection !== 'string' || collection.length === 0 || collection.length > 300) {
      throw new InvalidInputError('invalid change-log collection id');
    }
  }

  async current(collection: string): Promise<number> {
    this.check(collection);
    return this.heads.get(collection)?.seq ?? 0;
  }

  async record(collection: string, changes: readonly { item: string; kind: ChangeKind }[]): Promise<number> {
    this.check(collection);
    for (const c of changes) {
      if (typeof c.item !== 'string' || c.item.length === 0 || c.item.length > 1024) throw new InvalidInputError('invalid change item');
      if (c.kind !== 'put' && c.kind !== 'delete') throw new InvalidInputError('invalid change kind');
    }
    const head = this.heads.get(collection) ?? { seq: 0, floor: 0 };
    head.seq += 1;
    this.heads.set(collection, head);
    let items = this.entries.get(collection);
    if (!items) this.entries.set(collection, (items = new Map()));
    for (const c of changes) items.set(c.item, { seq: head.seq, kind: c.kind });
    return head.seq;
  }

  async since(collection: string, seq: number, limit = 10_000): Promise<ChangeSet | 'expired'> {
    this.check(collection);
    if (!Number.isSafeInteger(seq) || seq < 0) return 'expired';
    const head = this.heads.get(collection) ?? { seq: 0, floor: 0 };
    if (seq > head.seq || seq < head.floor) return 'expired';
    const all = [...(this.entries.get(collection) ?? new Map()).entries()]
      .filter(([, e]) => e.seq > seq)
      .map(([item, e]) => ({ item, seq: e.seq, kind: e.kind }))
      .sort((a, b) => a.seq - b.seq || (a.item < b.item ? -1 : a.item > b.item ? 1 : 0));
    const cap = Math.max(1, Math.min(limit, 100_000));
    if (all.length <= cap) return { seq: head.seq, changes: all };
    const lastSeq = all[cap - 1]!.seq;
    let kept = all.slice(0, cap);
    if (all[cap]!.seq === lastSeq) {
      kept = kept.filter((c) => c.seq < lastSeq);
      if (kept.length === 0) kept = all.filter((c) => c.seq === lastSeq);
    }
    return { seq: kept[kept.length - 1]!.seq, changes: kept };
  }

  async prune(collection: string, seq: number): Promise<void> {
    this.check(collection);
    const items = this.entries.get(collection);
    if (items) for (const [item, e] of [...items]) if (e.seq <= seq) items.delete(item);
    const head = this.heads.get(collection);
    if (head && head.floor < seq) head.floor = seq;
  }

  async drop(collection: string): Promise<void> {
    this.check(collection);
    this.heads.delete(collection);
    this.entries.delete(collection);
  }

  async pruneTombstones(keep: number): Promise<number> {
    if (!Number.isSafeInteger(keep) || keep < 0) throw new InvalidInputError('keep is a whole number');
    let pruned = 0;
    for (const [collection, items] of this.entries) {
      const deletes = [...items.values()].filter((e) => e.kind === 'delete').map((e) => e.seq).sort((a, b) => a - b);
      if (deletes.length <= keep) continue;
      await this.prune(collection, deletes[deletes.length - keep - 1]!);
      pruned++;
    }
    return pruned;
  }
}

export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];

  constructor(private readonly clock: Clock = systemClock) {}

  async record(event: Omit<AuditEvent, 'at'> & { at?: Date }): Promise<void> {
    this.events.push(auditRow(event, this.clock));
  }

  async list(query: AuditQuery = {}): Promise<AuditEvent[]> {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    return this.events
      .map((e, i) => ({ e, i }))
      .filter(({ e }) => (!query.since || e.at >= query.since) && (!query.type || e.type === query.type) && (!query.actor || e.actor === query.actor))
      .sort((a, b) => b.e.at.getTime() - a.e.at.getTime() || b.i - a.i)
      .slice(0, limit)
      .map(({ e }) => ({ ...e }));
  }
}

export class MemoryThrottleStore implements ThrottleStore {
  private readonly windows = new Map<string, { failures: number; first: number; last: number }>();
  private readonly devices = new Map<string, number>();

  private check(key: string): void {
    if (typeof key !== 'string' || key.length === 0 || key.length > 330) throw new InvalidInputError('invalid throttle key');
  }

  async recordFailure(key: string, now: Date, windowMs: number): Promise<FailureWindow> {
    this.check(key);
    const t = now.getTime();
    const w = this.windows.get(key);
    const next = !w || w.last < t - windowMs ? { failures: 1, first: t, last: t } : { failures: w.failures + 1, first: w.first, last: t };
    this.windows.set(key, next);
    return { failures: next.failures, firstFailureAt: new Date(next.first), lastFailureAt: new Date(next.last) };
  }

  async peek(key: string, now: Date, windowMs: number): Promise<FailureWindow | null> {
    this.check(key);
    const w = this.windows.get(key);
    if (!w || w.last < now.getTime() - windowMs) return null;
    return { failures: w.failures, firstFailureAt: new Date(w.first), lastFailureAt: new Date(w.last) };
  }

  async reset(key: string): Promise<void> {
    this.check(key);
    this.windows.delete(key);
  }

  async rememberDevice(key: string, now: Date): Promise<void> {
    this.check(key);
    this.devices.set(key, Math.max(this.devices.get(key) ?? 0, now.getTime()));
  }

  async isKnownDevice(key: string, now: Date, maxAgeMs: number): Promise<boolean> {
    this.check(key);
    const last = this.devices.get(key);
    return last !== undefined && last >= now.getTime() - maxAgeMs;
  }
}

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

export class MemoryUsageStore implements UsageStore {
  private readonly usage = new Map<string, Record<UsageKind | 'messages', number>>();

  async get(accountId: string): Promise<AccountUsage> {
    const u = this.usage.get(accountId);
    return usageOf(u?.drive ?? 0, u?.mail ?? 0, u?.calendar ?? 0, u?.contacts ?? 0, u?.messages ?? 0);
  }

  async add(accountId: string, kind: UsageKind, delta: number, messages = 0): Promise<void> {
    checkUsageDelta(kind, delta, messages);
    const u = this.usage.get(accountId) ?? { drive: 0, mail: 0, calendar: 0, contacts: 0, messages: 0 };
    u[kind] = Math.max(0, u[kind] + delta);
    u.messages = Math.max(0, u.messages + messages);
    this.usage.set(accountId, u);
  }
}
