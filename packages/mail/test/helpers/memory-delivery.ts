import { randomUUID } from 'node:crypto';
import {
  QuotaExceededError,
  type BlobStore,
  type DeliveryResult,
  type DeliveryTarget,
  type DirectoryStore,
  type MailDelivery,
  type MessageToDeliver,
} from '@palabre/core';
import { MemoryUsageStore } from '@palabre/core/testing';

export interface StoredMessage {
  readonly accountId: string;
  readonly mailbox: string;
  readonly uid: number;
  readonly message: MessageToDeliver;
}

/**
 * A MailDelivery double with the port's promises: all targets or none, quota per account (drive +
 * mail through a UsageStore), dedupe by key per account within the key's window. Tests read `messages` and the blobs.
 */
export class MemoryMailDelivery implements MailDelivery {
  readonly messages: StoredMessage[] = [];
  readonly usage = new MemoryUsageStore();
  private readonly seen = new Map<string, { result: DeliveryResult; at: number }>();
  private uid = 0;
  /** Make the next deliver() calls fail (simulate the database going away). */
  failWith: Error | null = null;

  constructor(
    private readonly directory: DirectoryStore,
    readonly blobs: BlobStore,
  ) {}

  async deliver(message: MessageToDeliver, targets: readonly DeliveryTarget[]): Promise<DeliveryResult[]> {
    if (this.failWith) throw this.failWith;
    const now = Date.now();
    const since = now - (message.dedupeWindowMs ?? 7 * 24 * 3600_000);
    const earlierFor = (key: string) => {
      const seen = this.seen.get(key);
      return seen && seen.at >= since ? seen.result : undefined;
    };
    for (const t of targets) {
      if (message.dedupeKey && earlierFor(`${message.dedupeKey}:${t.accountId}`)) continue;
      const account = await this.directory.getAccount(t.accountId);
      const used = (await this.usage.get(t.accountId)).total;
      if (account.quotaBytes !== null && used + message.size > account.quotaBytes) {
        throw new QuotaExceededError(`mailbox of ${account.address} is full`, { detail: { accountId: t.accountId } });
      }
    }
    const results: DeliveryResult[] = [];
    for (const t of targets) {
      const key = message.dedupeKey ? `${message.dedupeKey}:${t.accountId}` : randomUUID();
      const earlier = earlierFor(key);
      if (earlier) {
        results.push({ ...earlier, duplicate: true });
        continue;
      }
      const uid = ++this.uid;
      const mailbox = t.mailbox ?? 'INBOX';
      this.messages.push({ accountId: t.accountId, mailbox, uid, message });
      await this.usage.add(t.accountId, 'mail', message.size);
      const result = { accountId: t.accountId, mailboxId: `${t.accountId}:${mailbox}`, uid, duplicate: false };
      this.seen.set(key, { result, at: now });
      results.push(result);
    }
    return results;
  }

  async text(index: number): Promise<string> {
    return (await this.blobs.read(this.messages[index]!.message.blobId)).toString('utf8');
  }

  inbox(accountId: string): StoredMessage[] {
    return this.messages.filter((m) => m.accountId === accountId);
  }
}
