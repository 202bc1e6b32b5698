import type { BlobStore, Logger, MailStore, SpecialUse } from '@palabre/core';
import { toUidSet } from './selected-mailbox.js';

/**
 * Told when a user files messages into Junk or takes them out of it, so that a spam filter learns
 * from it. Never awaited by the command: a MOVE answers at once, the learning follows.
 */
export interface JunkTraining {
  learn(kind: 'spam' | 'ham', mailboxId: string, viewer: string, uids: readonly number[]): void;
}

/**
 * What a move or copy teaches: into Junk, spam; out of Junk into anything but Trash, ham (deleting a
 * spam says nothing about it); anything else, nothing.
 */
export function junkLesson(from: SpecialUse | null, to: SpecialUse | null): 'spam' | 'ham' | null {
  if (to === '\\Junk' && from !== '\\Junk') return 'spam';
  if (from === '\\Junk' && to !== '\\Junk' && to !== '\\Trash') return 'ham';
  return null;
}

/** A spam filter that learns from whole messages (rspamd's controller). */
export interface SpamLearner {
  learn(kind: 'spam' | 'ham', message: AsyncIterable<Buffer>, size: number): Promise<void>;
}

export interface QueuedJunkTrainingOptions {
  readonly store: MailStore;
  readonly blobs: BlobStore;
  readonly learner: SpamLearner;
  readonly logger: Logger;
  /** Messages waiting at most; more are dropped with a log line (a user moving 50,000 at once). */
  readonly maxPending?: number;
  /** Messages larger than this are not sent for learning (rspamd does not learn from attachments' bulk). */
  readonly maxMessageBytes?: number;
}

/** Learning one message at a time, in the background, from a bounded queue. */
export class QueuedJunkTraining implements JunkTraining {
  private readonly pending: { kind: 'spam' | 'ham'; mailboxId: string; viewer: string; uid: number }[] = [];
  private running = false;
  private readonly maxPending: number;
  private readonly maxBytes: number;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: QueuedJunkTrainingOptions) {
    this.maxPending = options.maxPending ?? 10_000;
    this.maxBytes = options.maxMessageBytes ?? 10 * 1024 * 1024;
  }

  learn(kind: 'spam' | 'ham', mailboxId: string, viewer: string, uids: readonly number[]): void {
    const room = this.maxPending - this.pending.length;
    if (uids.length > room) this.options.logger.warn({ kind, dropped: uids.length - Math.max(0, room) }, 'imap.junk-training-dropped');
    for (const uid of uids.slice(0, Math.max(0, room))) this.pending.push({ kind, mailboxId, viewer, uid });
    if (!this.running) void this.drain();
  }

  /** Resolves once nothing is waiting (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.running && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const job = this.pending.shift()!;
        try {
          for await (const record of this.options.store.fetch(job.mailboxId, job.viewer, toUidSet([job.uid]))) {
            if (record.size > this.maxBytes) continue;
            await this.options.learner.learn(job.kind, await this.options.blobs.get(record.blobId), record.size);
          }
        } catch (error) {
          // The message may be gone already, or the filter down: learning is best effort.
          this.options.logger.warn({ kind: job.kind, err: (error as Error).message }, 'imap.junk-training-failed');
        }
      }
    } finally {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
