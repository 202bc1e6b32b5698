import { createServer, type Server } from 'node:http';
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
