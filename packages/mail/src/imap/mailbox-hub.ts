import {
  NOTIFIER_RECONNECT_TOPIC,
  mailboxListTopic,
  mailboxTopic,
  type Logger,
  type Mailbox,
  type MailStore,
  type MailboxChanges,
  type Notifier,
  type UidRange,
  type Unsubscribe,
} from '@palabre/core';

/** UIDs kept by listUids over every mailbox (4 bytes each). */
const MAX_UIDS_HELD = 4_000_000;

/** A sorted UID list with some added (any order, maybe present already) and some removed. */
function mergeUids(list: Uint32Array, added: readonly number[], removed: readonly number[]): Uint32Array {
  const gone = new Set(removed);
  const extra = [...new Set(added)].sort((a, b) => a - b);
  const out = new Uint32Array(list.length + extra.length);
  let n = 0;
  let j = 0;
  for (let i = 0; i < list.length; i++) {
    const u = list[i]!;
    while (j < extra.length && extra[j]! < u) {
      if (!gone.has(extra[j]!)) out[n++] = extra[j]!;
      j++;
    }
    if (j < extra.length && extra[j] === u) j++;
    if (!gone.has(u)) out[n++] = u;
  }
  for (; j < extra.length; j++) if (!gone.has(extra[j]!)) out[n++] = extra[j]!;
  return out.slice(0, n);
}

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
  /**
   * Per mailbox, its UIDs as of a MODSEQ (at least): SELECT of a 10,000-message mailbox brings the list
   * up to date with the changes since (a few rows) instead of reading every UID again. Least recently
   * selected first, bounded by UIDs held.
   */
  private readonly uidLists = new Map<string, { modseq: number; uids: Uint32Array }>();
  private uidListsHeld = 0;
  private readonly uidListsInflight = new Map<string, Promise<Uint32Array>>();

  constructor(
    private readonly store: MailStore,
    private readonly notifier: Notifier | null,
    private readonly log: Logger,
  ) {}

  watch(mailboxId: string, watcher: MailboxWatcher): () => void {
    return this.watchTopic(mailboxId, mailboxTopic(mailboxId), watcher, () => this.recentMarks.delete(mailboxId));
  }

  /**
   * An account's list of mailboxes (created, renamed, deleted, subscriptions: RFC 5465 NOTIFY), one
   * subscription per account per node; `changed` also after a lost notifier connection.
   */
  watchList(accountId: string, watcher: MailboxWatcher): () => void {
    return this.watchTopic(`list:${accountId}`, mailboxListTopic(accountId), watcher, () => undefined);
  }

  private watchTopic(key: string, topic: string, watcher: MailboxWatcher, onLast: () => void): () => void {
    let entry = this.watchers.get(key);
    if (!entry) {
      const set = new Set<MailboxWatcher>();
      const off = this.notifier
        ? this.notifier
            .subscribe(topic, (payload) => this.fanOut(key, payload))
            .catch((error: unknown) => {
              this.log.warn({ topic, err: (error as Error)?.message }, 'imap.idle-notify-failed');
              return null;
            })
        : Promise.resolve(null);
      entry = { set, off };
      this.watchers.set(key, entry);
      if (this.notifier && !this.reconnectOff) {
        this.reconnectOff = this.notifier.subscribe(NOTIFIER_RECONNECT_TOPIC, () => this.everything()).catch(() => null);
      }
    }
    entry.set.add(watcher);
    return () => {
      const current = this.watchers.get(key);
      if (!current) return;
      current.set.delete(watcher);
      if (current.set.size === 0) {
        this.watchers.delete(key);
        onLast();
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

  /**
   * The mailbox's UIDs, ascending, for a session selecting it (`mailbox` just read): what the store's
   * listUids answers, from this node's copy when it is current, or updated with changesSince. The copy
   * is stamped with the MODSEQ read before the UIDs, so it is never older than its stamp; changes
   * applied twice (a UID added again, one removed again) change nothing.
   */
  async listUids(mailbox: Mailbox): Promise<Uint32Array> {
    const cached = this.uidLists.get(mailbox.id);
    if (cached && cached.modseq === mailbox.highestModseq) {
      this.uidLists.delete(mailbox.id);
      this.uidLists.set(mailbox.id, cached);
      return cached.uids;
    }
    let p = this.uidListsInflight.get(mailbox.id);
    if (!p) {
      p = this.refreshUids(mailbox, cached).finally(() => this.uidListsInflight.delete(mailbox.id));
      this.uidListsInflight.set(mailbox.id, p);
    }
    return p;
  }

  private async refreshUids(mailbox: Mailbox, cached: { modseq: number; uids: Uint32Array } | undefined): Promise<Uint32Array> {
    let uids: Uint32Array | null = null;
    let modseq = mailbox.highestModseq;
    if (cached && cached.modseq < mailbox.highestModseq) {
      const changes = await this.changesSince(mailbox.id, mailbox.accountId, cached.modseq);
      if (changes.expunged !== null && changes.mailbox.uidValidity === mailbox.uidValidity) {
        uids = mergeUids(cached.uids, changes.changed.map((c) => c.uid), changes.expunged);
        modseq = changes.mailbox.highestModseq;
      }
    }
    uids ??= Uint32Array.from(await this.store.listUids(mailbox.id));
    this.keepUids(mailbox.id, { modseq, uids });
    return uids;
  }

  private keepUids(id: string, entry: { modseq: number; uids: Uint32Array }): void {
    const old = this.uidLists.get(id);
    if (old) {
      this.uidListsHeld -= old.uids.length;
      this.uidLists.delete(id);
    }
    if (entry.uids.length > MAX_UIDS_HELD / 4) return;
    this.uidLists.set(id, entry);
    this.uidListsHeld += entry.uids.length;
    for (const [key, e] of this.uidLists) {
      if (this.uidListsHeld <= MAX_UIDS_HELD) break;
      this.uidLists.delete(key);
      this.uidListsHeld -= e.uids.length;
    }
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
