import { PassThrough, type Readable } from 'node:stream';
import type { SMTPServerSession } from 'smtp-server';

/**
 * RFC 3030 CHUNKING (BDAT) for smtp-server, which has none (3.21 knows DATA only, and its MAIL parser
 * refuses BODY=BINARYMIME).
 *
 * Why an extension of each smtp-server connection, not a front proxy or another library: smtp-server
 * dispatches a command to the connection's `handler_<NAME>`, and its parser hands whatever follows a
 * command line to `_write` once `_dataMode` is set. A BDAT handler plus a byte-counting `_write`
 * therefore reuse its session, envelope, STARTTLS, pipelining and reply formatting, and the message
 * goes through the very same `onData` handler as DATA (size limit, header checks, SPF/DKIM/DMARC,
 * filters, Sieve, trace headers, the same 250 or refusal). A proxy in front would need a second SMTP
 * parser kept in step with smtp-server's; no maintained Node SMTP server library has BDAT. The price
 * is reliance on these private members, pinned by the BDAT tests (`smtp-chunking.integration.test.ts`).
 *
 * BINARYMIME is not offered: a binary body breaks what every message is held to here (no bare CR/LF,
 * no NUL, lines of at most 998 characters: SMTP smuggling and downstream readers), and relaying it
 * to a server without BINARYMIME would need a MIME downgrade we do not do.
 */

/** The private parts of smtp-server's SMTPConnection that BDAT needs. */
interface Connection {
  session: SMTPServerSession;
  _parser: Parser | false;
  _createParser(): Parser;
  _resetSession(): void;
  _onClose(): void;
  _transactionCounter: number;
  _unrecognizedCommands: number;
  send(code: number, data: unknown, context?: unknown): void;
  close(): void;
  handler_DATA(command: Buffer, callback: () => void): void;
  handler_BDAT?(command: Buffer, callback: () => void): void;
}

interface Parser {
  _dataMode: boolean;
  _write(chunk: Buffer, encoding: string, next: (error?: Error | null) => void): void;
}

export type MessageHandler = (stream: Readable, session: SMTPServerSession, reply: (error?: Error | null, message?: string) => void) => void;

export interface ChunkingOptions {
  /** The message size limit (SIZE): BDAT counts chunk sizes against it before reading them. */
  readonly maxBytes: number;
  /** Chunks in one message; past it the connection ends (a stream of 1-byte chunks is bounded). */
  readonly maxChunks: number;
  /** The DATA handler: receives the concatenated chunks as one stream. */
  readonly onMessage: MessageHandler;
}

const BDAT_SYNTAX = /^BDAT ([0-9]{1,20})( LAST)?$/i;
const MAX_REFUSED_CHUNKS = 10;

/** An open BDAT transaction: the message stream fed by its chunks, and the handler's answer. */
interface Transaction {
  readonly stream: PassThrough;
  bytes: number;
  chunks: number;
  outcome: Promise<{ error: Error | null | undefined; message: string | undefined }>;
}

/** Where the bytes of the chunk being read go. */
interface Reading {
  remaining: number;
  /** null: bytes are read and dropped (the chunk was refused, RFC 3030 §2 says to read it anyway). */
  readonly into: PassThrough | null;
  /** The reply once all bytes are read (and, for LAST, the message handled). */
  readonly finish: () => Promise<void>;
}

/** Offer CHUNKING on one connection (call it from `server.connect`, before the greeting). */
export function addChunking(connection: Connection, options: ChunkingOptions): void {
  let transaction: Transaction | null = null;
  let reading: Reading | null = null;

  /** RSET, EHLO, a new STARTTLS session, a refused chunk, the end of the connection: nothing is delivered. */
  const abort = () => {
    if (!transaction) return;
    const t = transaction;
    transaction = null;
    if (!t.stream.destroyed) t.stream.destroy(Object.assign(new Error('BDAT transaction aborted'), { code: 'EABORTED' }));
  };

  const resetSession = connection._resetSession.bind(connection);
  connection._resetSession = () => {
    abort();
    resetSession();
  };
  const onClose = connection._onClose.bind(connection);
  connection._onClose = () => {
    abort();
    reading = null;
    onClose();
  };

  const hook = (parser: Parser) => {
    const original = parser._write.bind(parser);
    parser._write = (chunk, encoding, next) => {
      if (!reading) return original(chunk, encoding, next);
      const r = reading;
      const take = Math.min(r.remaining, chunk.length);
      r.remaining -= take;
      const piece = chunk.subarray(0, take);
      const rest = chunk.subarray(take);
      const written = r.into && take > 0 && !r.into.destroyed ? r.into.write(piece) : true;
      const afterWrite = (then: () => void) => {
        if (written || !r.into || r.into.destroyed) return then();
        const go = () => {
          r.into?.off('drain', go).off('close', go);
          then();
        };
        r.into.once('drain', go).once('close', go);
      };
      if (r.remaining > 0) return afterWrite(() => next());
      // The chunk is complete: back to commands once its reply is out (replies stay in order).
      reading = null;
      parser._dataMode = false;
      afterWrite(() => {
        r.finish().then(
          () => (connection._parser === parser ? parser._write(rest, 'buffer', next) : next()),
          (error: unknown) => next(error as Error),
        );
      });
    };
    return parser;
  };
  if (connection._parser) hook(connection._parser);
  const createParser = connection._createParser.bind(connection);
  connection._createParser = () => hook(createParser());

  /** Read `size` bytes into `into` (or drop them), then run `finish`. */
  const read = (size: number, into: PassThrough | null, finish: () => Promise<void>) => {
    const parser = connection._parser;
    if (!parser) return;
    reading = { remaining: size, into, finish };
    parser._dataMode = true;
  };

  // Refused chunks are read and dropped, so they cost the client nothing: like smtp-server's limit on
  // unknown commands, the tenth one on a connection ends it.
  let refusals = 0;
  const refuse = (size: number, code: number, text: string, close = false) =>
    read(size, null, async () => {
      const enough = ++refusals >= MAX_REFUSED_CHUNKS;
      connection.send(code, enough && !close ? `${text}; too many refused chunks, closing` : text);
      if (close || enough) connection.close();
    });

  const startTransaction = (): Transaction => {
    const stream = new PassThrough();
    stream.on('error', () => undefined);
    let settle: (value: { error: Error | null | undefined; message: string | undefined }) => void = () => undefined;
    const outcome = new Promise<{ error: Error | null | undefined; message: string | undefined }>((resolve) => (settle = resolve));
    options.onMessage(stream, connection.session, (error, message) => settle({ error, message }));
    return { stream, bytes: 0, chunks: 0, outcome };
  };

  connection.handler_BDAT = (command, callback) => {
    const m = BDAT_SYNTAX.exec(command.toString('latin1').trim());
    if (!m) {
      // Without a size we cannot tell where the chunk ends: what follows could be read as commands.
      connection.send(501, '5.5.4 syntax: BDAT chunk-size [LAST]; closing');
      connection.close();
      return callback();
    }
    const size = Number(m[1]);
    const last = Boolean(m[2]);
    const envelope = connection.session.envelope;
    if (size > options.maxBytes) {
      // Reading a chunk this large only to drop it is what a flood wants: end the connection.
      abort();
      resetSession();
      connection.send(552, `5.3.4 chunk of ${m[1]} bytes exceeds the message size limit ${options.maxBytes}; closing`);
      connection.close();
      return callback();
    }
    if (!envelope.mailFrom) {
      refuse(size, 503, '5.5.1 BDAT without a transaction: MAIL first');
      return callback();
    }
    if (!envelope.rcptTo.length) {
      refuse(size, 503, '5.5.1 BDAT without recipients: RCPT first');
      return callback();
    }
    const t = (transaction ??= startTransaction());
    t.chunks++;
    t.bytes += size;
    if (t.bytes > options.maxBytes || t.chunks > options.maxChunks) {
      const tooMany = t.chunks > options.maxChunks;
      abort();
      resetSession();
      if (tooMany) refuse(size, 552, `5.3.4 message split into more than ${options.maxChunks} chunks; closing`, true);
      else refuse(size, 552, `5.3.4 message exceeds fixed maximum message size ${options.maxBytes}`);
      return callback();
    }
    read(size, t.stream, async () => {
      if (transaction !== t) return; // aborted while reading (the connection went away)
      if (!last) {
        connection.send(250, `2.0.0 ${size} octets received`);
        return;
      }
      t.stream.end();
      const { error, message } = await t.outcome;
      transaction = null;
      if (error) connection.send((error as { responseCode?: number }).responseCode ?? 450, error.message);
      else connection.send(250, message ?? 'OK: message queued', 'DATA_OK');
      connection._transactionCounter++;
      connection._unrecognizedCommands = 0;
      connection._resetSession();
    });
    callback();
  };

  const data = connection.handler_DATA.bind(connection);
  connection.handler_DATA = (command, callback) => {
    if (transaction) {
      connection.send(503, '5.5.1 DATA after BDAT in one transaction (RFC 3030 §2): finish with BDAT LAST or RSET');
      return callback();
    }
    data(command, callback);
  };
}
