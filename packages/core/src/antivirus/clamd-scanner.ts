import { connect, type Socket } from 'node:net';
import type { MalwareScanner, ScanResult } from '../ports/malware-scanner.js';

export interface ClamdOptions {
  /** A Unix socket (clamd's LocalSocket), or `host` + `port` (TCPSocket). */
  readonly socket?: string;
  readonly host?: string;
  readonly port?: number;
  /** The whole scan, connection included. */
  readonly timeoutMs?: number;
  /** Bytes sent at most (clamd's StreamMaxLength refuses more); larger content is `too-large`. */
  readonly maxBytes?: number;
}

/** clamd's INSTREAM chunks are at most this long (its StreamMaxLength is checked on their sum). */
const CHUNK = 64 * 1024;

/**
 * ClamAV's clamd over its INSTREAM protocol (clamd(8)): `zINSTREAM\0`, then chunks each preceded by
 * its length as 4 bytes big-endian, then a zero length; the answer is `stream: OK`, `stream: <name>
 * FOUND` or an `ERROR` line, NUL-terminated. Throws when clamd cannot be reached or answers an error.
 */
export class ClamdScanner implements MalwareScanner {
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(private readonly options: ClamdOptions) {
    if (!options.socket && !(options.host && options.port)) throw new Error('clamd: give a socket path or a host and port');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxBytes = options.maxBytes ?? 25 * 1024 * 1024;
  }

  async scan(content: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<ScanResult> {
    const socket = this.options.socket
      ? connect({ path: this.options.socket })
      : connect({ host: this.options.host!, port: this.options.port! });
    const deadline = setTimeout(() => socket.destroy(new Error(`clamd: no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    try {
      const answer = collectAnswer(socket);
      answer.catch(() => undefined); // a failed connect is reported by the await below
      await once(socket, 'connect');
      await write(socket, Buffer.from('zINSTREAM\0', 'latin1'));
      let sent = 0;
      for await (const piece of content) {
        for (let at = 0; at < piece.length; at += CHUNK) {
          const chunk = piece.subarray(at, at + CHUNK);
          sent += chunk.length;
          if (sent > this.maxBytes) {
            socket.destroy();
            return { kind: 'too-large' };
          }
          const length = Buffer.alloc(4);
          length.writeUInt32BE(chunk.length);
          await write(socket, Buffer.concat([length, chunk]));
        }
      }
      await write(socket, Buffer.alloc(4));
      return parseAnswer(await answer);
    } finally {
      clearTimeout(deadline);
      socket.destroy();
    }
  }

  /** `PING` → `PONG`: readiness checks. */
  async ping(): Promise<boolean> {
    const socket = this.options.socket
      ? connect({ path: this.options.socket })
      : connect({ host: this.options.host!, port: this.options.port! });
    const deadline = setTimeout(() => socket.destroy(), Math.min(this.timeoutMs, 5000));
    try {
      const answer = collectAnswer(socket);
      answer.catch(() => undefined);
      await once(socket, 'connect');
      await write(socket, Buffer.from('zPING\0', 'latin1'));
      return (await answer) === 'PONG';
    } catch {
      return false;
    } finally {
      clearTimeout(deadline);
      socket.destroy();
    }
  }
}

function parseAnswer(text: string): ScanResult {
  if (/^stream: OK$/.test(text)) return { kind: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found) return { kind: 'infected', signature: found[1]!.replace(/[^\x20-\x7e]/g, '?').slice(0, 200) };
  if (/size limit exceeded/i.test(text)) return { kind: 'too-large' };
  throw new Error(`clamd: ${text.slice(0, 200) || 'closed without an answer'}`);
}

/** The NUL-terminated answer (at most 1 KiB), once clamd sends it or closes. */
function collectAnswer(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]).subarray(0, 1024);
      const nul = got.indexOf(0);
      if (nul >= 0) resolve(got.subarray(0, nul).toString('latin1').trim());
    });
    socket.on('close', () => resolve(got.toString('latin1').replace(/\0.*$/s, '').trim()));
    socket.on('error', reject);
  });
}

function once(socket: Socket, event: 'connect'): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => resolve());
    socket.once('error', reject);
  });
}

function write(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (error) => (error ? reject(error) : resolve())));
}
