import type { ArgReader } from '../arguments.js';
import { openMailbox } from '../access.js';
import { AUTHENTICATED, SELECTED, defineCommand, mailboxArg, noArgs } from '../command.js';
import { SyntaxError, no } from '../errors.js';
import { SelectedMailbox } from '../selected-mailbox.js';
import { formatSet, inRanges, parseSequenceSet } from '../sequence-set.js';
import type { Session } from '../session.js';

interface QresyncParams {
  readonly uidValidity: number;
  readonly modseq: number;
  readonly knownUids: string | null;
  readonly seqMatch: { seqs: string; uids: string } | null;
}

interface SelectArgs {
  readonly name: string;
  readonly condstore: boolean;
  readonly qresync: QresyncParams | null;
}

function parseSelect(r: ArgReader, s: Session): SelectArgs {
  const name = mailboxArg(r, s);
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (r.maybeSp()) {
    r.list(() => {
      const p = r.atom('select parameter').toUpperCase();
      if (p === 'CONDSTORE') condstore = true;
      else if (p === 'QRESYNC') {
        r.sp();
        r.expect('(');
        r.enter();
        const uidValidity = r.nzNumber('UIDVALIDITY');
        r.sp();
        const modseq = r.nzNumber('mod-sequence');
        let knownUids: string | null = null;
        let seqMatch: { seqs: string; uids: string } | null = null;
        if (r.maybeSp()) {
          if (r.peek() !== 0x28) {
            knownUids = r.sequenceSet();
            r.maybeSp();
          }
          if (r.peek() === 0x28) {
            r.expect('(');
            const seqs = r.sequenceSet();
            r.sp();
            const uids = r.sequenceSet();
            r.expect(')');
            seqMatch = { seqs, uids };
          }
        }
        r.expect(')');
        r.leave();
        qresync = { uidValidity, modseq, knownUids, seqMatch };
      } else throw new SyntaxError('Unknown select parameter');
    }, { allowEmpty: false });
  }
  r.end();
  return { name, condstore, qresync };
}

/** Leave the selected mailbox (SELECT of another, UNSELECT, CLOSE). */
export async function deselect(s: Session, announce: boolean): Promise<void> {
  const sel = s.selected;
  if (!sel) return;
  sel.close();
  s.selected = null;
  s.state = 'authenticated';
  // RFC 7162 §3.2.11 / RFC 9051: tell the client the old mailbox is closed before the new one's data.
  if (announce && (s.qresync || s.rev2)) await s.untagged('OK [CLOSED] Previous mailbox closed');
}

async function select(s: Session, args: SelectArgs, examine: boolean) {
  if (args.qresync && !s.qresync) throw no('CANNOT', 'QRESYNC needs ENABLE QRESYNC first');
  await deselect(s, true);
  const opened = await openMailbox(s, args.name, 'r');
  if (args.condstore) s.condstore = true;
  const me = s.user.accountId;
  const mailbox = await s.store.getMailboxById(opened.mailbox.id);
  const uids = await s.ctx.hub.listUids(mailbox);
  const readOnly = examine || !/[swtei]/.test(opened.rights);
  const sel = new SelectedMailbox(s, mailbox, uids, { readOnly, rights: opened.rights, path: opened.target.path });
  s.selected = sel;
  s.state = 'selected';
  await s.untagged(sel.flagsLine());
  await s.untagged(sel.permanentFlagsLine());
  await s.untagged(`${sel.exists} EXISTS`);
  if (!s.rev2) {
    const claimed = readOnly ? null : await s.store.claimRecent(mailbox.id, sel.uidNext);
    if (claimed) for (const u of uids) if (u >= claimed[0] && u <= claimed[1]) sel.recent.add(u);
    await s.untagged(`${sel.recent.size} RECENT`);
    const firstUnseen = await s.store.firstUnseenUid(mailbox.id, me);
    if (firstUnseen !== null) {
      const seq = sel.uids.seqOf(firstUnseen);
      if (seq) await s.untagged(`OK [UNSEEN ${seq}] First unseen`);
    }
  }
  await s.untagged(`OK [UIDVALIDITY ${mailbox.uidValidity}] UIDs valid`);
  await s.untagged(`OK [UIDNEXT ${sel.uidNext}] Predicted next UID`);
  await s.untagged(`OK [HIGHESTMODSEQ ${mailbox.highestModseq}] Highest`);
  if (s.rev2) await s.untagged(`LIST () "/" ${s.encodeName(opened.target.path)}`);
  if (args.qresync && args.qresync.uidValidity === mailbox.uidValidity) await qresyncReplay(s, sel, args.qresync);
  return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: `${examine ? 'EXAMINE' : 'SELECT'} completed` };
}

/** RFC 7162 §3.2.5: what the client missed since its MODSEQ: VANISHED (EARLIER), then changed flags. */
async function qresyncReplay(s: Session, sel: SelectedMailbox, q: QresyncParams): Promise<void> {
  const changes = await s.store.changesSince(sel.id, s.user.accountId, q.modseq);
  let known = q.knownUids ? parseSequenceSet(q.knownUids, Math.max(sel.uidNext - 1, 1)) : null;
  if (q.seqMatch && known) {
    // Sequence match data: the client's view agreed with ours up to the first mismatch; below it nothing vanished.
    const seqs = parseSequenceSet(q.seqMatch.seqs, sel.exists).flatMap(([a, b]) => Array.from({ length: Math.min(b - a + 1, 100_000) }, (_, i) => a + i));
    const uids = parseSequenceSet(q.seqMatch.uids, Math.max(sel.uidNext - 1, 1)).flatMap(([a, b]) => Array.from({ length: Math.min(b - a + 1, 100_000) }, (_, i) => a + i));
    let agreeUpTo = 0;
    for (let i = 0; i < Math.min(seqs.length, uids.length); i++) {
      if (sel.uids.seqOf(uids[i]!) === seqs[i]) agreeUpTo = uids[i]!;
      else break;
    }
    if (agreeUpTo) known = known.map(([a, b]) => [Math.max(a, agreeUpTo + 1), b] as [number, number]).filter(([a, b]) => a <= b);
  }
  let vanished: number[];
  if (changes.expunged !== null) vanished = [...changes.expunged];
  else {
    // Tombstones are gone: every UID the client may know that is not here now (RFC 7162 allows extras).
    const here = new Set(sel.uids.toArray());
    const space = known ?? [[1, Math.max(sel.uidNext - 1, 0)] as [number, number]];
    vanished = [];
    for (const [a, b] of space) for (let u = a; u <= b && vanished.length < 1_000_000; u++) if (!here.has(u)) vanished.push(u);
  }
  if (known) vanished = vanished.filter((u) => inRanges(known!, u));
  if (vanished.length) await s.untagged(`VANISHED (EARLIER) ${formatSet(vanished.sort((a, b) => a - b))}`);
  for (const c of changes.changed) {
    const seq = sel.uids.seqOf(c.uid);
    if (seq) await s.untagged(`${seq} FETCH (UID ${c.uid} FLAGS (${sel.flagsFor(c.uid, c.flags).join(' ')}) MODSEQ (${c.modseq}))`);
  }
}

export const selectCommand = defineCommand({
  name: 'SELECT',
  states: AUTHENTICATED,
  parse: parseSelect,
  run: (s, args) => select(s, args, false),
});

export const examineCommand = defineCommand({
  name: 'EXAMINE',
  states: AUTHENTICATED,
  parse: parseSelect,
  run: (s, args) => select(s, args, true),
});

/** RFC 3691: leave without expunging. */
export const unselectCommand = defineCommand({
  name: 'UNSELECT',
  states: SELECTED,
  parse: noArgs,
  async run(s) {
    await deselect(s, false);
  },
});

/** Leave, silently expunging \Deleted messages when the mailbox is writable. */
export const closeCommand = defineCommand({
  name: 'CLOSE',
  states: SELECTED,
  parse: noArgs,
  async run(s) {
    const sel = s.selected!;
    if (!sel.readOnly && sel.can('e')) {
      const result = await s.store.expunge(sel.id);
      if (result.expunged.length) s.ctx.hub.touched(sel.id);
    }
    await deselect(s, false);
  },
});

/** IMAP4rev1 CHECK: a checkpoint; here every write is already durable, so it is a poll. */
export const checkCommand = defineCommand({
  name: 'CHECK',
  states: SELECTED,
  parse: noArgs,
  async run(s) {
    s.selected!.dirty = true;
  },
});

