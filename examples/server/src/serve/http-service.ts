import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { closeWithAnswer, ConnectionGate, guardServer, noopMetrics, type Logger, type Metrics, type PalabreConfig } from '@palabre/core';
import { httpMeasures } from './http-metrics.js';
import type { Service } from './service.js';
import type { TlsMaterial } from './tls.js';

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

interface Mount {
  prefix: string;
  handler: HttpHandler;
  /** Requests outside the prefix that the handler also wants (e.g. OPTIONS on "/" for Windows). */
  claims?: (path: string, method: string) => boolean;
  /** The handler sends `100 Continue` itself, once it has checked the request (the DAV engine does). */
  answersContinue?: boolean;
}

export interface HttpServiceOptions {
  host: string;
  port: number;
  tls: TlsMaterial | null;
  logger: Logger;
  /** Shown on the root page. */
  productLine: string;
  /** Requests by method and status class, and their latency. */
  metrics?: Metrics;
  /** `Strict-Transport-Security` max-age on HTTPS answers (RFC 6797); 0 or absent: none. */
  hstsMaxAgeSeconds?: number;
  /** A certificate per host name (TLS SNI); without an answer, `tls`. */
  SNICallback?: TlsOptions['SNICallback'];
  /** Connection limits shared with the process's other listeners (default: a gate of this listener's own). */
  connections?: ConnectionGate;
  /** Header, request, keep-alive and idle bounds (config `http`). */
  timeouts?: PalabreConfig['http'];
}

/** Node's defaults for what `timeouts` leaves out (the same as config `http`'s). */
const DEFAULT_TIMEOUTS: PalabreConfig['http'] = { headersTimeoutMs: 60_000, requestTimeoutMs: 0, keepAliveTimeoutMs: 65_000, idleTimeoutMs: 5 * 60_000 };

/** A refused plain-HTTP connection's whole answer: cheap, and said before the parser ever runs. */
const BUSY_ANSWER = 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Type: text/plain\r\nContent-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n';

/**
 * The HTTP(S) listener. Features mount handlers under path prefixes (the drive under `/dav/files/`,
 * calendars later under `/dav/calendars/` and `/.well-known/`); the longest prefix wins.
 */
export class HttpService implements Service {
  readonly name = 'http';
  private server: Server | null = null;
  private readonly mounts: Mount[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly bannerLines: ((user?: string) => string[])[] = [];
  private boundPort = 0;

  constructor(private readonly options: HttpServiceOptions) {}

  get scheme(): 'http' | 'https' {
    return this.options.tls ? 'https' : 'http';
  }

  get port(): number {
    return this.boundPort || this.options.port;
  }

  /** Base URL clients use, e.g. `http://127.0.0.1:8080`. */
  get origin(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host === '0.0.0.0' ? '127.0.0.1' : this.options.host;
    return `${this.scheme}://${host}:${this.port}`;
  }

  mount(
    prefix: string,
    handler: HttpHandler,
    banner?: (user?: string) => string[],
    claims?: (path: string, method: string) => boolean,
    options: { answersContinue?: boolean } = {},
  ): void {
    if (!prefix.startsWith('/')) throw new Error(`mount prefix must start with /: ${prefix}`);
    this.mounts.push({ prefix, handler, claims, answersContinue: options.answersContinue });
    this.mounts.sort((a, b) => b.prefix.length - a.prefix.length);
    if (banner) this.bannerLines.push(banner);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    for (const m of this.mounts) {
      if (path === m.prefix || path.startsWith(m.prefix) || `${path}/` === m.prefix || m.claims?.(path, method)) {
        // Requests with `Expect: 100-continue` arrive here through 'checkContinue' (see start): a handler
        // that does not answer it itself is told to go on at once, as node:http would have done.
        if (!m.answersContinue && req.httpVersion === '1.1' && /\b100-continue\b/i.test(req.headers.expect ?? '')) res.writeContinue();
        Promise.resolve(m.handler(req, res)).catch((error: unknown) => {
          this.options.logger.error({ err: (error as Error)?.message, method: req.method }, 'http.error');
          if (!res.headersSent) {
            res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
            res.end('internal error\n');
          } else {
            res.destroy();
          }
        });
        return;
      }
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('ok\n');
      return;
    }
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : `${this.options.productLine}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }

  async start(): Promise<void> {
    const measure = httpMeasures(this.options.metrics ?? noopMetrics);
    const hsts = this.options.tls && this.options.hstsMaxAgeSeconds ? `max-age=${this.options.hstsMaxAgeSeconds}` : null;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      measure(req, res);
      if (hsts) res.setHeader('strict-transport-security', hsts);
      this.route(req, res);
    };
    const t = { ...DEFAULT_TIMEOUTS, ...this.options.timeouts };
    // node:http checks header and request timeouts only this often (default 30 s: a half-open
    // connection then lived up to 90 s past a 60 s bound).
    const checking = { connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(t.headersTimeoutMs / 4))) };
    const server = this.options.tls
      ? createHttpsServer({ ...checking, cert: this.options.tls.cert, key: this.options.tls.key, minVersion: 'TLSv1.2', SNICallback: this.options.SNICallback }, handler)
      : createHttpServer(checking, handler);
    // `Expect: 100-continue` is answered by the handler that owns the request (the DAV engine once the
    // request is authenticated, authorised and within quota), not by node:http before anything is checked.
    server.on('checkContinue', handler);
    // Slow-loris and idle bounds; uploads stream, so by default no overall request timeout beyond
    // headers, but a connection with no byte either way for `idleTimeoutMs` is destroyed (node:http
    // destroys a timed-out socket when no 'timeout' listener is set).
    server.headersTimeout = t.headersTimeoutMs;
    server.requestTimeout = t.requestTimeoutMs;
    server.keepAliveTimeout = t.keepAliveTimeoutMs;
    server.timeout = t.idleTimeoutMs;
    server.maxHeadersCount = 200;
    const gate = this.options.connections ?? new ConnectionGate({ logger: this.options.logger });
    // TLS: nothing can be said before the handshake, so a refused socket is simply closed.
    guardServer(server, gate, this.scheme, () => (this.options.tls ? null : BUSY_ANSWER));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // A malformed request or one whose headers timed out: answered, then the descriptor released
    // even when the client never closes its side (a half-open connection held it for ever).
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      closeWithAnswer(socket, socket.writable ? `HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n` : null);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }

  /** A renewed default certificate: the next handshake uses it, open connections keep theirs. */
  setSecureContext(tls: Pick<TlsMaterial, 'cert' | 'key'>): void {
    if (this.options.tls) (this.server as unknown as HttpsServer | null)?.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
  }

  banner(user?: string): string[] {
    return this.bannerLines.flatMap((fn) => fn(user));
  }
}
