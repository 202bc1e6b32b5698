import { isPalabreError, type Mailbox, type UidSet } from '@palabre/core';
import { SyntaxError } from './errors.js';
import type { MailboxWatcher } from './mailbox-hub.js';
import { formatSet, parseSequenceSet } from './sequence-set.js';
import type { Session } from './session.js';
import { UidList } from './uid-list.js';

export const SYSTEM_FLAGS_LIST = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';

export interface SelectOptions {
  readonly readOnly: boolean;
  /** The viewer's RFC 4314 rights on the mailbox. */
  readonly rights: string;
  /** The name the client used (for responses). */
  readonly path: string;
}

/** A resolved message set: sequence numbers and UIDs, ascending. */
export interface MessageSet {
  readonly seqs: number[];
  readonly uids: number[];
}

/** `1:5,7` style ranges from ascending UIDs, for store calls. */
export function toUidSet(uids: readonly number[]): UidSet {
  const out: [number, number][] = [];
  for (const u of uids) {
    const last = out[out.length - 1];
    if (last && u === last[1] + 1) last[1] = u;
    else out.push([u, u]);
  }
  return out;
}

/**
 * The session's view of its selected mailbox (RFC 9051 §7.5.1): the UID ↔ sequence map, the MODSEQ
 * it has reported up to, the keywords the client knows, its \Recent messages, and expunges made by
 * others that it may not report yet. `sync` brings the client up to date with one store query.
 */
export class SelectedMailbox implements MailboxWatcher {
  readonly id: string;
  readonly ownerId: string;
  readonly uidValidity: number;
  readonly readOnly: boolean;
  readonly rights: string;
  path: string;
  uids: UidList;
  knownModseq: number;
  uidNext: number;
  keywords: readonly string[];
  readonly recent = new Set<number>();
  /** Expunged elsewhere, still in `uids` until reported. */
  readonly pendingExpunges = new Set<number>();
  dirty = false;
  gone = false;
  private readonly unwatch: () => void;

  constructor(
    private readonly session: Session,
    mailbox: Mailbox,
    uids: ArrayLike<number>,
    options: SelectOptions,
  ) {
    this.id = mailbox.id;
    this.ownerId = mailbox.accountId;
    this.uidValidity = mailbox.uidValidity;
    this.readOnly = options.readOnly;
    this.rights = options.rights;
    this.path = options.path;
    this.uids = new UidList(uids);
    this.knownModseq = mailbox.highestModseq;
    this.uidNext = Math.max(mailbox.uidNext, (uids[uids.length - 1] ?? 0) + 1);
    this.keywords = mailbox.keywords;
    this.unwatch = session.ctx.hub.watch(mailbox.id, this);
  }

  changed(): void {
    this.dirty = true;
    this.session.wake();
  }

  deleted(): void {
    this.gone = true;
    this.dirty = true;
    this.session.wake();
  }

  close(): void {
    this.unwatch();
  }

  get exists(): number {
    return this.uids.length;
  }

  can(right: string): boolean {
    return this.rights.includes(right);
  }

  flagsLine(): string {
    return `FLAGS (${[SYSTEM_FLAGS_LIST, ...this.keywords].join(' ')})`;
  }

  /** Flags this user may change for good (RFC 4314: \Seen needs s, \Deleted t, the rest w). */
  permanentFlagsLine(): string {
    if (this.readOnly) return 'OK [PERMANENTFLAGS ()] No permanent flags permitted';
    const flags: string[] = [];
    if (this.can('w')) flags.push('\\Answered', '\\Flagged', '\\Draft');
    if (this.can('t')) flags.push('\\Deleted');
    if (this.can('s')) flags.push('\\Seen');
    if (this.can('w')) flags.push(...this.keywords, '\\*');
    return `OK [PERMANENTFLAGS (${flags.join(' ')})] Flags permitted`;
  }

  /**
   * Resolve a sequence set or UID set (`$` = the saved search result). Sequence numbers beyond the
   * mailbox are a BAD (RFC 9051 §9 seq-number); UIDs not present are simply not there.
   */
  resolve(text: string, byUid: boolean): MessageSet {
    if (text === '$') {
      const saved = this.session.searchResult;
      const seqs: number[] = [];
      const uids: number[] = [];
      for (const uid of saved) {
        const seq = this.uids.seqOf(uid);
        if (seq) {
          seqs.push(seq);
          uids.push(uid);
        }
      }
      return { seqs, uids };
    }
    if (text.includes('$')) throw new SyntaxError('$ must stand alone');
    const seqs: number[] = [];
    const uids: number[] = [];
    if (byUid) {
      const ranges = parseSequenceSet(text, this.uids.last() || 0);
      for (const [lo, hi] of ranges) {
        for (let i = this.uids.lowerBound(lo); i < this.uids.length; i++) {
          const uid = this.uids.uidAt(i + 1);
          if (uid > hi) break;
          seqs.push(i + 1);
          uids.push(uid);
        }
      }
      return { seqs, uids };
    }
    const ranges = parseSequenceSet(text, this.uids.length);
    for (const [lo, hi] of ranges) {
      if (hi > this.uids.length) throw new SyntaxError('Invalid message sequence number');
      for (let seq = lo; seq <= hi; seq++) {
        seqs.push(seq);
        uids.push(this.uids.uidAt(seq));
      }
    }
    return { seqs, uids };
  }

  /**
   * After our own write (reported by the command itself): if nobody else changed the mailbox
   * meanwhile, the client is up to date; other sessions on this node are told at once.
   */
  ownWrite(highestModseq: number): void {
    const current = highestModseq === this.knownModseq + 1;
    if (current) this.knownModseq = highestModseq;
    this.session.ctx.hub.touched(this.id);
    if (current) this.dirty = false;
  }

  /** Remove messages we expunged ourselves (their EXPUNGE/VANISHED responses are written by the caller). */
  removeUid(uid: number): number {
    const seq = this.uids.seqOf(uid);
    if (seq) this.uids.removeSeq(seq);
    this.recent.delete(uid);
    this.pendingExpunges.delete(uid);
    return seq;
  }

  /** Report expunges with EXPUNGE (descending, so numbers do not shift) or VANISHED under QRESYNC. */
  async reportExpunged(uids: readonly number[]): Promise<void> {
    const s = this.session;
    if (!uids.length) return;
    if (s.qresync) {
      for (const uid of uids) this.removeUid(uid);
      await s.untagged(`VANISHED ${formatSet([...uids].sort((a, b) => a - b))}`);
      return;
    }
    const seqs = uids.map((u) => [this.uids.seqOf(u), u] as const).filter(([seq]) => seq > 0);
    seqs.sort((a, b) => b[0] - a[0]);
    for (const [seq, uid] of seqs) {
      this.uids.removeSeq(seq);
      this.recent.delete(uid);
      this.pendingExpunges.delete(uid);
      await s.untagged(`${seq} EXPUNGE`);
    }
  }

  /**
   * Tell the client what changed since it last heard: new FLAGS first (a keyword is never used before
   * FLAGS names it), expunges only when `allowExpunge`, then EXISTS/RECENT and flag changes.
   * Answers the UIDs announced by the EXISTS (RFC 5465 MessageNew fetches them).
   */
  async sync(allowExpunge: boolean): Promise<number[]> {
    const s = this.session;
    this.dirty = false;
    if (this.gone) {
      await s.untagged('BYE The selected mailbox was deleted');
      await s.end();
      return [];
    }
    let changes;
    try {
      changes = await s.ctx.hub.changesSince(this.id, s.user.accountId, this.knownModseq);
    } catch (error) {
      if (isPalabreError(error, 'not-found')) {
        this.gone = true;
        return this.sync(allowExpunge);
      }
      throw error;
    }
    const box = changes.mailbox;
    if (box.uidValidity !== this.uidValidity) {
      this.gone = true;
      return this.sync(allowExpunge);
    }
    if (box.keywords.length !== this.keywords.length) {
      this.keywords = box.keywords;
      await s.untagged(this.flagsLine());
      await s.untagged(this.permanentFlagsLine());
    }
    let expunged = changes.expunged;
    if (expunged === null) {
      // Tombstones were pruned: compare UID lists.
      const now = new Set(await s.store.listUids(this.id));
      expunged = this.uids.toArray().filter((u) => !now.has(u));
    }
    for (const uid of expunged) if (this.uids.seqOf(uid)) this.pendingExpunges.add(uid);
    if (allowExpunge && this.pendingExpunges.size) await this.reportExpunged([...this.pendingExpunges]);

    const last = this.uids.last();
    const fresh = changes.changed.filter((c) => c.uid > last);
    const updates = changes.changed.filter((c) => c.uid <= last && !this.pendingExpunges.has(c.uid));
    if (fresh.length) {
      for (const c of fresh) this.uids.push(c.uid);
      await s.untagged(`${this.uids.length} EXISTS`);
      if (!s.rev2) {
        const claimed = this.readOnly ? null : await s.ctx.hub.claimRecent(this.id, fresh[fresh.length - 1]!.uid + 1);
        if (claimed) for (const c of fresh) if (c.uid >= claimed[0] && c.uid <= claimed[1]) this.recent.add(c.uid);
        await s.untagged(`${this.recent.size} RECENT`);
      }
    }
    this.uidNext = Math.max(box.uidNext, this.uids.last() + 1, this.uidNext);
    for (const c of updates) {
      const seq = this.uids.seqOf(c.uid);
      if (!seq) continue;
      await s.untagged(`${seq} FETCH (UID ${c.uid} FLAGS (${this.flagsFor(c.uid, c.flags).join(' ')})${s.condstore ? ` MODSEQ (${c.modseq})` : ''})`);
    }
    this.knownModseq = Math.max(this.knownModseq, box.highestModseq);
    return fresh.map((c) => c.uid);
  }

  /** Flags as this session reports them (\Recent added for IMAP4rev1). */
  flagsFor(uid: number, flags: readonly string[]): string[] {
    return !this.session.rev2 && this.recent.has(uid) ? [...flags, '\\Recent'] : [...flags];
  }
}
