import {
  NOTIFIER_RECONNECT_TOPIC,
  mailboxTopic,
  type Logger,
  type MailStore,
  type MailboxChanges,
  type Notifier,
  type UidRange,
  type Unsubscribe,
} from '@palabre/core';

export interface MailboxWatcher {
  /** Something changed in the mailbox (or notifications may have been missed). */
  changed(): void;
  /** The mailbox was deleted. */
  deleted(): void;
}

/**
 * One notifier subscription per mailbox per node, however many sessions have it selected, and one
 * store query per change for all sessions that were in the same state: 1,000 IDLE connections on
 * one INBOX cost one LISTEN message and one `changesSince` query per delivery, not a thousand.
 */
export class MailboxHub {
  private readonly watchers = new Map<string, { set: Set<MailboxWatcher>; off: Promise<Unsubscribe | null> }>();
  private readonly inflight = new Map<string, Promise<MailboxChanges>>();
  /** Per mailbox: \Recent has been claimed (by a session of this node, or found claimed) below this UID. */
  private readonly recentMarks = new Map<string, number>();
  private reconnectOff: Promise<Unsubscribe | null> | null = null;

  constructor(
    private readonly store: MailStore,
    private readonly notifier: Notifier | null,
    private readonly log: Logger,
  ) {}

  watch(mailboxId: string, watcher: MailboxWatcher): () => void {
    let entry = this.watchers.get(mailboxId);
    if (!entry) {
      const set = new Set<MailboxWatcher>();
      const off = this.notifier
        ? this.notifier
            .subscribe(mailboxTopic(mailboxId), (payload) => this.fanOut(mailboxId, payload))
            .catch((error: unknown) => {
              this.log.warn({ mailboxId, err: (error as Error)?.message }, 'imap.idle-notify-failed');
              return null;
            })
        : Promise.resolve(null);
      entry = { set, off };
      this.watchers.set(mailboxId, entry);
      if (this.notifier && !this.reconnectOff) {
        this.reconnectOff = this.notifier.subscribe(NOTIFIER_RECONNECT_TOPIC, () => this.everything()).catch(() => null);
      }
    }
    entry.set.add(watcher);
    return () => {
      const current = this.watchers.get(mailboxId);
      if (!current) return;
      current.set.delete(watcher);
      if (current.set.size === 0) {
        this.watchers.delete(mailboxId);
        this.recentMarks.delete(mailboxId);
        void current.off.then((off) => off?.());
      }
    };
  }

  private fanOut(mailboxId: string, payload: unknown): void {
    const entry = this.watchers.get(mailboxId);
    if (!entry) return;
    const deleted = typeof payload === 'object' && payload !== null && (payload as { deleted?: unknown }).deleted === true;
    for (const w of [...entry.set]) {
      try {
        if (deleted) w.deleted();
        else w.changed();
      } catch (error) {
        this.log.warn({ mailboxId, err: (error as Error)?.message }, 'imap.idle-notify-failed');
      }
    }
  }

  /** After a lost LISTEN connection: every session re-reads its mailbox. */
  private everything(): void {
    for (const id of this.watchers.keys()) this.fanOut(id, null);
  }

  /** A local write: tell this node's sessions now, without waiting for the notifier round trip. */
  touched(mailboxId: string): void {
    this.fanOut(mailboxId, null);
  }

  /** changesSince, shared by every caller asking the same question at the same time. */
  changesSince(mailboxId: string, viewer: string, modseq: number): Promise<MailboxChanges> {
    const key = `${mailboxId}|${viewer}|${modseq}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.store.changesSince(mailboxId, viewer, modseq).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  /**
   * RFC 3501 \Recent for new messages: the first session of this node to see them asks the store;
   * the others know they cannot win and do not ask (1,000 idlers, one query).
   */
  claimRecent(mailboxId: string, uidNext: number): Promise<UidRange | null> {
    if ((this.recentMarks.get(mailboxId) ?? 0) >= uidNext) return Promise.resolve(null);
    this.recentMarks.set(mailboxId, uidNext);
    return this.store.claimRecent(mailboxId, uidNext);
  }

  watching(): number {
    let n = 0;
    for (const e of this.watchers.values()) n += e.set.size;
    return n;
  }

  async close(): Promise<void> {
    const offs = [...this.watchers.values()].map((e) => e.off);
    this.watchers.clear();
    for (const off of offs) (await off)?.();
    (await this.reconnectOff)?.();
  }
}
