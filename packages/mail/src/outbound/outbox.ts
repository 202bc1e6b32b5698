import { Readable } from 'node:stream';
import type { BlobStore, Clock, DkimKeyStore, MessagePart, MessageSubmission, OutboundMessage, OutboundQueue, SubmittedMessage } from '@palabre/core';
import { dkimSignature } from './dkim.js';

export type { MessagePart } from '@palabre/core';
/** What the outbox sends: core's SubmittedMessage. */
export type OutgoingMessage = SubmittedMessage;

export interface OutboxOptions {
  readonly blobs: BlobStore;
  readonly queue: OutboundQueue;
  readonly dkimKeys?: DkimKeyStore;
  readonly clock: Clock;
  /** Deferred mail is bounced after this long. */
  readonly maxQueueMs: number;
}

/** Concatenate buffers and stream factories into one stream (each factory opened in turn). */
export function concatParts(parts: readonly MessagePart[]): Readable {
  return Readable.from(
    (async function* () {
      for (const part of parts) {
        if (Buffer.isBuffer(part)) yield part;
        else for await (const chunk of part()) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      }
    })(),
  );
}

/**
 * Everything that leaves through the queue (submissions to remote domains, vacation replies, DSNs):
 * DKIM-signed with the sender domain's key, stored as its own blob, queued.
 */
export class Outbox implements MessageSubmission {
  constructor(private readonly options: OutboxOptions) {}

  /** Returns the blob parts with a DKIM-Signature in front when the domain has a key. */
  async sign(parts: readonly MessagePart[], domain: string | null | undefined): Promise<MessagePart[]> {
    if (!domain || !this.options.dkimKeys) return [...parts];
    const signature = await dkimSignature(this.options.dkimKeys, domain, concatParts(parts));
    return signature ? [Buffer.from(signature), ...parts] : [...parts];
  }

  async submit(message: SubmittedMessage): Promise<OutboundMessage> {
    const parts = await this.sign(message.parts, message.signDomain);
    const blob = await this.options.blobs.put(concatParts(parts));
    return this.options.queue.enqueue({
      blobId: blob.id,
      size: blob.size,
      sender: message.sender,
      recipients: message.recipients,
      accountId: message.accountId ?? null,
      envId: message.envId ?? null,
      ret: message.ret ?? null,
      tlsPolicy: message.tlsPolicy ?? null,
      ownsBlob: true,
      transport: 'smtp',
      expiresAt: new Date(this.options.clock.now().getTime() + this.options.maxQueueMs),
    });
  }
}
