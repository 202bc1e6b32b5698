import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { guardServer, type ConnectionGate, type Logger } from '@palabre/core';
import type { Service } from './service.js';
import { SmallHttpServer } from './small-http-server.js';

export interface RedirectServiceOptions {
  host: string;
  port: number;
  /** Where the HTTPS listener is, once bound (read per request). */
  httpsPort: () => number;
  /** Used when the request names no usable host. */
  hostname: string;
  /** certbot's `--webroot` folder: ACME HTTP-01 challenges are served from it. */
  acmeWebroot?: string;
  logger: Logger;
  connections?: ConnectionGate;
}

const ACME_PREFIX = '/.well-known/acme-challenge/';
/** RFC 8555 §8.3: the token is base64url; anything else (dots, slashes, escapes) is not one. */
const ACME_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const BUSY_ANSWER = 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

/**
 * The host a client asked for, read by the WHATWG URL parser (IDNA, IPv6 brackets): only a bare
 * host[:port] counts, so a Host header carrying a path, credentials or a query cannot shape the
 * Location beyond naming a host (which the client reached us by anyway).
 */
export function requestedHost(raw: string | undefined): string | null {
  if (!raw || raw.length > 300) return null;
  let url: URL;
  try {
    url = new URL(`http://${raw}`);
  } catch {
    return null;
  }
  if (url.pathname !== '/' || url.username || url.password || url.search || url.hash || `${url.host}` === '' || raw.includes('/'))
    return null;
  return url.hostname;
}

/**
 * Port 80 when HTTPS is on: every request gets `308 Permanent Redirect` to the same path over HTTPS
 * (308 keeps the method and body: a DAV client's PUT stays a PUT), except ACME HTTP-01 challenges,
 * served from `acmeWebroot` so that certbot can renew while the server runs. Nothing else is served
 * in the clear, and no password is ever asked for here.
 */
export class RedirectService implements Service {
  readonly name = 'http-redirect';
  private readonly listener = new SmallHttpServer();

  constructor(private readonly options: RedirectServiceOptions) {}

  get port(): number {
    return this.listener.port || this.options.port;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const path = raw.startsWith('/') ? raw : '/';
    if (path.startsWith(ACME_PREFIX) && this.options.acmeWebroot) {
      const token = path.slice(ACME_PREFIX.length).split('?')[0]!;
      const body =
        ACME_TOKEN.test(token) && (req.method === 'GET' || req.method === 'HEAD')
          ? await readFile(join(this.options.acmeWebroot, '.well-known', 'acme-challenge', token)).catch(() => null)
          : null;
      if (body && body.length <= 4096) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 10 });
        res.end(req.method === 'HEAD' ? undefined : 'not found\n');
      }
      return;
    }
    const host = requestedHost(req.headers.host) ?? this.options.hostname;
    const httpsPort = this.options.httpsPort();
    const location = `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${path}`;
    const body = `moved to ${location}\n`;
    res.writeHead(308, {
      location,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        this.options.logger.error({ err: (error as Error)?.message }, 'http.error');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 100;
    if (this.options.connections) guardServer(server, this.options.connections, 'http-redirect', () => BUSY_ANSWER);
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    await this.listener.listen(server, this.options.port, this.options.host);
  }

  stop(graceMs: number): Promise<void> {
    return this.listener.stop(graceMs);
  }

  banner(): string[] {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return [
      `redirect:  http://${host}:${this.port}/ answers 308 to HTTPS${this.options.acmeWebroot ? ` (ACME challenges from ${this.options.acmeWebroot})` : ''}`,
    ];
  }
}
