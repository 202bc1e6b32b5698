import { SELECTED, defineCommand, noArgs } from '../command.js';
import { no } from '../errors.js';
import { toUidSet } from '../selected-mailbox.js';
import type { Session } from '../session.js';

async function expunge(s: Session, uids: number[] | null): Promise<void> {
  const sel = s.selected!;
  if (sel.readOnly) throw no('READ-ONLY', 'The mailbox is read-only');
  if (!sel.can('e')) throw no('NOPERM', 'Permission denied (needs right "e")');
  if (uids && !uids.length) return;
  const result = await s.store.expunge(sel.id, uids ? { uids: toUidSet(uids) } : {});
  if (result.expunged.length) sel.ownWrite(result.highestModseq);
  await sel.reportExpunged(result.expunged.filter((u) => sel.uids.seqOf(u)));
}

export const expungeCommand = defineCommand({
  name: 'EXPUNGE',
  states: SELECTED,
  parse: noArgs,
  run: (s) => expunge(s, null),
});

/** RFC 4315 UID EXPUNGE: only the named messages. */
export const uidExpungeCommand = defineCommand({
  name: 'UID EXPUNGE',
  states: SELECTED,
  parse(r) {
    r.sp();
    const set = r.sequenceSet();
    r.end();
    return set;
  },
  run: (s, set) => expunge(s, s.selected!.resolve(set, true).uids),
});

export { expunge };
