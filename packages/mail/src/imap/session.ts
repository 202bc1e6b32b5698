import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { TLSSocket, type SecureContext, type TLSSocketOptions } from 'node:tls';
import { createInflateRaw } from 'node:zlib';
import { secondsSince, type Authenticator, type BlobStore, type Clock, type DirectoryStore, type Logger, type MailMetadataStore, type MailStore, type Principal } from '@palabre/core';
import { ArgReader, type Segment } from './arguments.js';
import { capabilities } from './capabilities.js';
import type { CommandDef, CommandResult, SessionState } from './command.js';
import type { JunkTraining } from './junk-training.js';
import { CommandReader, type CommandHead, type LiteralDecision, type NextLiteralDecider, type ReaderLimits, type StreamedNext } from './command-reader.js';
import { ImapError, bad, no, toImapError } from './errors.js';
import { InputReader } from './input-reader.js';
import type { MailboxHub } from './mailbox-hub.js';
import type { ImapMeasures } from './imap-metrics.js';
import { decodeMutf7, encodeMutf7 } from './mutf7.js';
import { ResponseWriter } from './response-writer.js';
import type { SelectedMailbox } from './selected-mailbox.js';
import type { NotifySession } from './rfc5465.js';
import { fetchNew } from './commands/fetch.js';

export interface ImapLimits extends ReaderLimits {
  /** Bytes buffered from a client that pipelines faster than we answer. */
  readonly maxBufferedInput: number;
  /** Unauthenticated connection idle time before BYE. */
  readonly preAuthTimeoutMs: number;
  /** Authenticated connection idle time (outside IDLE) before BYE (RFC 9051: at least 30 min). */
  readonly authTimeoutMs: number;
  /** `* OK Still here` interval during IDLE. */
  readonly idleKeepaliveMs: number;
  /** Failed LOGIN/AUTHENTICATE attempts on one connection before BYE. */
  readonly maxAuthFailures: number;
  /** All the messages of one MULTIAPPEND (RFC 3502), each also within maxMessageBytes. */
  readonly maxAppendTotalBytes: number;
  readonly maxAppendMessages: number;
}

export const DEFAULT_LIMITS: ImapLimits = {
  maxLineBytes: 64 * 1024,
  maxLiteralBytes: 64 * 1024,
  maxCommandBytes: 256 * 1024,
  maxMessageBytes: 50 * 1024 * 1024,
  maxBufferedInput: 256 * 1024,
  preAuthTimeoutMs: 60_000,
  authTimeoutMs: 30 * 60_000,
  idleKeepaliveMs: 2 * 60_000,
  maxAuthFailures: 5,
  maxAppendTotalBytes: 100 * 1024 * 1024,
  maxAppendMessages: 1000,
};

export interface SessionContext {
  readonly store: MailStore;
  readonly blobs: BlobStore;
  readonly directory: DirectoryStore;
  readonly authenticator: Authenticator;
  /** RFC 5464 METADATA entries (none: METADATA is not offered). */
  readonly metadata?: MailMetadataStore;
  readonly hub: MailboxHub;
  readonly log: Logger;
  readonly clock: Clock;
  readonly limits: ImapLimits;
  /** The current certificate: replaced by the server's setSecureContext (a reload), read at each STARTTLS. */
  tls: SecureContext | null;
  /** Chooses a certificate by the client's server name (SNI); none: `tls` for every name. */
  readonly sni?: TLSSocketOptions['SNICallback'];
  readonly insecureAuth: boolean;
  readonly compress: boolean;
  /** SEARCH asks the store to decide what it can (ImapServerOptions.indexedSearch). */
  readonly indexedSearch: boolean;
  readonly commands: ReadonlyMap<string, CommandDef<any>>;
  readonly greeting: string;
  /** Called when the session is over (for the server's bookkeeping). */
  readonly onClose: (session: Session) => void;
  readonly measures: ImapMeasures;
  /** Moves into and out of Junk teach the spam filter (none: nothing learns). */
  readonly training?: JunkTraining;
}

const PREFIX = /^\S+ (?:[Uu][Ii][Dd] )?[A-Za-z0-9=-]+/;

/**
 * One IMAP connection: reads commands one at a time (pipelined ones wait, within the input bound),
 * runs each declared command in its allowed states, reports mailbox changes where RFC 9051 allows,
 * and owns the transport (STARTTLS, COMPRESS=DEFLATE, timeouts).
 */
export class Session {
  readonly id = randomBytes(6).toString('hex');
  state: SessionState = 'not-authenticated';
  principal: Principal | null = null;
  groupIds: string[] = [];
  secure: boolean;
  /** ENABLE IMAP4rev2: UTF-8 names, ESEARCH answers, no \Recent. */
  rev2 = false;
  /** ENABLE UTF8=ACCEPT (RFC 6855): UTF-8 names and quoted strings, APPEND UTF8, no SEARCH CHARSET. */
  utf8Accept = false;
  condstore = false;
  qresync = false;
  selected: SelectedMailbox | null = null;
  /** RFC 5182 `$`: UIDs saved by the last SEARCH RETURN (SAVE). */
  searchResult: number[] = [];
  authFailures = 0;
  readonly log: Logger;
  readonly ip: string | null;
  private socket: Socket;
  private readonly rawSocket: Socket;
  private readonly input: InputReader;
  private readonly reader: CommandReader;
  readonly writer: ResponseWriter;
  private streamPending = false;
  /** A command is running (its responses may be mid-literal: no BYE may be written now). */
  private executing = false;
  /** Server shutdown asked while a command ran: say BYE when it is done. */
  private draining: string | null = null;
  private idleWake: (() => void) | null = null;
  private timedOut = false;
  /** The timeout last set, and on which socket. */
  private timeoutMs = -1;
  private timedSocket: Socket | null = null;
  private closed = false;
  idling = false;
  /** Counted in the IDLE gauge (so that closing mid-IDLE takes it out once). */
  private idleCounted = false;
  /** RFC 5465 NOTIFY SET in force. */
  notify: NotifySession | null = null;
  /** Reports written without a command (NOTIFY), one after the other. */
  private pushing: Promise<void> = Promise.resolve();
  private pushQueued = false;

  constructor(
    readonly ctx: SessionContext,
    socket: Socket,
    implicitTls: boolean,
  ) {
    this.socket = socket;
    this.rawSocket = socket;
    this.secure = implicitTls;
    this.ip = socket.remoteAddress ?? null;
    this.log = ctx.log.child({ session: this.id });
    this.input = new InputReader(ctx.limits.maxBufferedInput);
    this.writer = new ResponseWriter(socket);
    this.reader = new CommandReader(this.input, ctx.limits, {
      continueLiteral: async () => {
        await this.writer.line('+ Ready for literal data');
        await this.writer.flush();
      },
      precheck: (head) => this.precheck(head),
      decideLiteral: (head, segments, size, binary) => this.decideLiteral(head, segments, size, binary),
    });
  }

  get store(): MailStore {
    return this.ctx.store;
  }

  get user(): Principal {
    if (!this.principal) throw new ImapError('BAD', null, 'Not authenticated');
    return this.principal;
  }

  // ------------------------------------------------------------------ lifecycle

  async run(): Promise<void> {
    this.socket.setKeepAlive(true, 60_000);
    this.socket.setNoDelay(true);
    this.watchSocket(this.socket);
    this.input.attach(this.socket);
    this.armTimeout();
    try {
      await this.writer.line(`* OK [CAPABILITY ${this.capabilityList().join(' ')}] ${this.ctx.greeting}`);
      await this.writer.flush();
      while (this.state !== 'logout' && !this.closed) {
        const read = await this.reader.read();
        if (this.closed) break;
        if (read.kind === 'end') break;
        if (read.kind === 'fatal') {
          this.log.info({ reason: read.error.message }, 'imap.protocol-error');
          await this.writer.line(read.error.wire('*'));
          break;
        }
        if (read.kind === 'rejected') {
          if (read.error) await this.writer.line(read.error.wire(read.tag));
          await this.writer.flush();
          continue;
        }
        // A NOTIFY report being written finishes before the command's responses start.
        await this.settlePushes();
        this.executing = true;
        try {
          await this.execute(read.head, read.segments, read.streamed);
        } finally {
          this.executing = false;
        }
        if (this.draining) {
          await this.writer.line(`* BYE ${this.draining}`);
          break;
        }
        if (this.notify) {
          this.kick();
          await this.settlePushes();
        }
        await this.writer.flush();
        this.armTimeout();
      }
    } catch (error) {
      if (!this.closed) this.log.warn({ err: (error as Error)?.message }, 'imap.socket-error');
    } finally {
      await this.writer.flush().catch(() => undefined);
      this.close();
    }
  }

  private watchSocket(socket: Socket): void {
    socket.on('error', (error) => this.log.debug({ err: error.message }, 'imap.socket-error'));
    socket.on('close', () => this.close());
    socket.on('timeout', () => this.onTimeout());
  }

  /**
   * Node restarts a socket's timeout on every read and write: the timer needs setting again only
   * when its length changes (login, IDLE) or the socket does (STARTTLS).
   */
  private armTimeout(): void {
    const ms = this.idling ? this.ctx.limits.idleKeepaliveMs : this.state === 'not-authenticated' ? this.ctx.limits.preAuthTimeoutMs : this.ctx.limits.authTimeoutMs;
    if (ms === this.timeoutMs && this.socket === this.timedSocket) return;
    this.timeoutMs = ms;
    this.timedSocket = this.socket;
    this.socket.setTimeout(ms);
  }

  private onTimeout(): void {
    if (this.closed) return;
    if (this.idling) {
      // Keep NAT boxes and the client's watchdog happy; a dead peer shows up as a write error.
      void this.writer
        .line('* OK Still here')
        .then(() => this.writer.flush())
        .catch(() => this.close());
      return;
    }
    this.timedOut = true;
    this.log.info({ state: this.state }, 'imap.timeout');
    void this.writer
      .line('* BYE Autologout; idle for too long')
      .then(() => this.writer.flush())
      .finally(() => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = 'logout';
    this.selected?.close();
    this.selected = null;
    this.endNotify();
    this.countIdle(false);
    this.wake();
    this.writer.close();
    this.input.detach();
    if (!this.socket.destroyed) this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    if (this.socket !== this.rawSocket && !this.rawSocket.destroyed) this.rawSocket.destroy();
    this.log.debug({ timedOut: this.timedOut }, 'imap.disconnect');
    this.ctx.onClose(this);
  }

  /** Send what is queued (a BYE), then close. */
  async end(): Promise<void> {
    await this.writer.flush().catch(() => undefined);
    this.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Ask the session to end (server shutdown): BYE between commands (or in IDLE); a running command is
   * left to finish, and the server cuts it at the end of its grace period.
   */
  async shutdown(message: string): Promise<void> {
    if (this.closed) return;
    if (this.executing && !this.idling) {
      this.draining = message;
      return;
    }
    await this.writer.line(`* BYE ${message}`).catch(() => undefined);
    await this.writer.flush().catch(() => undefined);
    this.close();
  }

  // ------------------------------------------------------------------ commands

  private precheck(head: CommandHead): ImapError | null {
    const def = this.ctx.commands.get(head.name);
    if (!def) return bad(`Unknown command ${head.name.slice(0, 40).replace(/[^\x21-\x7e ]/g, '?')}`);
    if (!def.states.includes(this.state)) {
      return bad(this.state === 'not-authenticated' ? `${def.name} needs a login first` : `${def.name} is not valid in this state`);
    }
    return null;
  }

  private async decideLiteral(head: CommandHead, segments: readonly Segment[], size: number, binary: boolean): Promise<LiteralDecision> {
    const def = this.ctx.commands.get(head.name);
    if (def?.literal) {
      try {
        return await def.literal(this, segments, size, binary);
      } catch (error) {
        return { action: 'refuse', error: toImapError(error).error };
      }
    }
    return { action: 'buffer' };
  }

  private async execute(head: CommandHead, segments: Segment[], streamed: boolean): Promise<void> {
    const def = this.ctx.commands.get(head.name)!;
    this.streamPending = streamed;
    const r = new ArgReader(segments, { utf8Quoted: this.utf8Accept });
    const first = segments[0] as Buffer;
    const prefix = PREFIX.exec(first.toString('latin1'))!;
    r.skipTo(prefix[0].length);
    let result: CommandResult | void;
    const start = performance.now();
    try {
      const args = def.parse(r, this);
      result = await def.run(this, args, head.tag);
      if (this.streamPending) {
        const tail = await this.finishStreamed();
        if (tail) throw tail;
      }
    } catch (error) {
      if (this.streamPending) {
        const tail = await this.finishStreamed().catch(() => null);
        if (tail instanceof ImapError && !(error instanceof ImapError)) error = tail;
      }
      this.ctx.measures.command(def.name, toImapError(error).error.status, secondsSince(start));
      if (this.closed) return;
      await this.fail(head, error);
      await this.afterCommand(def);
      return;
    }
    this.ctx.measures.command(def.name, 'OK', secondsSince(start));
    if (this.closed || (this.state as SessionState) === 'logout') {
      if (!this.closed) await this.writer.line(`${head.tag} OK ${def.name} completed`);
      return;
    }
    if (result?.answered) return;
    await this.afterCommand(def);
    const code = result?.code ? `[${result.code}] ` : '';
    await this.writer.line(`${head.tag} OK ${code}${result?.text ?? `${def.name} completed`}`);
  }

  /** Read the end of a command whose literal was streamed; returns the BAD to send, if any. */
  async finishStreamed(): Promise<ImapError | null> {
    if (!this.streamPending) return null;
    this.streamPending = false;
    const tail = await this.reader.finishStreamed();
    if (tail === 'end') {
      this.close();
      return bad('Connection closed');
    }
    return tail;
  }

  /**
   * After a streamed literal, what the command sends next: another streamed message (MULTIAPPEND),
   * or the rest of its line. A refused literal or a lost connection ends the command (thrown).
   */
  async nextStreamed(decide: NextLiteralDecider): Promise<Extract<StreamedNext, { kind: 'last' | 'message' }>> {
    if (!this.streamPending) throw new Error('no streamed literal to follow');
    this.streamPending = false;
    const next = await this.reader.nextStreamed(decide);
    if (next.kind === 'end') {
      this.close();
      throw bad('Connection closed');
    }
    if (next.kind === 'fatal' || next.kind === 'refused') throw next.error;
    if (next.kind === 'message') this.streamPending = true;
    return next;
  }

  private async fail(head: CommandHead, error: unknown): Promise<void> {
    const mapped = toImapError(error);
    if (mapped.unexpected) {
      this.log.error({ command: head.name, causes: mapped.causes }, 'imap.server-bug');
    } else {
      this.log.debug({ command: head.name, status: mapped.error.status, code: mapped.error.code }, 'imap.command-failed');
    }
    if (mapped.error.status === 'BYE') {
      await this.writer.line(mapped.error.wire('*'));
      await this.end();
      return;
    }
    await this.writer.line(mapped.error.wire(head.tag));
  }

  /** Reports what changed in the selected mailbox; no promise to wait for when nothing did (most commands). */
  private afterCommand(def: CommandDef<any>): Promise<unknown> | undefined {
    const sel = this.selected;
    return sel && sel.dirty && this.state === 'selected' ? sel.sync(!def.noExpunge) : undefined;
  }

  // ------------------------------------------------------------------ output helpers

  untagged(text: string): Promise<void> {
    return this.writer.line(`* ${text}`);
  }

  async continuation(text: string): Promise<void> {
    await this.writer.line(`+ ${text}`);
    await this.writer.flush();
  }

  capabilityList(): string[] {
    return capabilities({
      authenticated: this.state === 'authenticated' || this.state === 'selected',
      secure: this.secure,
      tlsAvailable: this.ctx.tls !== null,
      insecureAuth: this.ctx.insecureAuth,
      compressed: this.writer.compressed,
      compressOffered: this.ctx.compress,
      maxMessageBytes: this.ctx.limits.maxMessageBytes,
      metadata: this.ctx.metadata !== undefined,
    });
  }

  /** Passwords may be sent: over TLS, or in explicitly allowed plaintext development. */
  get passwordsAllowed(): boolean {
    return this.secure || this.ctx.insecureAuth;
  }

  /** The client takes UTF-8 (IMAP4rev2 or UTF8=ACCEPT): names, quoted strings and message headers. */
  get utf8(): boolean {
    return this.rev2 || this.utf8Accept;
  }

  /** A mailbox name as the client writes it: UTF-8 for IMAP4rev2 and UTF8=ACCEPT, modified UTF-7 otherwise. */
  encodeName(name: string): string {
    const wire = this.utf8 ? name : encodeMutf7(name);
    if (wire.length <= 1024 && !/[\u0000\r\n"\\]/.test(wire)) return `"${wire}"`;
    if (!/[\u0000\r\n]/.test(wire)) return `"${wire.replace(/[\\"]/g, (c) => '\\' + c)}"`;
    return `{${Buffer.byteLength(wire)}}\r\n${wire}`;
  }

  /** A mailbox name from the client; NO [CANNOT] when it is not valid in this session's encoding. */
  decodeName(bytes: Buffer): string {
    if (this.utf8) {
      const text = bytes.toString('utf8');
      if (text.includes('\uFFFD') && !bytes.includes(Buffer.from('\uFFFD'))) throw no('CANNOT', 'Mailbox name is not valid UTF-8');
      return text;
    }
    if (bytes.some((b) => b > 0x7e)) throw no('CANNOT', 'Mailbox name is not valid modified UTF-7 (8-bit data; ENABLE UTF8=ACCEPT or IMAP4rev2 for UTF-8 names)');
    const decoded = decodeMutf7(bytes.toString('latin1'));
    if (decoded === null) throw no('CANNOT', 'Mailbox name is not valid modified UTF-7');
    return decoded;
  }

  // ------------------------------------------------------------------ IDLE support

  /** Wake an IDLE wait (mailbox changed, connection closed). */
  wake(): void {
    const w = this.idleWake;
    this.idleWake = null;
    w?.();
    this.kick();
  }

  // ------------------------------------------------------------------ NOTIFY (RFC 5465)

  /** Turn NOTIFY off (NOTIFY NONE, a new SET, logout, overflow). */
  endNotify(): void {
    this.notify?.stop();
    this.notify = null;
  }

  /**
   * Something NOTIFY reports changed: write it now if no command is running (or the one running is
   * IDLE); otherwise the run loop writes it when the command is done. One report at a time.
   */
  kick(): void {
    if (!this.notify || this.closed || this.pushQueued) return;
    if (this.executing && !this.idling) return;
    this.pushQueued = true;
    this.pushing = this.pushing
      .then(async () => {
        this.pushQueued = false;
        await this.deliverNotifications();
      })
      .catch((error: unknown) => {
        if (!this.closed) this.log.warn({ err: (error as Error)?.message }, 'imap.notify-failed');
      });
  }

  /** Wait until no NOTIFY report is being written (before a command, before IDLE's tagged OK). */
  async settlePushes(): Promise<void> {
    let p: Promise<void>;
    do {
      p = this.pushing;
      await p;
    } while (p !== this.pushing);
  }

  private async deliverNotifications(): Promise<void> {
    const n = this.notify;
    if (!n || this.closed || (this.executing && !this.idling)) return;
    const sel = this.selected;
    if (sel?.dirty && this.state === 'selected') {
      if (n.selected) {
        const fresh = await sel.sync(n.selected.expunges);
        if (n.selected.fetch && fresh.length && this.selected === sel) await fetchNew(this, fresh, n.selected.fetch);
      } else if (this.idling) await sel.sync(true);
    }
    if (this.notify === n) await n.deliver();
    await this.writer.flush();
  }

  /** Resolves on wake() or when the timeout passes. */
  waitWake(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.idleWake = null;
        resolve();
      }, ms);
      this.idleWake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One line from the client outside the command grammar (IDLE's DONE, SASL responses). */
  async readLine(): Promise<string | null> {
    const r = await this.input.readLine(this.ctx.limits.maxLineBytes);
    if (r.kind === 'line') return r.line.toString('utf8');
    if (r.kind === 'too-long') return '';
    if (r.kind === 'over-budget') {
      await this.writer.line('* BYE [TOOBIG] Line too long, closing');
      await this.end();
    }
    return null;
  }

  setIdling(on: boolean): void {
    this.idling = on;
    this.countIdle(on && !this.closed);
    this.armTimeout();
  }

  private countIdle(on: boolean): void {
    if (on === this.idleCounted) return;
    this.idleCounted = on;
    if (on) this.ctx.measures.idle.inc();
    else this.ctx.measures.idle.dec();
  }

  // ------------------------------------------------------------------ transports

  async startTls(): Promise<void> {
    if (!this.ctx.tls) throw no(null, 'TLS is not available');
    await this.writer.flush();
    this.input.detach();
    // RFC 9051 §6.2.1: anything the client pipelined after STARTTLS is discarded.
    this.input.discardBuffered();
    const plain = this.socket;
    while (plain.read() !== null) {
      // also what the socket stream holds
    }
    plain.removeAllListeners('timeout');
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.ctx.tls, ...(this.ctx.sni ? { SNICallback: this.ctx.sni } : {}) });
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', resolve);
      secure.once('error', reject);
    }).catch((error: unknown) => {
      this.log.info({ err: (error as Error)?.message }, 'imap.starttls-failed');
      this.close();
      throw new ImapError('BYE', null, 'TLS negotiation failed');
    });
    this.socket = secure;
    this.secure = true;
    this.watchSocket(secure);
    this.writer.setSink(secure);
    this.input.attach(secure);
    this.armTimeout();
    this.log.debug({ protocol: secure.getProtocol() }, 'imap.starttls');
  }

  /** RFC 4978: the OK has been written uncompressed; from here both directions are deflated. */
  async startCompression(): Promise<void> {
    await this.writer.flush();
    const source = this.input.detach() as Readable;
    const leftover = this.input.discardBuffered();
    const inflate = createInflateRaw();
    inflate.on('error', () => this.close());
    if (leftover.length) inflate.write(leftover);
    source.pipe(inflate);
    this.input.attach(inflate);
    // Inflated input is bounded by what we read (the reader pauses the inflater); what we would only
    // throw away is bounded here: a deflate bomb in a too-long line or a refused literal ends in BYE.
    this.input.limitDiscard(this.ctx.limits.maxLineBytes);
    await this.writer.startDeflate();
    this.log.debug({}, 'imap.compress');
  }
}
