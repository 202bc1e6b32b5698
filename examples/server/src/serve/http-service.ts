import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { noopMetrics, type Logger, type Metrics } from '@palabre/core';
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
}

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
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      measure(req, res);
      this.route(req, res);
    };
    const server = this.options.tls
      ? createHttpsServer({ cert: this.options.tls.cert, key: this.options.tls.key, minVersion: 'TLSv1.2' }, handler)
      : createHttpServer(handler);
    // `Expect: 100-continue` is answered by the handler that owns the request (the DAV engine once the
    // request is authenticated, authorised and within quota), not by node:http before anything is checked.
    server.on('checkContinue', handler);
    // Slow-loris and idle bounds; uploads stream, so no overall request timeout beyond headers.
    server.headersTimeout = 60_000;
    server.requestTimeout = 0;
    server.keepAliveTimeout = 65_000;
    server.maxHeadersCount = 200;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
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

  banner(user?: string): string[] {
    return this.bannerLines.flatMap((fn) => fn(user));
  }
}
