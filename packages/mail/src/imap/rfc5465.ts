import { MAILBOX_DELIMITER, isPalabreError, type Mailbox, type MailboxCounts } from '@palabre/core';
import type { ArgReader } from './arguments.js';
import { isSharedPath } from './access.js';
import { ImapError, SyntaxError, no } from './errors.js';
import { parseFetchAttList, type FetchRequest } from './fetch-items.js';
import type { MailboxWatcher } from './mailbox-hub.js';
import { visibleTree } from './mailbox-tree.js';
import type { Session } from './session.js';
import { writeStatus, type StatusItem } from './commands/status.js';

/**
 * RFC 5465 NOTIFY: which events of which mailboxes a session hears about without asking. The selected
 * mailbox is told as EXISTS/EXPUNGE/FETCH, as soon as they happen; other mailboxes as STATUS; the
 * mailbox list (created, renamed, deleted, subscriptions) as LIST.
 */

export const NOTIFY_EVENTS = ['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
/** Defined by RFC 5465 but not offered here: NO [BADEVENT] (no annotations; METADATA changes are not published). */
const UNSUPPORTED_EVENTS = ['AnnotationChange', 'MailboxMetadataChange', 'ServerMetadataChange'];

/** Mailboxes one NOTIFY may watch for message events: beyond, NOTIFICATIONOVERFLOW (Dovecot stops at 100 names). */
const MAX_NOTIFY_MAILBOXES = 1000;
const MAX_NAMES = 100;
const MAX_GROUPS = 50;

export type NotifyFilter =
  | { readonly kind: 'inboxes' | 'personal' | 'subscribed' }
  | { readonly kind: 'subtree' | 'mailboxes'; readonly names: readonly string[] };

export interface NotifyGroup {
  readonly filter: NotifyFilter;
  readonly events: ReadonlySet<NotifyEvent>;
}

export interface NotifySelected {
  /** `selected`: expunges too are sent at once; `selected-delayed`: when a command allows them. */
  readonly expunges: boolean;
  readonly fetch: FetchRequest | null;
}

export type NotifyArgs =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'set';
      /** `STATUS`: a STATUS of every watched mailbox before the tagged OK. */
      readonly status: boolean;
      /** null: no selected group, or `(selected NONE)`: the selected mailbox behaves as without NOTIFY. */
      readonly selected: NotifySelected | null;
      readonly groups: readonly NotifyGroup[];
      /** Event names given but not offered (answered NO [BADEVENT]). */
      readonly unsupported: readonly string[];
    };

const BY_UPPER = new Map<string, string>([...NOTIFY_EVENTS, ...UNSUPPORTED_EVENTS].map((e) => [e.toUpperCase(), e]));

function parseEvents(r: ArgReader, allowFetch: boolean, unsupported: Set<string>): { events: Set<NotifyEvent>; fetch: FetchRequest | null } {
  const events = new Set<NotifyEvent>();
  let fetch: FetchRequest | null = null;
  if (r.peekAtom().toUpperCase() === 'NONE') {
    r.atom();
    return { events, fetch };
  }
  r.expect('(');
  r.enter();
  for (;;) {
    const name = r.atom('event');
    const known = BY_UPPER.get(name.toUpperCase());
    if (known && (NOTIFY_EVENTS as readonly string[]).includes(known)) events.add(known as NotifyEvent);
    else unsupported.add(known ?? name.slice(0, 40));
    if (r.maybe(')')) break;
    r.sp();
    if (known === 'MessageNew' && r.peek() === 0x28) {
      if (!allowFetch) throw new SyntaxError('MessageNew fetch attributes are only for the selected mailbox');
      fetch = parseFetchAttList(r);
      if (r.maybe(')')) break;
      r.sp();
    }
  }
  r.leave();
  // RFC 5465 §5: new and expunge come together, and flag changes only with both.
  if (events.has('MessageNew') !== events.has('MessageExpunge')) throw new SyntaxError('MessageNew and MessageExpunge must be given together');
  if (events.has('FlagChange') && !events.has('MessageNew')) throw new SyntaxError('FlagChange needs MessageNew and MessageExpunge');
  return { events, fetch };
}

function parseNames(r: ArgReader, s: Session): string[] {
  const one = () => s.decodeName(r.astringBytes('mailbox'));
  const names = r.peek() === 0x28 ? r.list(one, { allowEmpty: false }) : [one()];
  if (names.length > MAX_NAMES) throw new SyntaxError('Too many mailbox names');
  return names.map((n) => (n.toUpperCase() === 'INBOX' ? 'INBOX' : n));
}

/** The arguments after `NOTIFY` (RFC 5465 §8). */
export function parseNotify(r: ArgReader, s: Session): NotifyArgs {
  r.sp();
  const verb = r.atom().toUpperCase();
  if (verb === 'NONE') {
    r.end();
    return { kind: 'none' };
  }
  if (verb !== 'SET') throw new SyntaxError('NOTIFY takes SET or NONE');
  r.sp();
  let status = false;
  if (r.peekAtom().toUpperCase() === 'STATUS') {
    r.atom();
    r.sp();
    status = true;
  }
  let selected: NotifySelected | null = null;
  let selectedSeen = false;
  const groups: NotifyGroup[] = [];
  const unsupported = new Set<string>();
  for (;;) {
    if (groups.length >= MAX_GROUPS) throw new SyntaxError('Too many event groups');
    r.expect('(');
    r.enter();
    const kind = r.atom('filter').toLowerCase();
    r.sp();
    if (kind === 'selected' || kind === 'selected-delayed') {
      if (selectedSeen) throw new SyntaxError('The selected mailbox is named twice');
      selectedSeen = true;
      const { events, fetch } = parseEvents(r, true, unsupported);
      if (events.has('MessageNew')) selected = { expunges: kind === 'selected', fetch };
    } else {
      let filter: NotifyFilter;
      if (kind === 'inboxes' || kind === 'personal' || kind === 'subscribed') filter = { kind };
      else if (kind === 'subtree' || kind === 'mailboxes') {
        filter = { kind, names: parseNames(r, s) };
        r.sp();
      } else throw new SyntaxError('Unknown mailbox filter');
      const { events } = parseEvents(r, false, unsupported);
      if (events.size) groups.push({ filter, events });
    }
    r.expect(')');
    r.leave();
    if (r.atEnd()) break;
    r.sp();
  }
  return { kind: 'set', status, selected, groups, unsupported: [...unsupported] };
}

/** One mailbox as the NOTIFY session last told the client about it. */
interface Known {
  path: string;
  subscribed: boolean;
  /** Set when the mailbox is watched for message events. */
  status: Snapshot | null;
  unwatch: (() => void) | null;
}

interface Snapshot {
  readonly counts: MailboxCounts;
  readonly uidNext: number;
  readonly uidValidity: number;
  readonly modseq: number;
}

function snapshot(mailbox: Mailbox, counts: MailboxCounts): Snapshot {
  return { counts, uidNext: mailbox.uidNext, uidValidity: mailbox.uidValidity, modseq: mailbox.highestModseq };
}

function filterMatches(filter: NotifyFilter, path: string, subscribed: boolean): boolean {
  switch (filter.kind) {
    case 'inboxes':
      return path === 'INBOX';
    case 'personal':
      return !isSharedPath(path);
    case 'subscribed':
      return subscribed;
    case 'subtree':
      return filter.names.some((n) => path === n || path.startsWith(n + MAILBOX_DELIMITER));
    case 'mailboxes':
      return filter.names.includes(path);
  }
}

type Write = (s: Session) => Promise<void>;

/**
 * A session's NOTIFY SET: the mailboxes it watches (through the node's MailboxHub, so a thousand
 * sessions on one mailbox still cost one subscription), what it last told the client about each, and
 * what changed since. Reports are written by the session between commands (Session.kick).
 */
export class NotifySession {
  readonly selected: NotifySelected | null;
  private readonly groups: readonly NotifyGroup[];
  private readonly known = new Map<string, Known>();
  private readonly dirty = new Set<string>();
  private listDirty = false;
  private unwatchList: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly session: Session,
    args: Extract<NotifyArgs, { kind: 'set' }>,
  ) {
    this.selected = args.selected;
    this.groups = args.groups;
  }

  /** Watches what the groups name; with `status`, a STATUS of each (the selected mailbox aside). */
  async start(status: boolean): Promise<void> {
    const s = this.session;
    if (this.groups.length) {
      const off = s.ctx.hub.watchList(s.user.accountId, this.watcher(() => (this.listDirty = true)));
      this.unwatchList = off;
      const writes = await this.relist(false);
      if (status) for (const w of writes) await w(s);
    }
  }

  stop(): void {
    this.stopped = true;
    this.unwatchList?.();
    this.unwatchList = null;
    for (const k of this.known.values()) k.unwatch?.();
    this.known.clear();
    this.dirty.clear();
  }

  private watcher(mark: () => void): MailboxWatcher {
    const kick = () => {
      if (this.stopped) return;
      mark();
      this.session.kick();
    };
    return { changed: kick, deleted: () => ((this.listDirty = true), kick()) };
  }

  private eventsOf(path: string, subscribed: boolean): Set<NotifyEvent> {
    const out = new Set<NotifyEvent>();
    for (const g of this.groups) if (filterMatches(g.filter, path, subscribed)) for (const e of g.events) out.add(e);
    return out;
  }

  private statusItems(base: readonly StatusItem[]): StatusItem[] {
    return this.session.condstore ? [...base, 'HIGHESTMODSEQ'] : [...base];
  }

  /**
   * Read the visible mailboxes again and bring the watches up to date. Answers, for a first listing,
   * one STATUS write per watched mailbox (NOTIFY SET STATUS); afterwards, the LIST reports of what
   * changed are written here.
   */
  private async relist(report: boolean): Promise<Write[]> {
    const s = this.session;
    const tree = await visibleTree(s);
    const subscriptions = new Set(await s.store.listSubscriptions(s.user.accountId));
    const current = new Map<string, { path: string; mailbox: Mailbox; subscribed: boolean; rights: string }>();
    for (const entry of tree.values()) {
      if (entry.mailbox) current.set(entry.mailbox.id, { path: entry.path, mailbox: entry.mailbox, subscribed: subscriptions.has(entry.path), rights: entry.rights });
    }
    const writes: Write[] = [];
    const list = (attrs: string[], path: string, oldName?: string) => {
      const extra = oldName === undefined ? '' : ` ("OLDNAME" (${s.encodeName(oldName)}))`;
      writes.push((sess) => sess.untagged(`LIST (${attrs.join(' ')}) "${MAILBOX_DELIMITER}" ${sess.encodeName(path)}${extra}`));
    };
    for (const [id, old] of this.known) {
      if (current.has(id)) continue;
      old.unwatch?.();
      this.known.delete(id);
      this.dirty.delete(id);
      if (report && this.eventsOf(old.path, old.subscribed).has('MailboxName')) list(['\\NonExistent'], old.path);
    }
    let watched = 0;
    for (const [id, cur] of current) {
      const old = this.known.get(id);
      const events = this.eventsOf(cur.path, cur.subscribed);
      const subscribedAttr = cur.subscribed ? ['\\Subscribed'] : [];
      if (report) {
        if (!old) {
          if (events.has('MailboxName')) list(subscribedAttr, cur.path);
        } else {
          if (old.path !== cur.path && (events.has('MailboxName') || this.eventsOf(old.path, old.subscribed).has('MailboxName'))) list(subscribedAttr, cur.path, old.path);
          else if (old.subscribed !== cur.subscribed && (events.has('SubscriptionChange') || this.eventsOf(old.path, old.subscribed).has('SubscriptionChange'))) list(subscribedAttr, cur.path);
        }
      }
      const wantsMessages = events.has('MessageNew') && cur.rights.includes('r');
      const known: Known = old ?? { path: cur.path, subscribed: cur.subscribed, status: null, unwatch: null };
      known.path = cur.path;
      known.subscribed = cur.subscribed;
      if (wantsMessages) {
        if (++watched > MAX_NOTIFY_MAILBOXES) throw no('NOTIFICATIONOVERFLOW', `NOTIFY watches at most ${MAX_NOTIFY_MAILBOXES} mailboxes`);
        if (!known.unwatch) {
          // Watched before the counts are read: a change in between is reported, never missed.
          known.unwatch = s.ctx.hub.watch(id, this.watcher(() => this.dirty.add(id)));
          const counts = await s.store.counts(id, s.user.accountId);
          known.status = snapshot(cur.mailbox, counts);
          if (!report && s.selected?.id !== id) {
            const { mailbox, path } = cur;
            writes.push((sess) => writeStatus(sess, mailbox, path, this.statusItems(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN']), counts));
          }
        }
      } else if (known.unwatch) {
        known.unwatch();
        known.unwatch = null;
        known.status = null;
      }
      this.known.set(id, known);
    }
    return writes;
  }

  /** Write what changed in watched mailboxes other than the selected one, and in the mailbox list. */
  async deliver(): Promise<void> {
    const s = this.session;
    if (this.stopped) return;
    if (this.listDirty) {
      this.listDirty = false;
      let writes: Write[];
      try {
        writes = await this.relist(true);
      } catch (error) {
        // RFC 5465 §5.8: the server may stop notifying; it says so, then behaves as after NOTIFY NONE.
        if (error instanceof ImapError && error.code === 'NOTIFICATIONOVERFLOW') {
          await s.untagged('OK [NOTIFICATIONOVERFLOW] Too many mailboxes to watch; notifications are off');
          s.endNotify();
          return;
        }
        throw error;
      }
      for (const w of writes) await w(s);
    }
    for (const id of [...this.dirty]) {
      this.dirty.delete(id);
      if (this.stopped) return;
      const k = this.known.get(id);
      if (!k?.status || s.selected?.id === id) continue;
      let mailbox: Mailbox;
      let counts: MailboxCounts;
      try {
        mailbox = await s.store.getMailboxById(id);
        counts = await s.store.counts(id, s.user.accountId);
      } catch (error) {
        // Deleted meanwhile: the list change reports it.
        if (isPalabreError(error, 'not-found')) continue;
        throw error;
      }
      const before = k.status;
      const now = snapshot(mailbox, counts);
      k.status = now;
      const events = this.eventsOf(k.path, k.subscribed);
      let items: StatusItem[] = [];
      if (now.uidValidity !== before.uidValidity) items = ['UIDVALIDITY', 'UIDNEXT', 'MESSAGES', 'UNSEEN'];
      else if (now.counts.messages !== before.counts.messages || now.uidNext !== before.uidNext) items = ['MESSAGES', 'UIDNEXT', 'UNSEEN'];
      else if (events.has('FlagChange') && (now.counts.unseen !== before.counts.unseen || (s.condstore && now.modseq !== before.modseq))) items = ['UNSEEN'];
      if (items.length) await writeStatus(s, mailbox, k.path, this.statusItems(items), counts);
    }
  }
}
