import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpAuthenticator } from '@palabre/core';

/**
 * A real listening HTTP server guarded by an HttpAuthenticator, mounted as the package README shows:
 * 401 with the challenges, 429 with Retry-After, the principal's address on success.
 */
export async function startGuardedServer(http: HttpAuthenticator): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const who = await http.authenticate({ authorization: req.headers.authorization, ip: req.socket.remoteAddress ?? null, secure: true });
    if (!who.ok) {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (who.status === 401) headers['www-authenticate'] = http.challenges().join(', ');
      if (who.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(who.retryAfterMs / 1000)));
      res.writeHead(who.status, headers);
      return res.end(`${who.status}\n`);
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello ${who.principal.address}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a client sees of one answer: status line, headers but Date, body. */
export interface Answer {
  readonly status: number;
  readonly text: string;
}

/** One request with HTTP Basic from a chosen loopback address (127.0.0.0/8 is all ours on Linux). */
export function basicRequest(port: number, from: string, user: string, password: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        localAddress: from,
        agent: false,
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          const headers = Object.entries(res.headers)
            .filter(([name]) => name !== 'date')
            .map(([name, value]) => `${name}: ${String(value)}`)
            .sort();
          resolve({ status: res.statusCode ?? 0, text: [`HTTP ${res.statusCode}`, ...headers, '', body].join('\n') });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
