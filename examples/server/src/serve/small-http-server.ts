import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The start and stop of the small HTTP listeners of `palabre serve` (admin, redirect): listen and
 * learn the bound port; on stop, refuse new connections, close idle ones, and cut the rest after the
 * grace period.
 */
export class SmallHttpServer {
  private readonly sockets = new Set<Socket>();
  private running: Server | null = null;
  port = 0;

  async listen(server: Server, port: number, host: string): Promise<void> {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.running = server;
  }

  async stop(graceMs: number): Promise<void> {
    const server = this.running;
    if (!server) return;
    this.running = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }
}
