import type { ArgReader } from '../arguments.js';
import { SELECTED, defineCommand } from '../command.js';
import { SyntaxError, no } from '../errors.js';
import { toUidSet } from '../selected-mailbox.js';
import { formatSet } from '../sequence-set.js';
import type { Session } from '../session.js';

interface StoreArgs {
  readonly set: string;
  readonly unchangedSince: number | null;
  readonly operation: 'add' | 'remove' | 'replace';
  readonly silent: boolean;
  readonly flags: string[];
}

function parseStore(r: ArgReader): StoreArgs {
  r.sp();
  const set = r.sequenceSet();
  r.sp();
  let unchangedSince: number | null = null;
  if (r.peek() === 0x28) {
    r.list(() => {
      if (r.atom('store modifier').toUpperCase() !== 'UNCHANGEDSINCE') throw new SyntaxError('Unknown STORE modifier');
      r.sp();
      unchangedSince = r.number('mod-sequence');
    }, { allowEmpty: false });
    r.sp();
  }
  const word = r.atom('STORE item').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(word);
  if (!m) throw new SyntaxError('Expected FLAGS, +FLAGS or -FLAGS');
  r.sp();
  const flags: string[] = [];
  if (r.peek() === 0x28) flags.push(...r.list(() => r.flag()));
  else {
    flags.push(r.flag());
    while (r.maybeSp()) flags.push(r.flag());
  }
  r.end();
  if (flags.length > 200) throw new SyntaxError('Too many flags');
  return { set, unchangedSince, operation: m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'replace', silent: Boolean(m[2]), flags };
}

/** RFC 4314: \Seen needs s, \Deleted needs t, every other flag and keyword needs w. */
function permitted(rights: string, flag: string): boolean {
  const f = flag.toLowerCase();
  if (f === '\\seen') return rights.includes('s');
  if (f === '\\deleted') return rights.includes('t');
  return rights.includes('w');
}

async function runStore(s: Session, args: StoreArgs, byUid: boolean) {
  const sel = s.selected!;
  if (sel.readOnly) throw no('READ-ONLY', 'The mailbox is read-only');
  if (args.unchangedSince !== null) s.condstore = true;
  let flags = args.flags;
  if (flags.some((f) => f.toLowerCase() === '\\recent')) throw new SyntaxError('\\Recent cannot be stored');
  if (args.operation === 'replace') {
    if (!'stw'.split('').every((r) => sel.can(r))) throw no('NOPERM', 'Replacing flags needs the s, t and w rights');
  } else {
    flags = flags.filter((f) => permitted(sel.rights, f));
    if (!flags.length && args.flags.length) throw no('NOPERM', 'Permission denied for these flags');
  }
  const set = sel.resolve(args.set, byUid);
  if (!set.uids.length) return;
  const result = await s.store.storeFlags(sel.id, s.user.accountId, toUidSet(set.uids), args.operation, flags, {
    ...(args.unchangedSince !== null ? { unchangedSince: args.unchangedSince } : {}),
  });
  if (result.keywords.length !== sel.keywords.length) {
    sel.keywords = result.keywords;
    await s.untagged(sel.flagsLine());
    await s.untagged(sel.permanentFlagsLine());
  }
  if (result.updated.length) sel.ownWrite(result.highestModseq);
  const updated = new Map(result.updated.map((u) => [u.uid, u]));
  const modifiedSet = new Set(result.modified);
  const reported = new Set<number>();
  const line = (seq: number, uid: number, flags: readonly string[] | null, modseq: number) => {
    const parts = [`UID ${uid}`];
    if (flags) parts.push(`FLAGS (${sel.flagsFor(uid, flags).join(' ')})`);
    if (s.condstore) parts.push(`MODSEQ (${modseq})`);
    return s.untagged(`${seq} FETCH (${parts.join(' ')})`);
  };
  for (const u of result.updated) {
    const seq = sel.uids.seqOf(u.uid);
    if (!seq) continue;
    reported.add(u.uid);
    if (!args.silent) await line(seq, u.uid, u.flags, u.modseq);
    else if (s.condstore) await line(seq, u.uid, null, u.modseq);
  }
  // RFC 9051: without .SILENT every message of the set gets its (possibly unchanged) flags.
  const rest = set.uids.filter((u) => !reported.has(u) && !modifiedSet.has(u) && !updated.has(u));
  if (!args.silent && rest.length) {
    for await (const row of s.store.fetch(sel.id, s.user.accountId, toUidSet(rest))) {
      const seq = sel.uids.seqOf(row.uid);
      if (seq) await line(seq, row.uid, row.flags, row.modseq);
    }
  }
  if (result.modified.length) {
    const ids = byUid ? result.modified : result.modified.map((u) => sel.uids.seqOf(u)).filter(Boolean).sort((a, b) => a - b);
    return { code: `MODIFIED ${formatSet(ids)}`, text: 'Conditional STORE failed for some messages' };
  }
  return undefined;
}

export const storeCommand = defineCommand({
  name: 'STORE',
  states: SELECTED,
  noExpunge: true,
  parse: parseStore,
  run: (s, args) => runStore(s, args, false),
});

export const uidStoreCommand = defineCommand({
  name: 'UID STORE',
  states: SELECTED,
  parse: parseStore,
  run: (s, args) => runStore(s, args, true),
});
