import { randomUUID } from 'node:crypto';
import { ConflictError, InvalidInputError, NotFoundError } from '../../errors.js';
import {
  FLAG_DELETED,
  FLAG_SEEN,
  applyFlagOperation,
  canonicalKeywords,
  effectiveRights,
  flagsFromBits,
  granteeKey,
  isSpecialUse,
  mergeMailboxKeywords,
  normalizeMailboxName,
  normalizeRights,
  normalizeUidSet,
  missingParents,
  parseFlags,
  sameKeywords,
  searchTextOf,
  sentDateOf,
  uidSetHas,
  type ParsedFlags,
} from '../../mail/mail-rules.js';
import {
  DEDUPE_WINDOW_MS,
  dedupeSince,
  nextUidValidity,
  pickDeliveryMailbox,
  planDelivery,
  prepareAppends,
  prepareMessage,
  publishChanges,
  publishListChange,
  quotaError,
} from '../../mail/mail-store-shared.js';
import { checkFilter, matchesFilter } from '../../mail-filter.js';
import type { BlobStore } from '../../ports/blob-store.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { DirectoryStore } from '../../directory/directory-store.js';
import type { Logger } from '../../ports/logger.js';
import { silentLogger } from '../../ports/logger.js';
import type { DeliveryResult, DeliveryTarget, MessageToDeliver } from '../../mail/mail-delivery.js';
import {
  DEFAULT_MAILBOXES,
  MAILBOX_DELIMITER,
  type AclEntry,
  type AclGrantee,
  type AppendManyResult,
  type AppendResult,
  type CopyResult,
  type ExpungeResult,
  type FetchMessagesOptions,
  type FlagChange,
  type FlagOperation,
  type MailQuota,
  type MailStore,
  type Mailbox,
  type MailboxChanges,
  type MailboxCounts,
  type MessageFilter,
  type MessageRecord,
  type MoveResult,
  type NewMessage,
  type SearchUidsResult,
  type SharedMailbox,
  type SpecialUse,
  type StoreFlagsOptions,
  type StoreFlagsResult,
  type UidRange,
  type UidSet,
} from '../../mail/mail-store.js';
import type { Notifier } from '../../ports/notifier.js';
import type { UsageStore } from '../../usage/usage-store.js';

interface Box {
  id: string;
  accountId: string;
  name: string;
  specialUse: SpecialUse | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  keywords: readonly string[];
  createdAt: Date;
  recentUid: number;
  messages: Msg[];
  tombstones: { uid: number; modseq: number }[];
  /** Tombstones at or below this MODSEQ were pruned. */
  tombstoneFloor: number;
  /** viewer → UIDs that viewer has seen (viewers other than the owner). */
  seen: Map<string, Set<number>>;
  acl: Map<string, AclEntry>;
}

interface Msg {
  uid: number;
  modseq: number;
  bits: number;
  keywords: string[];
  size: number;
  internalDate: Date;
  savedAt: Date;
  blobId: string;
  headerBytes: number;
  header: Buffer | null;
  analysis: string;
}

export interface MemoryMailStoreOptions {
  directory: DirectoryStore;
  blobs: BlobStore;
  usage: UsageStore;
  notifier?: Notifier;
  clock?: Clock;
  logger?: Logger;
  /** Expunge tombstones kept per mailbox (default 100,000). */
  maxTombstones?: number;
}

/**
 * MailStore in memory for tests and embedders. Operations run one at a time; each prepares what it
 * needs (blob checks, quota) and then changes the state synchronously, so it is all or nothing.
 */
export class MemoryMailStore implements MailStore {
  private readonly boxes = new Map<string, Box>();
  private readonly subscriptions = new Map<string, Set<string>>();
  private readonly lastUidValidity = new Map<string, number>();
  private readonly deliveries = new Map<string, { result: DeliveryResult; at: number }>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly options: MemoryMailStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'mail-store' });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private view(b: Box): Mailbox {
    return {
      id: b.id,
      accountId: b.accountId,
      name: b.name,
      specialUse: b.specialUse,
      uidValidity: b.uidValidity,
      uidNext: b.uidNext,
      highestModseq: b.highestModseq,
      keywords: [...b.keywords],
      createdAt: new Date(b.createdAt),
    };
  }

  private box(id: string): Box {
    const b = this.boxes.get(id);
    if (!b) throw new NotFoundError('no such mailbox');
    return b;
  }

  private ofAccount(accountId: string): Box[] {
    return [...this.boxes.values()].filter((b) => b.accountId === accountId);
  }

  private async requireAccount(accountId: string): Promise<void> {
    await this.options.directory.getAccount(accountId);
  }

  private newBox(accountId: string, name: string, specialUse: SpecialUse | null): Box {
    const uidValidity = nextUidValidity(this.lastUidValidity.get(accountId) ?? 0, this.clock.now().getTime());
    this.lastUidValidity.set(accountId, uidValidity);
    const b: Box = {
      id: randomUUID(),
      accountId,
      name,
      specialUse,
      uidValidity,
      uidNext: 1,
      highestModseq: 1,
      keywords: [],
      createdAt: this.clock.now(),
      recentUid: 1,
      messages: [],
      tombstones: [],
      tombstoneFloor: 0,
      seen: new Map(),
      acl: new Map(),
    };
    this.boxes.set(b.id, b);
    return b;
  }

  private flagsFor(b: Box, m: Msg, viewer: string): string[] {
    let bits = m.bits;
    if (viewer !== b.accountId) bits = (bits & ~FLAG_SEEN) | (b.seen.get(viewer)?.has(m.uid) ? FLAG_SEEN : 0);
    return [...flagsFromBits(bits), ...m.keywords];
  }

  private async checkQuota(accountId: string, adding: number, messages: number): Promise<void> {
    if (adding <= 0 && messages <= 0) return;
    const account = await this.options.directory.getAccount(accountId);
    const used = await this.options.usage.get(accountId);
    if (account.quotaBytes !== null && adding > 0 && used.total + adding > account.quotaBytes) throw quotaError(accountId, 'STORAGE');
    if (account.quotaMessages !== null && messages > 0 && used.messages + messages > account.quotaMessages) throw quotaError(accountId, 'MESSAGE');
  }

  private async checkMailboxLimit(accountId: string, adding: number): Promise<void> {
    if (adding <= 0) return;
    const account = await this.options.directory.getAccount(accountId);
    if (account.quotaMailboxes !== null && this.ofAccount(accountId).length + adding > account.quotaMailboxes) throw quotaError(accountId, 'MAILBOX');
  }

  // ------------------------------------------------------------ mailboxes

  async ensureMailboxes(accountId: string): Promise<Mailbox[]> {
    return this.exclusive(async () => {
      await this.requireAccount(accountId);
      this.ensureDefaults(accountId);
      return this.ofAccount(accountId).map((b) => this.view(b));
    });
  }

  private ensureDefaults(accountId: string): void {
    const have = new Set(this.ofAccount(accountId).map((b) => b.name));
    const subs = this.subscriptions.get(accountId) ?? new Set<string>();
    for (const d of DEFAULT_MAILBOXES) {
      if (have.has(d.name)) continue;
      this.newBox(accountId, d.name, d.specialUse);
      subs.add(d.name);
    }
    this.subscriptions.set(accountId, subs);
  }

  async listMailboxes(accountId: string): Promise<Mailbox[]> {
    return this.ofAccount(accountId).map((b) => this.view(b));
  }

  async getMailbox(accountId: string, name: string): Promise<Mailbox | null> {
    let normal: string;
    try {
      normal = normalizeMailboxName(name);
    } catch {
      return null;
    }
    const b = this.ofAccount(accountId).find((x) => x.name === normal);
    return b ? this.view(b) : null;
  }

  async getMailboxById(id: string): Promise<Mailbox> {
    return this.view(this.box(id));
  }

  async createMailbox(accountId: string, name: string, options: { specialUse?: SpecialUse | null } = {}): Promise<Mailbox> {
    const normal = normalizeMailboxName(name);
    const specialUse = options.specialUse ?? null;
    if (specialUse !== null && !isSpecialUse(specialUse)) throw new InvalidInputError('unknown special use');
    return this.exclusive(async () => {
      await this.requireAccount(accountId);
      const names = new Set(this.ofAccount(accountId).map((b) => b.name));
      if (names.has(normal)) throw new ConflictError('mailbox already exists');
      const parents = missingParents(normal, names);
      await this.checkMailboxLimit(accountId, 1 + parents.length);
      for (const parent of parents) this.newBox(accountId, parent, null);
      const created = this.view(this.newBox(accountId, normal, specialUse));
      publishListChange(this.options.notifier, this.log, accountId);
      return created;
    });
  }

  async renameMailbox(mailboxId: string, newName: string): Promise<Mailbox> {
    const target = normalizeMailboxName(newName);
    return this.exclusive(async () => {
      const b = this.box(mailboxId);
      const boxes = this.ofAccount(b.accountId);
      const names = new Set(boxes.map((x) => x.name));
      if (names.has(target)) throw new ConflictError('mailbox already exists');
      if (target === b.name || target.startsWith(b.name + MAILBOX_DELIMITER)) throw new InvalidInputError('cannot rename a mailbox into itself');
      const parents = missingParents(target, names);
      await this.checkMailboxLimit(b.accountId, (b.name === 'INBOX' ? 1 : 0) + parents.length);
      const changed = new Map<string, { modseq: number }>();
      let result: Box;
      if (b.name === 'INBOX') {
        for (const parent of parents) this.newBox(b.accountId, parent, null);
        result = this.newBox(b.accountId, target, null);
        const moved = b.messages;
        b.messages = [];
        b.highestModseq++;
        for (const m of moved) {
          b.tombstones.push({ uid: m.uid, modseq: b.highestModseq });
          result.messages.push({ ...m, uid: result.uidNext++, modseq: result.highestModseq, savedAt: this.clock.now() });
        }
        for (const [viewer, uids] of b.seen) {
          const mapped = new Set<number>();
          moved.forEach((m, i) => uids.has(m.uid) && mapped.add(i + 1));
          result.seen.set(viewer, mapped);
        }
        b.seen = new Map();
        result.keywords = [...b.keywords];
        changed.set(b.id, { modseq: b.highestModseq });
      } else {
        for (const parent of parents) this.newBox(b.accountId, parent, null);
        const prefix = b.name + MAILBOX_DELIMITER;
        for (const child of boxes) if (child.name.startsWith(prefix)) child.name = target + child.name.slice(b.name.length);
        b.name = target;
        result = b;
      }
      publishChanges(this.options.notifier, this.log, changed);
      publishListChange(this.options.notifier, this.log, b.accountId);
      return this.view(result);
    });
  }

  async deleteMailbox(mailboxId: string): Promise<void> {
    await this.exclusive(async () => {
      const b = this.box(mailboxId);
      if (b.name === 'INBOX') throw new InvalidInputError('INBOX cannot be deleted');
      if (this.ofAccount(b.accountId).some((x) => x.name.startsWith(b.name + MAILBOX_DELIMITER))) {
        throw new ConflictError('mailbox has children', { detail: { reason: 'has-children' } });
      }
      const bytes = b.messages.reduce((n, m) => n + m.size, 0);
      this.boxes.delete(b.id);
      await this.options.usage.add(b.accountId, 'mail', -bytes, -b.messages.length);
      publishChanges(this.options.notifier, this.log, [[b.id, { deleted: true }]]);
      publishListChange(this.options.notifier, this.log, b.accountId);
    });
  }

  async subscribe(accountId: string, name: string): Promise<void> {
    const normal = normalizeMailboxName(name);
    const subs = this.subscriptions.get(accountId) ?? new Set<string>();
    subs.add(normal);
    this.subscriptions.set(accountId, subs);
    publishListChange(this.options.notifier, this.log, accountId);
  }

  async unsubscribe(accountId: string, name: string): Promise<void> {
    let normal: string;
    try {
      normal = normalizeMailboxName(name);
    } catch {
      return;
    }
    this.subscriptions.get(accountId)?.delete(normal);
    publishListChange(this.options.notifier, this.log, accountId);
  }

  async listSubscriptions(accountId: string): Promise<string[]> {
    return [...(this.subscriptions.get(accountId) ?? [])];
  }

  async firstUnseenUid(mailboxId: string, viewer: string): Promise<number | null> {
    return (await this.counts(mailboxId, viewer)).firstUnseenUid;
  }

  async counts(mailboxId: string, viewer: string): Promise<MailboxCounts> {
    const b = this.box(mailboxId);
    let unseen = 0;
    let deleted = 0;
    let deletedSize = 0;
    let size = 0;
    let firstUnseenUid: number | null = null;
    for (const m of b.messages) {
      const seen = viewer === b.accountId ? (m.bits & FLAG_SEEN) !== 0 : Boolean(b.seen.get(viewer)?.has(m.uid));
      if (!seen) {
        unseen++;
        firstUnseenUid ??= m.uid;
      }
      if (m.bits & FLAG_DELETED) {
        deleted++;
        deletedSize += m.size;
      }
      size += m.size;
    }
    const recent = b.messages.filter((m) => m.uid >= b.recentUid).length;
    return { messages: b.messages.length, unseen, deleted, deletedSize, size, firstUnseenUid, recent };
  }

  async listUids(mailboxId: string): Promise<number[]> {
    return this.box(mailboxId).messages.map((m) => m.uid);
  }

  // ------------------------------------------------------------ messages

  async append(mailboxId: string, message: NewMessage, viewer?: string): Promise<AppendResult> {
    const r = await this.appendMany(mailboxId, [message], viewer);
    return { mailboxId: r.mailboxId, uidValidity: r.uidValidity, uid: r.uids[0]!, modseq: r.modseq };
  }

  async appendMany(mailboxId: string, messages: readonly NewMessage[], viewer?: string): Promise<AppendManyResult> {
    return this.exclusive(async () => {
      const b = this.box(mailboxId);
      const prepared = await prepareAppends(this.options.blobs, messages);
      await this.checkQuota(b.accountId, prepared.totalBytes, prepared.items.length);
      const uids: number[] = [];
      for (const { message, header, flags } of prepared.items) {
        const keywords = mergeMailboxKeywords(b.keywords, flags.keywords);
        uids.push(this.insert(b, message, header, flags, keywords, viewer ?? b.accountId, message.internalDate));
      }
      await this.options.usage.add(b.accountId, 'mail', prepared.totalBytes, prepared.items.length);
      publishChanges(this.options.notifier, this.log, [[b.id, { modseq: b.highestModseq }]]);
      return { mailboxId: b.id, uidValidity: b.uidValidity, uids, modseq: b.highestModseq };
    });
  }

  /** Synchronous: add one message with the next UID and a fresh MODSEQ. */
  private insert(
    b: Box,
    message: Pick<NewMessage, 'blobId' | 'size' | 'analysis'>,
    header: Buffer | null,
    flags: ParsedFlags,
    keywords: readonly string[],
    viewer: string,
    internalDate: Date,
  ): number {
    b.keywords = keywords;
    b.highestModseq++;
    const uid = b.uidNext++;
    let bits = flags.bits;
    if (viewer !== b.accountId) {
      if (bits & FLAG_SEEN) this.seenSet(b, viewer).add(uid);
      bits &= ~FLAG_SEEN;
    }
    b.messages.push({
      uid,
      modseq: b.highestModseq,
      bits,
      keywords: canonicalKeywords(flags.keywords, keywords),
      size: message.size,
      internalDate: new Date(internalDate),
      savedAt: this.clock.now(),
      blobId: message.blobId,
      headerBytes: message.analysis.headerBytes,
      header,
      analysis: JSON.stringify(message.analysis.data),
    });
    return uid;
  }

  private seenSet(b: Box, viewer: string): Set<number> {
    let s = b.seen.get(viewer);
    if (!s) b.seen.set(viewer, (s = new Set()));
    return s;
  }

  private selected(b: Box, uids: UidSet): Msg[] {
    const ranges = normalizeUidSet(uids);
    return b.messages.filter((m) => uidSetHas(ranges, m.uid));
  }

  async *fetch(mailboxId: string, viewer: string, uids: UidSet, options: FetchMessagesOptions = {}): AsyncIterable<MessageRecord> {
    const b = this.box(mailboxId);
    const since = options.changedSince;
    for (const m of this.selected(b, uids)) {
      if (since !== undefined && m.modseq <= since) continue;
      const data = options.search || options.textContains ? (JSON.parse(m.analysis) as Record<string, unknown>) : null;
      const searchText = data ? searchTextOf(data) : null;
      if (options.textContains && searchText !== null && !searchText.includes(options.textContains)) continue;
      const record: MessageRecord = {
        uid: m.uid,
        modseq: m.modseq,
        flags: this.flagsFor(b, m, viewer),
        size: m.size,
        internalDate: new Date(m.internalDate),
        savedAt: new Date(m.savedAt),
        blobId: m.blobId,
        headerBytes: m.headerBytes,
        ...(options.header ? { header: m.header ? Buffer.from(m.header) : null } : {}),
        ...(options.analysis ? { analysis: JSON.parse(m.analysis) as Record<string, unknown> } : {}),
        ...(options.search ? { searchText, sentDate: sentDateOf(data!) } : {}),
      };
      yield record;
    }
  }

  async searchUids(mailboxId: string, viewer: string, uids: UidSet, filter: MessageFilter, options: { modseq?: boolean } = {}): Promise<SearchUidsResult> {
    checkFilter(filter);
    const b = this.box(mailboxId);
    const found: number[] = [];
    let highestModseq = 0;
    for (const m of this.selected(b, uids)) {
      const data = JSON.parse(m.analysis) as Record<string, unknown>;
      const subject = {
        uid: m.uid,
        modseq: m.modseq,
        flags: this.flagsFor(b, m, viewer),
        size: m.size,
        internalDate: m.internalDate.getTime(),
        savedAt: m.savedAt.getTime(),
        sentDate: sentDateOf(data),
        searchText: searchTextOf(data),
      };
      if (!matchesFilter(filter, subject)) continue;
      found.push(m.uid);
      highestModseq = Math.max(highestModseq, m.modseq);
    }
    return { uids: found, highestModseq: options.modseq ? highestModseq : 0 };
  }

  async storeFlags(
    mailboxId: string,
    viewer: string,
    uids: UidSet,
    operation: FlagOperation,
    flags: readonly string[],
    options: StoreFlagsOptions = {},
  ): Promise<StoreFlagsResult> {
    const change = parseFlags(flags);
    if (!['add', 'remove', 'replace'].includes(operation)) throw new InvalidInputError('invalid flag operation');
    return this.exclusive(async () => {
      const b = this.box(mailboxId);
      const keywords = operation === 'remove' ? b.keywords : mergeMailboxKeywords(b.keywords, change.keywords);
      const canonical: ParsedFlags = { bits: change.bits, keywords: canonicalKeywords(change.keywords, keywords) };
      const modseq = b.highestModseq + 1;
      const updated: FlagChange[] = [];
      const modified: number[] = [];
      const owner = viewer === b.accountId;
      for (const m of this.selected(b, uids)) {
        if (options.unchangedSince !== undefined && m.modseq > options.unchangedSince) {
          modified.push(m.uid);
          continue;
        }
        const seenBefore = owner ? (m.bits & FLAG_SEEN) !== 0 : Boolean(b.seen.get(viewer)?.has(m.uid));
        const current = { bits: (m.bits & ~FLAG_SEEN) | (seenBefore ? FLAG_SEEN : 0), keywords: m.keywords };
        const next = applyFlagOperation(current, operation, canonical);
        if (next.bits === current.bits && sameKeywords(next.keywords, current.keywords)) continue;
        const seenAfter = (next.bits & FLAG_SEEN) !== 0;
        if (owner) m.bits = next.bits;
        else {
          m.bits = (next.bits & ~FLAG_SEEN) | (m.bits & FLAG_SEEN);
          if (seenAfter) this.seenSet(b, viewer).add(m.uid);
          else b.seen.get(viewer)?.delete(m.uid);
        }
        m.keywords = next.keywords;
        m.modseq = modseq;
        updated.push({ uid: m.uid, modseq, flags: this.flagsFor(b, m, viewer) });
      }
      b.keywords = keywords;
      if (updated.length) {
        b.highestModseq = modseq;
        publishChanges(this.options.notifier, this.log, [[b.id, { modseq }]]);
      }
      return { updated, modified, highestModseq: b.highestModseq, keywords: [...b.keywords] };
    });
  }

  async expunge(mailboxId: string, options: { uids?: UidSet } = {}): Promise<ExpungeResult> {
    return this.exclusive(async () => {
      const b = this.box(mailboxId);
      const candidates = options.uids ? this.selected(b, options.uids) : b.messages;
      const gone = candidates.filter((m) => m.bits & FLAG_DELETED);
      await this.remove(b, gone);
      return { expunged: gone.map((m) => m.uid), highestModseq: b.highestModseq };
    });
  }

  private async remove(b: Box, gone: Msg[]): Promise<void> {
    if (gone.length === 0) return;
    const set = new Set(gone);
    b.highestModseq++;
    b.messages = b.messages.filter((m) => !set.has(m));
    for (const m of gone) {
      b.tombstones.push({ uid: m.uid, modseq: b.highestModseq });
      for (const seen of b.seen.values()) seen.delete(m.uid);
    }
    this.pruneTombstones(b);
    await this.options.usage.add(b.accountId, 'mail', -gone.reduce((n, m) => n + m.size, 0), -gone.length);
    publishChanges(this.options.notifier, this.log, [[b.id, { modseq: b.highestModseq }]]);
  }

  private pruneTombstones(b: Box): void {
    const excess = b.tombstones.length - Math.max(1, this.options.maxTombstones ?? 100_000);
    if (excess <= 0) return;
    const ordered = [...b.tombstones].sort((x, y) => x.modseq - y.modseq);
    const floor = ordered[excess - 1]!.modseq;
    b.tombstones = b.tombstones.filter((t) => t.modseq > floor);
    b.tombstoneFloor = Math.max(b.tombstoneFloor, floor);
  }

  async copy(fromMailboxId: string, uids: UidSet, toMailboxId: string, viewer: string): Promise<CopyResult> {
    return this.exclusive(() => this.copyLocked(fromMailboxId, uids, toMailboxId, viewer));
  }

  /** `move`: within one account a move gives back what it takes, so the quota does not refuse it. */
  private async copyLocked(fromMailboxId: string, uids: UidSet, toMailboxId: string, viewer: string, move = false): Promise<CopyResult> {
    const src = this.box(fromMailboxId);
    const dst = this.box(toMailboxId);
    const picked = this.selected(src, uids);
    const bytes = picked.reduce((n, m) => n + m.size, 0);
    if (!move || src.accountId !== dst.accountId) await this.checkQuota(dst.accountId, bytes, picked.length);
    const mapping: [number, number][] = [];
    if (picked.length) {
      const keywords = mergeMailboxKeywords(dst.keywords, picked.flatMap((m) => m.keywords));
      dst.keywords = keywords;
      dst.highestModseq++;
      for (const m of picked) {
        // The viewer's \Seen travels with the copy: in the message if the viewer owns the destination, else per user.
        const seen = viewer === src.accountId ? (m.bits & FLAG_SEEN) !== 0 : Boolean(src.seen.get(viewer)?.has(m.uid));
        const uid = dst.uidNext++;
        const bits = (m.bits & ~FLAG_SEEN) | (seen && viewer === dst.accountId ? FLAG_SEEN : 0);
        if (seen && viewer !== dst.accountId) this.seenSet(dst, viewer).add(uid);
        dst.messages.push({ ...m, uid, bits, keywords: canonicalKeywords(m.keywords, keywords), modseq: dst.highestModseq, savedAt: this.clock.now() });
        mapping.push([m.uid, uid]);
      }
      await this.options.usage.add(dst.accountId, 'mail', bytes, picked.length);
      publishChanges(this.options.notifier, this.log, [[dst.id, { modseq: dst.highestModseq }]]);
    }
    return { destMailboxId: dst.id, uidValidity: dst.uidValidity, mapping };
  }

  async move(fromMailboxId: string, uids: UidSet, toMailboxId: string, viewer: string): Promise<MoveResult> {
    return this.exclusive(async () => {
      const copied = await this.copyLocked(fromMailboxId, uids, toMailboxId, viewer, true);
      const src = this.box(fromMailboxId);
      const moved = new Set(copied.mapping.map(([s]) => s));
      const gone = src.messages.filter((m) => moved.has(m.uid));
      await this.remove(src, gone);
      return { ...copied, expunged: gone.map((m) => m.uid), highestModseq: src.highestModseq };
    });
  }

  async changesSince(mailboxId: string, viewer: string, modseq: number): Promise<MailboxChanges> {
    const b = this.box(mailboxId);
    const changed = b.messages.filter((m) => m.modseq > modseq).map((m) => ({ uid: m.uid, modseq: m.modseq, flags: this.flagsFor(b, m, viewer) }));
    const expunged = modseq < b.tombstoneFloor ? null : b.tombstones.filter((t) => t.modseq > modseq).map((t) => t.uid).sort((x, y) => x - y);
    return { mailbox: this.view(b), changed, expunged };
  }

  async claimRecent(mailboxId: string, uidNext: number): Promise<UidRange | null> {
    const b = this.box(mailboxId);
    const upTo = Math.min(uidNext, b.uidNext);
    if (b.recentUid >= upTo) return null;
    const claimed: UidRange = [b.recentUid, upTo - 1];
    b.recentUid = upTo;
    return claimed;
  }

  // ------------------------------------------------------------ delivery

  async deliver(message: MessageToDeliver, targets: readonly DeliveryTarget[]): Promise<DeliveryResult[]> {
    const plan = planDelivery(message, targets);
    if (plan.length === 0) return [];
    return this.exclusive(async () => {
      const header = await prepareMessage(this.options.blobs, message);
      const now = this.clock.now().getTime();
      for (const [key, d] of this.deliveries) if (d.at < now - DEDUPE_WINDOW_MS) this.deliveries.delete(key);
      // Everything that can fail comes first; then the state changes synchronously.
      const work: { item: (typeof plan)[number]; box?: Box; earlier?: DeliveryResult }[] = [];
      for (const item of plan) {
        await this.requireAccount(item.accountId);
        const seen = message.dedupeKey ? this.deliveries.get(`${item.accountId}|${message.dedupeKey}`) : undefined;
        const earlier = seen && seen.at >= dedupeSince(message, now) ? seen.result : undefined;
        if (earlier && this.boxes.has(earlier.mailboxId)) {
          work.push({ item, earlier });
          continue;
        }
        const box = pickDeliveryMailbox(this.ofAccount(item.accountId), item.mailbox);
        await this.checkQuota(item.accountId, message.size, 1);
        if (box) mergeMailboxKeywords(box.keywords, item.flags.keywords);
        work.push({ item, ...(box ? { box } : {}) });
      }
      const results: DeliveryResult[] = new Array(targets.length);
      const changed: [string, { modseq: number }][] = [];
      for (const { item, box, earlier } of work) {
        if (earlier) {
          for (const i of item.targets) results[i] = { ...earlier, duplicate: true };
          continue;
        }
        let b = box;
        if (!b) {
          this.ensureDefaults(item.accountId);
          b = pickDeliveryMailbox(this.ofAccount(item.accountId), item.mailbox)!;
        }
        const keywords = mergeMailboxKeywords(b.keywords, item.flags.keywords);
        const uid = this.insert(b, message, header, item.flags, keywords, b.accountId, message.receivedAt);
        const result: DeliveryResult = { accountId: item.accountId, mailboxId: b.id, uid, duplicate: false };
        if (message.dedupeKey) this.deliveries.set(`${item.accountId}|${message.dedupeKey}`, { result, at: now });
        item.targets.forEach((i, n) => (results[i] = { ...result, duplicate: n > 0 }));
        changed.push([b.id, { modseq: b.highestModseq }]);
      }
      for (const { item, earlier } of work) if (!earlier) await this.options.usage.add(item.accountId, 'mail', message.size, 1);
      publishChanges(this.options.notifier, this.log, changed);
      return results;
    });
  }

  // ------------------------------------------------------------ ACL and quota

  async getAcl(mailboxId: string): Promise<AclEntry[]> {
    return [...this.box(mailboxId).acl.values()].map((e) => ({ grantee: { ...e.grantee }, rights: e.rights }));
  }

  async setAcl(mailboxId: string, grantee: AclGrantee, rights: string): Promise<void> {
    const normal = normalizeRights(rights);
    const b = this.box(mailboxId);
    const { kind, id } = granteeKey(grantee);
    if (kind !== 'anyone' && kind !== 'account' && kind !== 'group') throw new InvalidInputError('invalid grantee');
    const key = `${kind}:${id}`;
    if (normal === '') b.acl.delete(key);
    else b.acl.set(key, { grantee: kind === 'anyone' ? { kind: 'anyone' } : { kind, id }, rights: normal });
  }

  async listSharedMailboxes(accountId: string, groupIds: readonly string[]): Promise<SharedMailbox[]> {
    const out: SharedMailbox[] = [];
    for (const b of this.boxes.values()) {
      if (b.accountId === accountId || b.acl.size === 0) continue;
      const rights = effectiveRights(b.accountId, [...b.acl.values()], accountId, groupIds);
      if (rights) out.push({ mailbox: this.view(b), rights });
    }
    return out;
  }

  async referencedBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    const wanted = new Set(blobIds);
    const used = new Set<string>();
    for (const b of this.boxes.values()) for (const m of b.messages) if (wanted.has(m.blobId)) used.add(m.blobId);
    return used;
  }

  async quota(accountId: string): Promise<MailQuota> {
    const account = await this.options.directory.getAccount(accountId);
    const used = await this.options.usage.get(accountId);
    return {
      usedBytes: used.total,
      mailBytes: used.mail,
      limitBytes: account.quotaBytes,
      messages: used.messages,
      limitMessages: account.quotaMessages,
      mailboxes: this.ofAccount(accountId).length,
      limitMailboxes: account.quotaMailboxes,
    };
  }
}
