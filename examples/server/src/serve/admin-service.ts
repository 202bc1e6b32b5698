import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { guardServer, type ConnectionGate, type Logger } from '@palabre/core';
import type { Service } from './service.js';
import { SmallHttpServer } from './small-http-server.js';
import type { ReadinessCheck } from './readiness.js';
import { runReadiness } from './readiness.js';

export interface AdminServiceOptions {
  host: string;
  port: number;
  logger: Logger;
  /** The Prometheus exposition text of this process (or of every worker, aggregated by the primary). */
  scrape(): Promise<string>;
  contentType: string;
  readiness: readonly ReadinessCheck[];
  /** The process's connection limits, shared with the users' listeners (config `connections`). */
  connections?: ConnectionGate;
}

/**
 * The operations listener, apart from the users' ports (loopback by default: metrics tell much about
 * a site): `/metrics` for Prometheus, `/healthz` (the process answers: restart it if not) and
 * `/readyz` (the database and the blob stores answer: send it traffic only then; 503 names the reason).
 */
export class AdminService implements Service {
  readonly name = 'admin';
  private readonly listener = new SmallHttpServer();

  constructor(private readonly options: AdminServiceOptions) {}

  get port(): number {
    return this.listener.port || this.options.port;
  }

  get origin(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${this.port}`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(405, 'method not allowed\n');
    }
    if (path === '/healthz') return send(200, 'ok\n');
    if (path === '/readyz') {
      const results = await runReadiness(this.options.readiness);
      const failed = results.filter((r) => !r.ok);
      if (failed.length) this.options.logger.warn({ failed: failed.map((r) => `${r.name}: ${r.detail}`) }, 'admin.not-ready');
      return send(failed.length ? 503 : 200, results.map((r) => `${r.name}: ${r.ok ? 'ok' : r.detail}\n`).join(''));
    }
    if (path === '/metrics') return send(200, await this.options.scrape(), this.options.contentType);
    return send(404, 'not found: /metrics, /healthz, /readyz\n');
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        this.options.logger.error({ err: (error as Error)?.message, path: req.url }, 'admin.error');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      });
    });
    if (this.options.connections) {
      guardServer(
        server,
        this.options.connections,
        'admin',
        () => 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
    }
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.maxHeadersCount = 50;
    await this.listener.listen(server, this.options.port, this.options.host);
  }

  stop(graceMs: number): Promise<void> {
    return this.listener.stop(graceMs);
  }

  banner(): string[] {
    return [`admin:     ${this.origin}/metrics, /healthz, /readyz (operations only: keep it off the users' networks)`];
  }
}
