import { literalAnnouncement, type Segment } from './arguments.js';
import { ImapError, bad } from './errors.js';
import type { InputReader } from './input-reader.js';

export interface ReaderLimits {
  /** One line of a command (Dovecot's imap_max_line_length is 64 KiB). */
  readonly maxLineBytes: number;
  /** A literal that is not a message (mailbox names, search strings). */
  readonly maxLiteralBytes: number;
  /** All lines and held literals of one command. */
  readonly maxCommandBytes: number;
  /** An APPEND message (APPENDLIMIT). */
  readonly maxMessageBytes: number;
}

/** What the session decides when a literal is announced. */
export type LiteralDecision = { readonly action: 'buffer' } | { readonly action: 'stream' } | { readonly action: 'refuse'; readonly error: ImapError };

export interface CommandHead {
  readonly tag: string;
  /** Upper-cased, `UID FETCH` for UID commands. */
  readonly name: string;
}

export type ReadResult =
  | { readonly kind: 'command'; readonly head: CommandHead; readonly segments: Segment[]; readonly streamed: boolean }
  /** The command was answered already (BAD before a literal) or must be answered with `error`. */
  | { readonly kind: 'rejected'; readonly tag: string; readonly error: ImapError | null }
  | { readonly kind: 'end' }
  /** Unrecoverable: say BYE and close. */
  | { readonly kind: 'fatal'; readonly error: ImapError };

export interface CommandReaderHooks {
  /** Sent before the client may send a synchronising literal. */
  continueLiteral(): Promise<void>;
  /** Early answer for a command that cannot succeed (unknown, wrong state), given before its literal. */
  precheck(head: CommandHead): ImapError | null;
  decideLiteral(head: CommandHead, segments: readonly Segment[], size: number, binary: boolean): Promise<LiteralDecision>;
}

// tag = 1*<ASTRING-CHAR except "+">
const TAG = /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c\x7e]+$/;
const HEAD = /^(\S+) ([A-Za-z0-9=-]+)(?: ([A-Za-z]+))?/;

// What passes the input's discard budget (COMPRESS: inflating it to throw it away is the attack).
const lineOverBudget = () => new ImapError('BYE', 'TOOBIG', 'Command line too long, closing');
const literalOverBudget = () => new ImapError('BYE', 'TOOBIG', 'Literal too large, closing');

/**
 * Frames commands out of the input: lines and the literals between them, with `+` continuations only
 * for literals we will take. Oversized lines and literals, bad tags and commands that cannot succeed
 * are answered without reading what the client was told not to send; a non-synchronising literal we
 * cannot take (it is already on its way) ends the connection.
 */
export class CommandReader {
  private streamLeft: (() => number) | null = null;

  constructor(
    private readonly input: InputReader,
    private readonly limits: ReaderLimits,
    private readonly hooks: CommandReaderHooks,
  ) {}

  async read(): Promise<ReadResult> {
    this.input.beginCommand();
    const first = await this.input.readLine(this.limits.maxLineBytes);
    if (first.kind === 'end') return { kind: 'end' };
    if (first.kind === 'over-budget') return { kind: 'fatal', error: lineOverBudget() };
    if (first.kind === 'too-long') return this.tooLong(first.head, first.tail);
    const line = first.line;
    const text = line.toString('latin1');
    const m = HEAD.exec(text);
    const tag = m?.[1] ?? (text.split(' ')[0] || '*');
    if (!m || !TAG.test(tag)) {
      const error = bad(m ? 'Invalid tag' : 'Missing command');
      return this.skipRest(line, '*', error);
    }
    let name = m[2]!.toUpperCase();
    if (name === 'UID' && m[3]) name = `UID ${m[3].toUpperCase()}`;
    const head = { tag, name };
    const early = this.hooks.precheck(head);
    if (early) return this.skipRest(line, tag, early);

    const segments: Segment[] = [line];
    let total = line.length;
    for (;;) {
      const last = segments[segments.length - 1] as Buffer;
      const ann = literalAnnouncement(last);
      if (!ann) return { kind: 'command', head, segments, streamed: false };
      const decision = await this.hooks.decideLiteral(head, segments, ann.size, ann.binary);
      if (decision.action === 'refuse') return this.refuseLiteral(tag, ann.sync, ann.size, decision.error);
      if (decision.action === 'stream') {
        if (ann.size > this.limits.maxMessageBytes) {
          return this.refuseLiteral(tag, ann.sync, ann.size, new ImapError('NO', 'TOOBIG', `Message larger than ${this.limits.maxMessageBytes} bytes`));
        }
        if (ann.sync) await this.hooks.continueLiteral();
        const { stream, remaining } = this.input.streamExactly(ann.size);
        this.streamLeft = remaining;
        segments.push({ kind: 'stream', stream, size: ann.size, binary: ann.binary });
        return { kind: 'command', head, segments, streamed: true };
      }
      if (ann.size > this.limits.maxLiteralBytes || total + ann.size > this.limits.maxCommandBytes) {
        return this.refuseLiteral(tag, ann.sync, ann.size, new ImapError('BAD', 'TOOBIG', 'Literal too large'));
      }
      if (ann.sync) await this.hooks.continueLiteral();
      const data = await this.input.readExactly(ann.size);
      if (!data) return { kind: 'end' };
      segments.push({ kind: 'literal', data, binary: ann.binary });
      total += ann.size;
      const next = await this.input.readLine(this.limits.maxLineBytes);
      if (next.kind === 'end') return { kind: 'end' };
      if (next.kind === 'over-budget') return { kind: 'fatal', error: lineOverBudget() };
      if (next.kind === 'too-long') return this.tooLong(next.head, next.tail, tag);
      segments.push(next.line);
      total += next.line.length;
      if (total > this.limits.maxCommandBytes) return this.skipRest(next.line, tag, new ImapError('BAD', 'TOOBIG', 'Command too large'));
    }
  }

  /**
   * After a streamed literal: skip what the handler did not read, then read the rest of the command,
   * which must be empty (no MULTIAPPEND or CATENATE here). Returns null when it was, else the BAD to send.
   */
  async finishStreamed(): Promise<ImapError | null | 'end'> {
    const left = this.streamLeft?.() ?? 0;
    this.streamLeft = null;
    if (left > 0 && (await this.input.skip(left, true)) === 'end') return 'end';
    const tail = await this.input.readLine(this.limits.maxLineBytes);
    if (tail.kind === 'end') return 'end';
    if (tail.kind === 'over-budget') return lineOverBudget();
    if (tail.kind === 'too-long') {
      const r = await this.tooLong(tail.head, tail.tail);
      return r.kind === 'fatal' ? r.error : bad('Unexpected data after the message');
    }
    if (tail.line.length === 0) return null;
    const r = await this.skipRest(tail.line, '*', bad('Unexpected data after the message'));
    return r.kind === 'fatal' ? r.error : bad('Unexpected data after the message');
  }

  /** The command is answered with `error`; consume whatever non-synchronising literals it still carries. */
  private async skipRest(line: Buffer, tag: string, error: ImapError): Promise<ReadResult> {
    let current = line;
    for (let rounds = 0; rounds < 1000; rounds++) {
      const ann = literalAnnouncement(current);
      // A synchronising literal is never sent without our `+`: the command ends here.
      if (!ann || ann.sync) return { kind: 'rejected', tag, error };
      if (ann.size > this.limits.maxMessageBytes) return { kind: 'fatal', error: literalOverBudget() };
      const skipped = await this.input.skip(ann.size);
      if (skipped !== 'skipped') return skipped === 'end' ? { kind: 'end' } : { kind: 'fatal', error: literalOverBudget() };
      const next = await this.input.readLine(this.limits.maxLineBytes);
      if (next.kind === 'end') return { kind: 'end' };
      if (next.kind === 'over-budget') return { kind: 'fatal', error: lineOverBudget() };
      if (next.kind === 'too-long') return { kind: 'rejected', tag, error };
      current = next.line;
    }
    return { kind: 'fatal', error: new ImapError('BYE', null, 'Too many literals, closing') };
  }

  private async refuseLiteral(tag: string, sync: boolean, size: number, error: ImapError): Promise<ReadResult> {
    if (sync) return { kind: 'rejected', tag, error };
    // LITERAL+: the bytes are coming anyway. Skip them if we may, else hang up.
    if (size > this.limits.maxMessageBytes) return { kind: 'fatal', error: literalOverBudget() };
    const skipped = await this.input.skip(size);
    if (skipped !== 'skipped') return skipped === 'end' ? { kind: 'end' } : { kind: 'fatal', error: literalOverBudget() };
    const next = await this.input.readLine(this.limits.maxLineBytes);
    if (next.kind === 'end') return { kind: 'end' };
    if (next.kind === 'over-budget') return { kind: 'fatal', error: lineOverBudget() };
    if (next.kind === 'too-long') return { kind: 'rejected', tag, error };
    return this.skipRest(next.line, tag, error);
  }

  private async tooLong(head: Buffer, tail: Buffer, knownTag?: string): Promise<ReadResult> {
    const tag = knownTag ?? (/^(\S+) /.exec(head.toString('latin1'))?.[1] ?? '*');
    const error = new ImapError('BAD', 'TOOBIG', 'Command line too long');
    return this.skipRest(tail, TAG.test(tag) ? tag : '*', error);
  }
}
