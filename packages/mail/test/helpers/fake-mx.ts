import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { selfSignedTls } from './tls.js';

export type MxBehaviour = 'accept' | 'defer' | 'reject' | 'drop' | ((rcpt: string) => 'accept' | 'defer' | 'reject');

export interface ReceivedByMx {
  from: string;
  to: string[];
  data: Buffer;
  secure: boolean;
}

/** A receiving MTA on loopback (a second smtp-server) whose answers the test decides. */
export async function startFakeMx(behaviour: { value: MxBehaviour }): Promise<{ port: number; received: ReceivedByMx[]; connections: number; close(): Promise<void> }> {
  const received: ReceivedByMx[] = [];
  const state = { connections: 0 };
  const tls = await selfSignedTls();
  const server = new SMTPServer({
    key: tls.key,
    cert: tls.cert,
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    hideENHANCEDSTATUSCODES: false,
    onConnect(_session, cb) {
      state.connections++;
      cb();
    },
    onRcptTo(address, session, cb) {
      const b = behaviour.value;
      if (b === 'drop') {
        // Cut the connection mid-transaction, like a crashed or overloaded server.
        (session as unknown as { _socket?: unknown });
        for (const c of (server as unknown as { connections: Set<{ close(): void }> }).connections) c.close();
        return;
      }
      const verdict = typeof b === 'function' ? b(address.address) : b;
      if (verdict === 'defer') return cb(Object.assign(new Error('mailbox temporarily unavailable'), { responseCode: 451 }));
      if (verdict === 'reject') return cb(Object.assign(new Error('user unknown'), { responseCode: 550 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
          secure: session.secure,
        });
        cb(null, 'queued');
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    get connections() {
      return state.connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
