import { isPalabreError, type NewMessage } from '@palabre/core';
import { newMessageOf, putAnalysed, type AnalysedBlob } from '../../mime/analysed-blob.js';
import { ArgReader, type LiteralPart, type Segment } from '../arguments.js';
import { AUTHENTICATED, defineCommand } from '../command.js';
import type { LiteralDecision } from '../command-reader.js';
import { ImapError, SyntaxError, bad, no } from '../errors.js';
import { headerText } from '../rfc6855.js';
import { formatSet } from '../sequence-set.js';
import type { Session } from '../session.js';
import { destination } from './copy-move.js';

/** append-opts (RFC 3502): what each message of an APPEND carries besides its bytes. */
interface MessageOptions {
  readonly flags: string[];
  readonly date: Date | null;
  /** RFC 6855 §4 `UTF8 (literal8)`: the message is followed by `)`. */
  readonly utf8: boolean;
}

interface AppendArgs extends MessageOptions {
  readonly mailbox: string;
  readonly message: LiteralPart;
}

/** What the messages already taken by one APPEND add up to (the limits and the quota are on their total). */
interface Taken {
  readonly count: number;
  readonly bytes: number;
}

const PREFIX = /^\S+ APPEND/i;

/** `[flag-list SP] [date-time SP] ["UTF8" SP "("]` after the SP that follows the mailbox or the previous message. */
function readOptions(r: ArgReader, s: Session): MessageOptions {
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
  let utf8 = false;
  if (r.peekAtom().toUpperCase() === 'UTF8') {
    if (!s.utf8Accept) throw new SyntaxError('APPEND UTF8 needs ENABLE UTF8=ACCEPT');
    r.atom();
    r.sp();
    r.expect('(');
    if (r.peek() !== 0x7e) throw new SyntaxError('APPEND UTF8 takes a literal8');
    utf8 = true;
  }
  return { flags, date, utf8 };
}

/** mailbox SP append-opts — everything before the first message literal. */
function readHead(r: ArgReader, s: Session): ({ mailbox: string } & MessageOptions) | 'name-literal' {
  r.sp();
  if (r.atPendingLiteral()) return 'name-literal';
  const mailbox = s.decodeName(r.astringBytes('mailbox'));
  r.sp();
  return { mailbox, ...readOptions(r, s) };
}

/** The options line of a further message (`SP append-opts literal`), as the reader hands it over. */
function readNextOptions(line: Buffer, s: Session): MessageOptions {
  const r = new ArgReader([line]);
  try {
    r.sp();
    const options = readOptions(r, s);
    if (!r.atPendingLiteral()) throw new SyntaxError('Expected a message literal');
    return options;
  } catch (error) {
    if (error instanceof SyntaxError) throw bad(error.message);
    throw error;
  }
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

/**
 * Vet one announced message before the client sends it (before `+`): its size, the count and total of
 * the APPEND so far, and the owner's quota for all of them together.
 */
async function vet(s: Session, accountId: string, size: number, taken: Taken): Promise<LiteralDecision> {
  const limits = s.ctx.limits;
  const refuse = (error: ImapError): LiteralDecision => ({ action: 'refuse', error });
  if (size === 0) return refuse(no('CANNOT', 'Empty messages are not stored'));
  if (size > limits.maxMessageBytes) return refuse(no('TOOBIG', `Messages are limited to ${limits.maxMessageBytes} bytes`));
  if (taken.count + 1 > limits.maxAppendMessages) return refuse(no('LIMIT', `At most ${limits.maxAppendMessages} messages in one APPEND`));
  if (taken.bytes + size > limits.maxAppendTotalBytes) return refuse(no('TOOBIG', `The messages of one APPEND are limited to ${limits.maxAppendTotalBytes} bytes together`));
  const quota = await s.store.quota(accountId);
  if (quota.limitBytes !== null && quota.usedBytes + taken.bytes + size > quota.limitBytes) return refuse(no('OVERQUOTA', 'Quota exceeded'));
  if (quota.limitMessages !== null && quota.messages + taken.count + 1 > quota.limitMessages) return refuse(no('OVERQUOTA', 'Message count limit reached'));
  return { action: 'stream' };
}

/**
 * RFC 6855 §4: 8-bit header fields only from a client that enabled UTF-8 (UTF8=ACCEPT or IMAP4rev2),
 * and then only as UTF-8 (RFC 6532).
 */
async function vetHeader(s: Session, stored: AnalysedBlob): Promise<void> {
  const text = await headerText(s.ctx.blobs, stored);
  if (text === 'ascii') return;
  if (!s.utf8) throw no('CANNOT', 'Header fields with 8-bit characters need ENABLE UTF8=ACCEPT (RFC 6855)');
  if (text === 'invalid') throw no('CANNOT', 'The header section is not valid UTF-8 (RFC 6532)');
}

/**
 * APPEND, with RFC 3502 MULTIAPPEND: each message is written to the blob store as it arrives and
 * vetted before its `+`; the mailbox gets all of them in one transaction at the end, or none (a
 * refused or malformed message, a lost connection, the quota: nothing is stored).
 */
export const appendCommand = defineCommand<AppendArgs>({
  name: 'APPEND',
  states: AUTHENTICATED,
  async literal(s, segments, size) {
    const head = readHead(reader(segments), s);
    if (head === 'name-literal') return { action: 'buffer' };
    const dest = await destination(s, head.mailbox);
    return vet(s, dest.mailbox.accountId, size, { count: 0, bytes: 0 });
  },
  parse(r, s) {
    const head = readHead(r, s);
    if (head === 'name-literal') throw new ImapError('BAD', null, 'Missing message');
    const message = r.messageLiteral();
    if (message.kind === 'literal') {
      if (head.utf8) r.expect(')');
      r.end();
    }
    return { ...head, message };
  },
  async run(s, args) {
    const dest = await destination(s, args.mailbox);
    const maxBytes = s.ctx.limits.maxMessageBytes;
    const messages: NewMessage[] = [];
    let taken: Taken = { count: 0, bytes: 0 };
    let options: MessageOptions = args;
    let part = args.message;
    let nextOptions = null as MessageOptions | null;
    for (;;) {
      const source: AsyncIterable<Buffer> | Buffer[] = part.kind === 'stream' ? (part.stream as AsyncIterable<Buffer>) : [part.data];
      const stored = await putAnalysed(s.ctx.blobs, source, { maxBytes });
      if (stored.blob.size === 0) throw no('CANNOT', 'Empty messages are not stored');
      await vetHeader(s, stored);
      messages.push(newMessageOf(stored, { internalDate: options.date ?? s.ctx.clock.now(), flags: allowedFlags(options.flags, dest.rights) }));
      taken = { count: taken.count + 1, bytes: taken.bytes + stored.blob.size };
      if (part.kind !== 'stream') break;
      const seen = taken;
      const closing = options.utf8;
      // After `UTF8 (literal8`: the `)` that closes it, then what follows any message.
      const rest = (line: Buffer): Buffer => {
        if (!closing) return line;
        if (line[0] !== 0x29) throw bad('Expected ) after the UTF8 message');
        return line.subarray(1);
      };
      const next = await s.nextStreamed(async (line, size) => {
        nextOptions = readNextOptions(rest(line), s);
        return vet(s, dest.mailbox.accountId, size, seen);
      });
      if (next.kind === 'last') {
        if (rest(next.line).length > 0) throw bad('Unexpected data after the message');
        break;
      }
      part = { kind: 'stream', stream: next.stream, size: next.size, binary: next.binary };
      options = nextOptions!;
    }
    try {
      const result = await s.store.appendMany(dest.mailbox.id, messages, s.user.accountId);
      s.ctx.hub.touched(dest.mailbox.id);
      return { code: `APPENDUID ${result.uidValidity} ${formatSet(result.uids)}`, text: 'APPEND completed' };
    } catch (error) {
      if (isPalabreError(error, 'quota')) throw no('OVERQUOTA', 'Quota exceeded');
      if (isPalabreError(error, 'too-large')) throw no('LIMIT', error.message);
      throw error;
    }
  },
});
