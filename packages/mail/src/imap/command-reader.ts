import type { Readable } from 'node:stream';
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

/** What follows a streamed literal (RFC 3502 MULTIAPPEND: another message, or the end of the command). */
export type StreamedNext =
  /** No literal on the rest of the line: the command ends with `line` (its caller checks it). */
  | { readonly kind: 'last'; readonly line: Buffer }
  /** `line` (the next message's options) announces a literal the caller accepted: stream it. */
  | { readonly kind: 'message'; readonly line: Buffer; readonly stream: Readable; readonly size: number; readonly binary: boolean }
  /** The announced literal was refused; the rest of the command is consumed and must be answered with `error`. */
  | { readonly kind: 'refused'; readonly error: ImapError }
  | { readonly kind: 'end' }
  | { readonly kind: 'fatal'; readonly error: ImapError };

/** Decides on a literal announced after a streamed one, from the text before it. */
export type NextLiteralDecider = (line: Buffer, size: number, binary: boolean) => Promise<LiteralDecision>;

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
        if (ann.size > this.limits.maxMessageBytes) return this.refuseLiteral(tag, ann.sync, ann.size, this.messageTooBig());
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
   * After a streamed literal: skip what the handler did not read, then read the rest of its line,
   * which may announce another literal (MULTIAPPEND) that `decide` takes or refuses. Each further
   * literal is held to the message limit like the first; the caller bounds their total.
   */
  async nextStreamed(decide: NextLiteralDecider): Promise<StreamedNext> {
    const left = this.streamLeft?.() ?? 0;
    this.streamLeft = null;
    if (left > 0 && (await this.input.skip(left, true)) === 'end') return { kind: 'end' };
    const tail = await this.input.readLine(this.limits.maxLineBytes);
    if (tail.kind === 'end') return { kind: 'end' };
    if (tail.kind === 'over-budget') return { kind: 'fatal', error: lineOverBudget() };
    if (tail.kind === 'too-long') return this.refused(await this.tooLong(tail.head, tail.tail));
    const line = tail.line;
    const ann = literalAnnouncement(line);
    if (!ann) return { kind: 'last', line };
    let decision: LiteralDecision;
    try {
      decision = await decide(line, ann.size, ann.binary);
    } catch (error) {
      decision = { action: 'refuse', error: error instanceof ImapError ? error : bad((error as Error).message) };
    }
    if (decision.action === 'stream' && ann.size > this.limits.maxMessageBytes) {
      decision = { action: 'refuse', error: this.messageTooBig() };
    }
    if (decision.action !== 'stream') {
      const error = decision.action === 'refuse' ? decision.error : bad('Unexpected literal');
      return this.refused(await this.refuseLiteral('*', ann.sync, ann.size, error));
    }
    if (ann.sync) await this.hooks.continueLiteral();
    const { stream, remaining } = this.input.streamExactly(ann.size);
    this.streamLeft = remaining;
    return { kind: 'message', line, stream, size: ann.size, binary: ann.binary };
  }

  /** After a streamed literal that ends its command: null when the rest of the line was empty, else the BAD to send. */
  async finishStreamed(): Promise<ImapError | null | 'end'> {
    const unexpected = () => bad('Unexpected data after the message');
    const next = await this.nextStreamed(async () => ({ action: 'refuse', error: unexpected() }));
    if (next.kind === 'end') return 'end';
    if (next.kind === 'last') return next.line.length === 0 ? null : unexpected();
    if (next.kind === 'message') throw new Error('unreachable: literal refused');
    return next.error;
  }

  private messageTooBig(): ImapError {
    return new ImapError('NO', 'TOOBIG', `Message larger than ${this.limits.maxMessageBytes} bytes`);
  }

  private refused(r: ReadResult): StreamedNext {
    if (r.kind === 'end') return { kind: 'end' };
    if (r.kind === 'fatal') return r;
    return { kind: 'refused', error: r.kind === 'rejected' && r.error ? r.error : bad('Command refused') };
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
