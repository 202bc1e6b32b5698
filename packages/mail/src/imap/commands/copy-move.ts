import { isPalabreError, type CopyResult } from '@palabre/core';
import type { ArgReader } from '../arguments.js';
import { openMailbox, resolveTarget } from '../access.js';
import { SELECTED, defineCommand, onlyMailbox } from '../command.js';
import { ImapError, no } from '../errors.js';
import { toUidSet } from '../selected-mailbox.js';
import { formatSet } from '../sequence-set.js';
import type { Session } from '../session.js';
import { junkLesson } from '../junk-training.js';

interface CopyArgs {
  readonly set: string;
  readonly mailbox: string;
}

function parseCopy(r: ArgReader, s: Session): CopyArgs {
  r.sp();
  const set = r.sequenceSet();
  const mailbox = onlyMailbox(r, s);
  return { set, mailbox };
}

/** The destination of COPY/MOVE/APPEND: missing → NO [TRYCREATE] (RFC 9051), no insert right → NOPERM. */
export async function destination(s: Session, name: string) {
  try {
    return await openMailbox(s, name, 'i');
  } catch (error) {
    if (error instanceof ImapError && error.code === 'NONEXISTENT') {
      const target = await resolveTarget(s, name).catch(() => null);
      // Only for the user's own namespace: a shared name may not be creatable at all.
      if (target && !target.shared) throw no('TRYCREATE', 'No such mailbox; create it first');
    }
    throw error;
  }
}

/** RFC 4315 COPYUID: destination UIDVALIDITY, source set, destination set (same order). */
function copyUid(result: CopyResult): string {
  return `COPYUID ${result.uidValidity} ${formatSet(result.mapping.map(([a]) => a))} ${formatSet(result.mapping.map(([, b]) => b))}`;
}

function mapQuota(error: unknown): never {
  if (isPalabreError(error, 'quota')) throw no('OVERQUOTA', 'Quota exceeded in the destination mailbox');
  throw error;
}

/** A user filing into Junk (or out of it) teaches the spam filter, after the answer, never before. */
async function teach(s: Session, fromId: string, to: { id: string; specialUse: import('@palabre/core').SpecialUse | null }, uids: readonly number[]): Promise<void> {
  const training = s.ctx.training;
  if (!training || uids.length === 0 || fromId === to.id) return;
  const from = await s.store.getMailboxById(fromId).catch(() => null);
  const lesson = from ? junkLesson(from.specialUse, to.specialUse) : null;
  if (lesson) training.learn(lesson, to.id, s.user.accountId, uids);
}

async function copy(s: Session, args: CopyArgs, byUid: boolean, move: boolean) {
  const sel = s.selected!;
  if (move && (sel.readOnly || !sel.can('t') || !sel.can('e'))) throw no(sel.readOnly ? 'READ-ONLY' : 'NOPERM', 'Moving out of this mailbox is not permitted');
  const set = sel.resolve(args.set, byUid);
  const dest = await destination(s, args.mailbox);
  if (!set.uids.length) return undefined;
  const uids = toUidSet(set.uids);
  const viewer = s.user.accountId;
  if (!move) {
    const result = await s.store.copy(sel.id, uids, dest.mailbox.id, viewer).catch(mapQuota);
    s.ctx.hub.touched(dest.mailbox.id);
    await teach(s, sel.id, dest.mailbox, result.mapping.map(([, b]) => b));
    if (!result.mapping.length) {
      if (!byUid) throw no('EXPUNGEISSUED', 'Some of the requested messages no longer exist');
      return undefined;
    }
    return { code: copyUid(result), text: 'COPY completed' };
  }
  const result = await s.store.move(sel.id, uids, dest.mailbox.id, viewer).catch(mapQuota);
  if (dest.mailbox.id !== sel.id) s.ctx.hub.touched(dest.mailbox.id);
  await teach(s, sel.id, dest.mailbox, result.mapping.map(([, b]) => b));
  if (result.mapping.length) {
    await s.untagged(`OK [${copyUid(result)}] Moved`);
  }
  if (result.expunged.length) sel.ownWrite(result.highestModseq);
  // MOVE reports its own expunges even though it takes sequence numbers (RFC 6851 §4.3).
  await sel.reportExpunged(result.expunged.filter((u) => sel.uids.seqOf(u)));
  if (dest.mailbox.id === sel.id) sel.dirty = true;
  return { text: 'MOVE completed' };
}

export const copyCommand = defineCommand({
  name: 'COPY',
  states: SELECTED,
  noExpunge: true,
  parse: parseCopy,
  run: (s, args) => copy(s, args, false, false),
});

export const uidCopyCommand = defineCommand({
  name: 'UID COPY',
  states: SELECTED,
  parse: parseCopy,
  run: (s, args) => copy(s, args, true, false),
});

export const moveCommand = defineCommand({
  name: 'MOVE',
  states: SELECTED,
  noExpunge: true,
  parse: parseCopy,
  run: (s, args) => copy(s, args, false, true),
});

export const uidMoveCommand = defineCommand({
  name: 'UID MOVE',
  states: SELECTED,
  parse: parseCopy,
  run: (s, args) => copy(s, args, true, true),
});
