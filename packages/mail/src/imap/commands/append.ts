import { isPalabreError } from '@palabre/core';
import { newMessageOf, putAnalysed } from '../../mime/analysed-blob.js';
import { ArgReader, type LiteralPart, type Segment } from '../arguments.js';
import { AUTHENTICATED, defineCommand } from '../command.js';
import { ImapError, no } from '../errors.js';
import type { Session } from '../session.js';
import { destination } from './copy-move.js';

interface AppendArgs {
  readonly mailbox: string;
  readonly flags: string[];
  readonly date: Date | null;
  readonly message: LiteralPart;
}

const PREFIX = /^\S+ APPEND/i;

/** mailbox [SP flag-list] [SP date-time] SP — everything before the message literal. */
function readHead(r: ArgReader, s: Session): { mailbox: string; flags: string[]; date: Date | null } | 'name-literal' {
  r.sp();
  if (r.atPendingLiteral()) return 'name-literal';
  const mailbox = s.decodeName(r.astringBytes('mailbox'));
  r.sp();
  let flags: string[] = [];
  if (r.peek() === 0x28) {
    flags = r.list(() => r.flag());
    r.sp();
  }
  let date: Date | null = null;
  if (r.peek() === 0x22) {
    date = r.dateTime();
    r.sp();
  }
  return { mailbox, flags, date };
}

function reader(segments: readonly Segment[]): ArgReader {
  const r = new ArgReader(segments);
  r.skipTo(PREFIX.exec((segments[0] as Buffer).toString('latin1'))![0].length);
  return r;
}

/** RFC 4314 and RFC 9051: flags the user may set are kept, others dropped (\Recent never). */
function allowedFlags(flags: readonly string[], rights: string): string[] {
  return flags.filter((f) => {
    const l = f.toLowerCase();
    if (l === '\\recent') return false;
    if (l === '\\seen') return rights.includes('s');
    if (l === '\\deleted') return rights.includes('t');
    return rights.includes('w');
  });
}

export const appendCommand = defineCommand<AppendArgs>({
  name: 'APPEND',
  states: AUTHENTICATED,
  /** Vet the message before the client sends it: TRYCREATE, TOOBIG, OVERQUOTA come before `+`. */
  async literal(s, segments, size) {
    const head = readHead(reader(segments), s);
    if (head === 'name-literal') return { action: 'buffer' };
    const dest = await destination(s, head.mailbox);
    if (size === 0) return { action: 'refuse', error: no('CANNOT', 'Empty messages are not stored') };
    if (size > s.ctx.limits.maxMessageBytes) return { action: 'refuse', error: no('TOOBIG', `Messages are limited to ${s.ctx.limits.maxMessageBytes} bytes`) };
    const quota = await s.store.quota(dest.mailbox.accountId);
    if (quota.limitBytes !== null && quota.usedBytes + size > quota.limitBytes) return { action: 'refuse', error: no('OVERQUOTA', 'Quota exceeded') };
    return { action: 'stream' };
  },
  parse(r, s) {
    const head = readHead(r, s);
    if (head === 'name-literal') throw new ImapError('BAD', null, 'Missing message');
    const message = r.messageLiteral();
    if (message.kind === 'literal') r.end();
    return { ...head, message };
  },
  async run(s, args) {
    const dest = await destination(s, args.mailbox);
    const message = args.message;
    const source: AsyncIterable<Buffer> | Buffer[] = message.kind === 'stream' ? (message.stream as AsyncIterable<Buffer>) : [message.data];
    const stored = await putAnalysed(s.ctx.blobs, source, { maxBytes: s.ctx.limits.maxMessageBytes });
    const tail = await s.finishStreamed();
    if (tail) throw tail;
    if (stored.blob.size === 0) throw no('CANNOT', 'Empty messages are not stored');
    try {
      const result = await s.store.append(
        dest.mailbox.id,
        newMessageOf(stored, { internalDate: args.date ?? s.ctx.clock.now(), flags: allowedFlags(args.flags, dest.rights) }),
        s.user.accountId,
      );
      s.ctx.hub.touched(dest.mailbox.id);
      return { code: `APPENDUID ${result.uidValidity} ${result.uid}`, text: 'APPEND completed' };
    } catch (error) {
      if (isPalabreError(error, 'quota')) throw no('OVERQUOTA', 'Quota exceeded');
      if (isPalabreError(error, 'too-large')) throw no('LIMIT', error.message);
      throw error;
    }
  },
});
