import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

/**
 * The attacker for migration tests: a TLS endpoint in front of the real legacy Dovecot that relays the
 * IMAP session unchanged, except that on the chosen connections (1 = the first) it corrupts the first
 * message body the server sends: `oversized-literal` announces a 200 MB literal, above the migration's
 * limit and below imapflow's own default (1 GiB), so only our bound stops it; `malformed-fetch` replaces the FETCH response with unparseable syntax.
 */
export interface HostileProxy {
  readonly port: number;
  /** Connections whose stream was corrupted. */
  readonly attacked: number;
  close(): Promise<void>;
}

export async function startHostileProxy(options: {
  upstreamPort: number;
  cert: string;
  key: string;
  attack: 'oversized-literal' | 'malformed-fetch';
  connections: readonly number[];
}): Promise<HostileProxy> {
  const sockets = new Set<Socket>();
  let count = 0;
  let attacked = 0;
  const server = createServer({ cert: await readFile(options.cert), key: await readFile(options.key) }, (client: TLSSocket) => {
    const n = ++count;
    const upstream = connect({ host: '127.0.0.1', port: options.upstreamPort });
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    let armed = options.connections.includes(n);
    let tail = '';
    upstream.on('data', (chunk: Buffer) => {
      if (!armed) {
        client.write(chunk);
        return;
      }
      const text = tail + chunk.toString('latin1');
      const marker = /BODY\[\] \{\d+\}\r\n/.exec(text);
      const at = marker ? marker.index : -1;
      if (at < 0) {
        // The marker ends a line: hold back only an unfinished line, which may be its start.
        const cut = text.lastIndexOf('\n') + 1;
        client.write(Buffer.from(text.slice(0, cut), 'latin1'));
        tail = text.slice(cut);
        return;
      }
      armed = false;
      attacked++;
      const before = text.slice(0, at);
      if (options.attack === 'oversized-literal') {
        client.write(Buffer.from(`${before}BODY[] {200000000}\r\n`, 'latin1'));
        // …and then a flood, as a server trying to fill our memory would.
        const junk = Buffer.alloc(64 * 1024, 0x41);
        let sent = 0;
        const flood = () => {
          while (sent < 256 && !client.destroyed && client.write(junk)) sent++;
          if (sent < 256 && !client.destroyed) client.once('drain', flood);
        };
        flood();
      } else {
        // Garbage where the literal was announced, then the rest of the session as the server sent it.
        client.write(
          Buffer.from(`${before}BODY[] {x}\r\n)))((( "\r\n* 1 FETCH (((((((\r\n${text.slice(at + marker![0].length)}`, 'latin1'),
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    get attacked() {
      return attacked;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
