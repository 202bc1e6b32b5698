/**
 * What the memory and SQL mail stores share beyond the pure rules: reading the header section a
 * message row keeps, choosing UIDVALIDITY values, planning deliveries, publishing changes.
 */
import { InvalidInputError, NotFoundError, QuotaExceededError } from '../errors.js';
import { MAX_INLINE_HEADER_BYTES, normalizeMailboxName, parseFlags, type ParsedFlags } from './mail-rules.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Logger } from '../ports/logger.js';
import type { DeliveryTarget, MessageToDeliver } from './mail-delivery.js';
import { mailboxListTopic, mailboxTopic, type Mailbox, type NewMessage, type QuotaResource } from './mail-store.js';
import type { Notifier } from '../ports/notifier.js';

/** Validate what an append or delivery carries; returns the header section to keep inline (or null). */
export async function prepareMessage(
  blobs: BlobStore,
  message: Pick<NewMessage, 'blobId' | 'size' | 'analysis' | 'header'>,
): Promise<Buffer | null> {
  const { size, analysis } = message;
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidInputError('invalid message size');
  const headerBytes = analysis?.headerBytes;
  if (!Number.isSafeInteger(headerBytes) || headerBytes < 0 || headerBytes > size) throw new InvalidInputError('invalid header length');
  if (!analysis.data || typeof analysis.data !== 'object') throw new InvalidInputError('missing message analysis');
  const info = await blobs.stat(message.blobId);
  if (!info) throw new NotFoundError('message content is not in the blob store');
  if (info.size !== size) throw new InvalidInputError('message size does not match its content');
  if (headerBytes === 0 || headerBytes > MAX_INLINE_HEADER_BYTES) return null;
  if (message.header) {
    if (message.header.length !== headerBytes) throw new InvalidInputError('header length does not match the analysis');
    return Buffer.from(message.header);
  }
  const stream = await blobs.get(message.blobId, { start: 0, end: headerBytes - 1 });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export interface PreparedAppends {
  readonly items: readonly { readonly message: NewMessage; readonly header: Buffer | null; readonly flags: ParsedFlags }[];
  readonly totalBytes: number;
}

/** Validate every message of an append before any is stored (MULTIAPPEND is all or nothing). */
export async function prepareAppends(blobs: BlobStore, messages: readonly NewMessage[]): Promise<PreparedAppends> {
  if (messages.length === 0) throw new InvalidInputError('nothing to append');
  const items = [];
  let totalBytes = 0;
  for (const message of messages) {
    const flags = parseFlags(message.flags ?? []);
    if (!(message.internalDate instanceof Date) || Number.isNaN(message.internalDate.getTime())) throw new InvalidInputError('invalid internal date');
    items.push({ message, header: await prepareMessage(blobs, message), flags });
    totalBytes += message.size;
  }
  return { items, totalBytes };
}

/**
 * UIDVALIDITY for a new mailbox: seconds since the epoch, strictly above the last value given to the
 * same account, so a mailbox deleted and created again under the same name never reuses one.
 */
export function nextUidValidity(last: number, nowMs: number): number {
  const candidate = Math.max(Math.floor(nowMs / 1000), last + 1);
  return candidate > 0xffffffff ? 1 : candidate;
}

/** Headers are stored as latin1 text (one char per byte: exact for any bytes). */
export function headerToColumn(header: Buffer | null): string | null {
  if (!header || header.includes(0)) return null;
  return header.toString('latin1');
}

export function headerFromColumn(column: string | null | undefined): Buffer | null {
  return typeof column === 'string' ? Buffer.from(column, 'latin1') : null;
}

export interface DeliveryPlanItem {
  readonly accountId: string;
  /** Normalised mailbox name or special-use wanted; null = INBOX. */
  readonly mailbox: string | null;
  readonly flags: ReturnType<typeof parseFlags>;
  /** Indexes of the targets this item answers (the same account twice gets one copy). */
  readonly targets: number[];
}

/** Group targets by account (first one wins for mailbox and flags), validating names and flags. */
export function planDelivery(message: MessageToDeliver, targets: readonly DeliveryTarget[]): DeliveryPlanItem[] {
  if (!(message.receivedAt instanceof Date) || Number.isNaN(message.receivedAt.getTime())) throw new InvalidInputError('invalid received date');
  if (message.dedupeKey !== undefined && (typeof message.dedupeKey !== 'string' || message.dedupeKey.length === 0 || message.dedupeKey.length > 128)) {
    throw new InvalidInputError('invalid dedupe key');
  }
  if (message.dedupeWindowMs !== undefined && !(Number.isInteger(message.dedupeWindowMs) && message.dedupeWindowMs > 0 && message.dedupeWindowMs <= DEDUPE_WINDOW_MS)) {
    throw new InvalidInputError('invalid dedupe window');
  }
  const byAccount = new Map<string, DeliveryPlanItem>();
  targets.forEach((target, index) => {
    const existing = byAccount.get(target.accountId);
    if (existing) {
      existing.targets.push(index);
      return;
    }
    const wanted = target.mailbox === undefined || target.mailbox === null ? null : target.mailbox.startsWith('\\') ? target.mailbox : normalizeMailboxName(target.mailbox);
    byAccount.set(target.accountId, { accountId: target.accountId, mailbox: wanted, flags: parseFlags(target.flags ?? []), targets: [index] });
  });
  // A fixed order (by account) so concurrent multi-recipient deliveries lock rows in the same order.
  return [...byAccount.values()].sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
}

/** Which of an account's mailboxes a delivery lands in: a special-use or named mailbox if it exists, else INBOX. */
export function pickDeliveryMailbox<M extends Pick<Mailbox, 'name' | 'specialUse'>>(mailboxes: readonly M[], wanted: string | null): M | undefined {
  const inbox = mailboxes.find((m) => m.name === 'INBOX');
  if (wanted === null) return inbox;
  const found = wanted.startsWith('\\') ? mailboxes.find((m) => m.specialUse === wanted) : mailboxes.find((m) => m.name === wanted);
  return found ?? inbox;
}

export function quotaError(accountId: string, resource: QuotaResource = 'STORAGE'): QuotaExceededError {
  return new QuotaExceededError(`mailbox owner is over quota (${resource})`, { detail: { accountId, resource } });
}

/** Tell IDLE sessions (on every node) after commit; a notifier failure never fails the write. */
export function publishChanges(notifier: Notifier | undefined, log: Logger, changes: Iterable<[string, { modseq: number } | { deleted: true }]>): void {
  if (!notifier) return;
  for (const [mailboxId, payload] of changes) {
    notifier.publish(mailboxTopic(mailboxId), payload).catch((error: unknown) => {
      log.warn({ mailboxId, err: (error as Error)?.message }, 'mail.notify-failed');
    });
  }
}

/** Tell listeners of an account's mailbox list (NOTIFY sessions on every node) after commit. */
export function publishListChange(notifier: Notifier | undefined, log: Logger, accountId: string): void {
  notifier?.publish(mailboxListTopic(accountId), {}).catch((error: unknown) => {
    log.warn({ accountId, err: (error as Error)?.message }, 'mail.notify-failed');
  });
}

/** How long a delivery's dedupe key is remembered per account (the longest `dedupeWindowMs`). */
export const DEDUPE_WINDOW_MS = 7 * 24 * 3600 * 1000;

/** The oldest delivery time at which `message`'s dedupe key still counts. */
export function dedupeSince(message: MessageToDeliver, now: number): number {
  return now - (message.dedupeWindowMs ?? DEDUPE_WINDOW_MS);
}
