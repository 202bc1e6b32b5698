import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import {
  ConnectionGate,
  guardServer,
  isPalabreError,
  MAX_SIEVE_SCRIPT_BYTES,
  MAX_SIEVE_SCRIPTS,
  silentLogger,
  type Authenticator,
  type Logger,
  type Principal,
  type SieveScriptStore,
} from '@palabre/core';
import { decodeLoginLine, decodePlain, LOGIN_PASSWORD_PROMPT, LOGIN_USERNAME_PROMPT } from '../imap/sasl.js';
import { DEFAULT_SIEVE_LIMITS, SieveSyntaxError } from '../sieve/parse.js';
import { compileSieve, SIEVE_EXTENSIONS } from '../sieve/validate.js';

/**
 * ManageSieve (RFC 5804): upload, check and activate Sieve scripts. A library like the IMAP
 * server: identity through the same Authenticator (its throttling and audit), the same plaintext
 * rule (passwords only over TLS unless local development allows them), connection limits through
 * the process's ConnectionGate. Every line and literal is bounded before it is buffered.
 */
export interface ManageSieveLimits {
  /** A command line, literals excluded. */
  readonly maxLineBytes: number;
  /** One literal (a script plus room for its name). */
  readonly maxLiteralBytes: number;
  readonly idleTimeoutMs: number;
  /** Failed logins before BYE on this connection (the Authenticator throttles across connections). */
  readonly maxAuthFailures: number;
  /** Unknown or malformed commands before BYE. */
  readonly maxBadCommands: number;
}

export const DEFAULT_MANAGESIEVE_LIMITS: ManageSieveLimits = {
  maxLineBytes: 8 * 1024,
  maxLiteralBytes: MAX_SIEVE_SCRIPT_BYTES,
  idleTimeoutMs: 10 * 60_000,
  maxAuthFailures: 3,
  maxBadCommands: 10,
};

export interface ManageSieveServerOptions {
  readonly scripts: SieveScriptStore;
  readonly authenticator: Authenticator;
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer } | null;
  readonly allowInsecureAuth?: boolean;
  readonly connections?: ConnectionGate;
  readonly logger?: Logger;
  readonly limits?: Partial<ManageSieveLimits>;
}

export interface ManageSieveServer {
  listen(options: { port: number; host?: string }): Promise<AddressInfo>;
  close(): Promise<void>;
}

export const MANAGESIEVE_LOG_EVENTS = ['managesieve.listening', 'managesieve.login', 'managesieve.login-failed', 'managesieve.script-saved', 'managesieve.closed', 'managesieve.server-bug'] as const;

/** A quoted string or a literal, as ManageSieve writes strings (RFC 5804 §4). */
function quote(s: string): string {
  if (/^[^\r\n\u0000]*$/.test(s) && Buffer.byteLength(s) < 1024) return `"${s.replace(/["\\]/g, '\\$&')}"`;
  return `{${Buffer.byteLength(s)}}\r\n${s}`;
}

class ProtocolError extends Error {
  constructor(
    readonly response: 'NO' | 'BYE',
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
}

type Parsed = { kind: 'command'; name: string; args: string[]; consumed: number } | { kind: 'incomplete'; need: number } | { kind: 'error'; message: string; fatal: boolean; consumed: number };

/**
 * One command from the front of `buf`: an atom then strings (quoted or `{n}`/`{n+}` literals) and
 * numbers, ending with CRLF. Incomplete input says how many bytes must be there before trying again.
 */
export function parseCommand(buf: Buffer, limits: Pick<ManageSieveLimits, 'maxLineBytes' | 'maxLiteralBytes'>): Parsed {
  let i = 0;
  let lineBytes = 0;
  const args: string[] = [];
  const atEnd = () => i >= buf.length;
  const nameMatch = /^[A-Za-z]+/.exec(buf.subarray(0, Math.min(buf.length, 32)).toString('latin1'));
  if (!nameMatch) {
    const nl = buf.indexOf('\n');
    if (nl < 0) return buf.length > limits.maxLineBytes ? { kind: 'error', message: 'line too long', fatal: true, consumed: buf.length } : { kind: 'incomplete', need: buf.length + 1 };
    return { kind: 'error', message: 'expected a command', fatal: false, consumed: nl + 1 };
  }
  const name = nameMatch[0].toUpperCase();
  i = name.length;
  const skipLine = (message: string): Parsed => {
    const nl = buf.indexOf('\n', i);
    return nl < 0 ? { kind: 'incomplete', need: buf.length + 1 } : { kind: 'error', message, fatal: false, consumed: nl + 1 };
  };
  for (;;) {
    if (i - lineBytes > limits.maxLineBytes) return { kind: 'error', message: 'line too long', fatal: true, consumed: buf.length };
    if (atEnd()) return buf.length - lineBytes > limits.maxLineBytes ? { kind: 'error', message: 'line too long', fatal: true, consumed: buf.length } : { kind: 'incomplete', need: buf.length + 1 };
    const c = buf[i]!;
    if (c === 0x0d && buf[i + 1] === 0x0a) return { kind: 'command', name, args, consumed: i + 2 };
    if (c === 0x0d && i + 1 >= buf.length) return { kind: 'incomplete', need: buf.length + 1 };
    if (c === 0x0a) return { kind: 'command', name, args, consumed: i + 1 };
    if (c !== 0x20) return skipLine('expected a space between arguments');
    i++;
    if (atEnd()) return { kind: 'incomplete', need: buf.length + 1 };
    const d = buf[i]!;
    if (d === 0x22) {
      let out = '';
      let j = i + 1;
      let bytes: number[] = [];
      for (;;) {
        if (j >= buf.length) return buf.length - i > limits.maxLineBytes ? { kind: 'error', message: 'line too long', fatal: true, consumed: buf.length } : { kind: 'incomplete', need: buf.length + 1 };
        const e = buf[j]!;
        if (e === 0x22) break;
        if (e === 0x0d || e === 0x0a) return skipLine('unterminated quoted string');
        if (e === 0x5c) {
          const n = buf[j + 1];
          if (n === undefined) return { kind: 'incomplete', need: buf.length + 1 };
          if (n !== 0x22 && n !== 0x5c) return skipLine('invalid escape in quoted string');
          bytes.push(n);
          j += 2;
          continue;
        }
        bytes.push(e);
        j++;
      }
      out = Buffer.from(bytes).toString('utf8');
      bytes = [];
      if (out.includes('\uFFFD')) return skipLine('invalid UTF-8');
      args.push(out);
      i = j + 1;
    } else if (d === 0x7b) {
      const m = /^\{(\d{1,10})(\+?)\}\r?\n/.exec(buf.subarray(i, i + 16).toString('latin1'));
      if (!m) {
        if (buf.length - i < 16 && !buf.subarray(i).includes(0x0a)) return { kind: 'incomplete', need: buf.length + 1 };
        return skipLine('invalid literal');
      }
      const size = Number(m[1]);
      // Too large: the client will send the bytes anyway (no synchronisation in RFC 5804), so the connection ends.
      if (size > limits.maxLiteralBytes) return { kind: 'error', message: `literal larger than ${limits.maxLiteralBytes} bytes`, fatal: true, consumed: buf.length };
      const start = i + m[0].length;
      if (buf.length < start + size) return { kind: 'incomplete', need: start + size };
      const text = buf.subarray(start, start + size).toString('utf8');
      if (text.includes('\uFFFD')) {
        i = start + size;
        return skipLine('invalid UTF-8');
      }
      args.push(text);
      lineBytes += size;
      i = start + size;
    } else if (d >= 0x30 && d <= 0x39) {
      let j = i;
      while (j < buf.length && buf[j]! >= 0x30 && buf[j]! <= 0x39 && j - i < 12) j++;
      if (j >= buf.length) return { kind: 'incomplete', need: buf.length + 1 };
      args.push(buf.subarray(i, j).toString('latin1'));
      i = j;
    } else return skipLine('expected a string');
  }
}

export function createManageSieveServer(options: ManageSieveServerOptions): ManageSieveServer {
  const log = (options.logger ?? silentLogger).child({ component: 'managesieve' });
  const limits: ManageSieveLimits = { ...DEFAULT_MANAGESIEVE_LIMITS, ...options.limits };
  const secureContext: SecureContext | null = options.tls ? createSecureContext({ key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' }) : null;
  const gate = options.connections ?? new ConnectionGate({ logger: options.logger });
  const listeners: Server[] = [];
  /** Open connections, each with its current socket (the TLS one after STARTTLS): BYE goes over it. */
  const sockets = new Set<{ socket: Socket }>();

  function handle(raw: Socket): void {
    let socket: Socket = raw;
    let secure = false;
    let principal: Principal | null = null;
    let authFailures = 0;
    let badCommands = 0;
    let buffer: Buffer = Buffer.alloc(0);
    let need = 0;
    let busy = false;
    let closed = false;
    let sasl: { resolve: (line: string | null) => void } | null = null;
    const ip = raw.remoteAddress ?? '';
    const conn = { socket: raw };
    sockets.add(conn);
    const passwordsAllowed = () => secure || (options.allowInsecureAuth ?? false);

    const write = (text: string) => {
      if (!closed && socket.writable) socket.write(text);
    };
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(idle);
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    let idle = setTimeout(() => bye('Idle timeout'), limits.idleTimeoutMs);
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => bye('Idle timeout'), limits.idleTimeoutMs);
    };
    const bye = (text: string, code: string | null = null) => {
      write(`BYE ${code ? `(${code}) ` : ''}${quote(text)}\r\n`);
      close();
    };
    const respond = (kind: 'OK' | 'NO', text: string, code: string | null = null) => write(`${kind} ${code ? `(${code}) ` : ''}${quote(text)}\r\n`);

    const capabilities = () => {
      const lines = [
        `"IMPLEMENTATION" "Palabre"`,
        `"SASL" "${passwordsAllowed() && !principal ? 'PLAIN LOGIN' : ''}"`,
        `"SIEVE" "${SIEVE_EXTENSIONS.join(' ')}"`,
        ...(secureContext && !secure ? ['"STARTTLS"'] : []),
        `"MAXREDIRECTS" "${DEFAULT_SIEVE_LIMITS.maxRedirects}"`,
        ...(principal ? [`"OWNER" ${quote(principal.address)}`] : []),
        `"VERSION" "1.0"`,
      ];
      return lines.map((l) => `${l}\r\n`).join('');
    };

    /** A SASL continuation (RFC 5804 §2.1): the server sends a string, the client answers with one. */
    const saslStep = async (challenge: string): Promise<string> => {
      write(`${quote(challenge)}\r\n`);
      const line = await new Promise<string | null>((resolve) => {
        sasl = { resolve };
        // The command's run paused the socket: the client's answer must still come in.
        socket.resume();
        pump();
      });
      if (line === null) throw new ProtocolError('BYE', null, 'connection closed');
      const trimmed = line.replace(/\r?\n$/, '');
      if (trimmed === '"*"' || trimmed === '*') throw new ProtocolError('NO', null, 'Authentication cancelled');
      const m = /^"([^"]*)"$/.exec(trimmed) ?? /^\{\d+\+?\}\r?\n?([\s\S]*)$/.exec(trimmed);
      if (!m) throw new ProtocolError('NO', null, 'Invalid SASL response');
      return m[1]!;
    };

    const authenticate = async (mechanism: string, initial: string | undefined) => {
      if (principal) throw new ProtocolError('NO', null, 'Already authenticated');
      if (!passwordsAllowed()) throw new ProtocolError('NO', 'ENCRYPT-NEEDED', 'Use STARTTLS first');
      let username: string;
      let password: string;
      if (mechanism === 'PLAIN') {
        const creds = decodePlain(initial ?? (await saslStep('')));
        if (!creds) throw new ProtocolError('NO', null, 'Invalid SASL PLAIN response');
        ({ username, password } = creds);
      } else if (mechanism === 'LOGIN') {
        const u = decodeLoginLine(initial ?? (await saslStep(LOGIN_USERNAME_PROMPT)));
        if (!u) throw new ProtocolError('NO', null, 'Invalid SASL LOGIN response');
        const p = decodeLoginLine(await saslStep(LOGIN_PASSWORD_PROMPT));
        if (p === null) throw new ProtocolError('NO', null, 'Invalid SASL LOGIN response');
        [username, password] = [u, p];
      } else throw new ProtocolError('NO', null, 'Unsupported SASL mechanism');
      const result = await options.authenticator.verifyPassword(username, password, { protocol: 'managesieve', ip, mechanism, secure: passwordsAllowed() });
      if (!result.ok) {
        authFailures++;
        log.info({ ip, reason: result.reason, failures: authFailures }, 'managesieve.login-failed');
        if (authFailures >= limits.maxAuthFailures) throw new ProtocolError('BYE', null, 'Too many authentication failures');
        if (result.reason === 'throttled') throw new ProtocolError('NO', 'TRYLATER', 'Too many failed attempts, try again later');
        if (result.reason === 'unavailable') throw new ProtocolError('NO', 'TRYLATER', 'Authentication is temporarily unavailable');
        throw new ProtocolError('NO', null, 'Authentication failed');
      }
      principal = result.principal;
      log.info({ ip, accountId: principal.accountId, mechanism }, 'managesieve.login');
      respond('OK', 'Logged in');
    };

    const validate = (content: string) => {
      try {
        compileSieve(content);
      } catch (error) {
        if (error instanceof SieveSyntaxError) throw new ProtocolError('NO', null, error.message);
        throw error;
      }
    };

    const account = () => {
      if (!principal) throw new ProtocolError('NO', null, 'Authenticate first');
      return principal.accountId;
    };

    const run = async (name: string, args: string[]) => {
      const want = (n: number, m = n) => {
        if (args.length < n || args.length > m) throw new ProtocolError('NO', null, `${name} takes ${n === m ? n : `${n} to ${m}`} arguments`);
      };
      switch (name) {
        case 'CAPABILITY':
          want(0);
          write(capabilities());
          return respond('OK', 'Capability completed');
        case 'NOOP':
          want(0, 1);
          return args[0] === undefined ? respond('OK', 'Done') : write(`OK (TAG ${quote(args[0])}) "Done"\r\n`);
        case 'LOGOUT':
          write('OK "Logout completed"\r\n');
          return close();
        case 'STARTTLS': {
          want(0);
          if (secure) throw new ProtocolError('NO', null, 'TLS is already active');
          if (!secureContext) throw new ProtocolError('NO', null, 'TLS is not available');
          if (principal) throw new ProtocolError('NO', null, 'STARTTLS only before authentication');
          respond('OK', 'Begin TLS negotiation now');
          buffer = Buffer.alloc(0);
          socket.removeAllListeners('data');
          const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext });
          const ok = await new Promise<boolean>((resolve) => {
            tlsSocket.once('secure', () => resolve(true));
            tlsSocket.once('error', () => resolve(false));
          });
          if (!ok) {
            // No TLS and no way back to plaintext: the connection ends.
            tlsSocket.destroy();
            return close();
          }
          socket = tlsSocket;
          conn.socket = tlsSocket;
          secure = true;
          attach();
          // RFC 5804 §2.2: capabilities again, as they may have changed.
          write(capabilities());
          return respond('OK', 'TLS negotiation successful');
        }
        case 'AUTHENTICATE':
          want(1, 2);
          return authenticate(args[0]!.toUpperCase(), args[1]);
        case 'UNAUTHENTICATE':
          want(0);
          account();
          principal = null;
          return respond('OK', 'Unauthenticated');
        case 'HAVESPACE': {
          want(2);
          const id = account();
          const size = Number(args[1]);
          if (!/^\d+$/.test(args[1]!) || size > MAX_SIEVE_SCRIPT_BYTES) throw new ProtocolError('NO', 'QUOTA/MAXSIZE', `Scripts are at most ${MAX_SIEVE_SCRIPT_BYTES} bytes`);
          const list = await options.scripts.list(id);
          if (list.length >= MAX_SIEVE_SCRIPTS && !list.some((s) => s.name === args[0])) throw new ProtocolError('NO', 'QUOTA/MAXSCRIPTS', `At most ${MAX_SIEVE_SCRIPTS} scripts`);
          return respond('OK', 'Putscript would succeed');
        }
        case 'PUTSCRIPT': {
          want(2);
          const id = account();
          validate(args[1]!);
          await options.scripts.put(id, args[0]!, args[1]!);
          log.info({ accountId: id, size: Buffer.byteLength(args[1]!) }, 'managesieve.script-saved');
          return respond('OK', 'Script stored');
        }
        case 'CHECKSCRIPT':
          want(1);
          account();
          validate(args[0]!);
          return respond('OK', 'Script is valid');
        case 'LISTSCRIPTS': {
          want(0);
          const list = await options.scripts.list(account());
          write(list.map((s) => `${quote(s.name)}${s.active ? ' ACTIVE' : ''}\r\n`).join(''));
          return respond('OK', 'Listscripts completed');
        }
        case 'SETACTIVE':
          want(1);
          await options.scripts.setActive(account(), args[0] === '' ? null : args[0]!);
          return respond('OK', 'Active script set');
        case 'GETSCRIPT': {
          want(1);
          const script = await options.scripts.get(account(), args[0]!);
          if (!script) throw new ProtocolError('NO', 'NONEXISTENT', 'There is no script by that name');
          write(`{${Buffer.byteLength(script.content)}}\r\n${script.content}\r\n`);
          return respond('OK', 'Getscript completed');
        }
        case 'DELETESCRIPT':
          want(1);
          await options.scripts.delete(account(), args[0]!);
          return respond('OK', 'Script deleted');
        case 'RENAMESCRIPT':
          want(2);
          await options.scripts.rename(account(), args[0]!, args[1]!);
          return respond('OK', 'Script renamed');
      }
      badCommands++;
      if (badCommands >= limits.maxBadCommands) throw new ProtocolError('BYE', null, 'Too many bad commands');
      throw new ProtocolError('NO', null, 'Unknown command');
    };

    const pump = () => {
      if (closed) return;
      if (sasl) {
        const nl = buffer.indexOf('\n');
        if (nl < 0) {
          if (buffer.length > limits.maxLineBytes) bye('Line too long');
          return;
        }
        const line = buffer.subarray(0, nl + 1).toString('utf8');
        buffer = buffer.subarray(nl + 1);
        const s = sasl;
        sasl = null;
        s.resolve(line);
        return;
      }
      if (busy || buffer.length === 0 || buffer.length < need) return;
      const parsed = parseCommand(buffer, limits);
      if (parsed.kind === 'incomplete') {
        need = parsed.need;
        return;
      }
      need = 0;
      buffer = buffer.subarray(parsed.consumed);
      if (parsed.kind === 'error') {
        if (parsed.fatal) return bye(parsed.message);
        badCommands++;
        if (badCommands >= limits.maxBadCommands) return bye('Too many bad commands');
        respond('NO', `Syntax error: ${parsed.message}`);
        return pump();
      }
      busy = true;
      socket.pause();
      void (async () => {
        try {
          await run(parsed.name, parsed.args);
        } catch (error) {
          if (error instanceof ProtocolError) {
            if (error.response === 'BYE') bye(error.message, error.code);
            else respond('NO', error.message, error.code);
          } else if (isPalabreError(error)) {
            const code = error.kind === 'not-found' ? 'NONEXISTENT' : error.kind === 'conflict' ? (parsed.name === 'DELETESCRIPT' ? 'ACTIVE' : 'ALREADYEXISTS') : error.kind === 'quota' ? 'QUOTA/MAXSCRIPTS' : error.kind === 'unavailable' ? 'TRYLATER' : null;
            respond('NO', error.message, code);
          } else {
            log.error({ ip, err: (error as Error)?.message }, 'managesieve.server-bug');
            respond('NO', 'Internal error');
          }
        } finally {
          busy = false;
          if (!closed) socket.resume();
        }
        pump();
      })();
    };

    const attach = () => {
      socket.on('data', (chunk: Buffer) => {
        touch();
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        // Never more than one literal and one line held for a client that does not wait for answers.
        if (buffer.length > limits.maxLiteralBytes + limits.maxLineBytes * 2) return bye('Too much input');
        pump();
      });
      socket.on('error', () => close());
      socket.on('close', () => {
        closed = true;
        clearTimeout(idle);
        sockets.delete(conn);
        sasl?.resolve(null);
      });
    };
    attach();
    write(capabilities());
    respond('OK', 'Palabre ManageSieve ready');
  }

  return {
    async listen({ port, host }) {
      const server = createNetServer(handle);
      guardServer(server, gate, 'managesieve', (reason) => `BYE "${reason === 'global' ? 'Too many connections' : 'Too many connections from your address'}"\r\n`);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      listeners.push(server);
      const address = server.address() as AddressInfo;
      log.info({ port: address.port, host: address.address }, 'managesieve.listening');
      return address;
    },
    async close() {
      const stopped = listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const { socket } of sockets) {
        if (socket.writable) socket.end('BYE "Server shutting down"\r\n');
        setTimeout(() => socket.destroy(), 1000).unref();
      }
      await Promise.all(stopped);
      log.info({}, 'managesieve.closed');
    },
  };
}
