import type { Server, Socket } from 'node:net';
import { clientNetwork, networkMatcher, normalizeIp } from './network.js';
import { silentLogger, type Logger } from './ports/logger.js';
import { noopMetrics, type Counter, type Gauge, type Metrics } from './ports/metrics.js';

export interface ConnectionGateOptions {
  /** Concurrent connections from one client network (IPv4 address, IPv6 /64) over every listener; 0: no limit. */
  readonly perAddress?: number;
  /** Concurrent connections in all, over every listener of the process; 0: no limit. */
  readonly global?: number;
  /** Networks (CIDR) without a per-address limit (a ministry's NAT, a load balancer); the global limit still applies. */
  readonly exempt?: readonly string[];
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** At most one log line per reason in this long, however many sockets are refused (default 60 s). */
  readonly logIntervalMs?: number;
  readonly now?: () => number;
}

export type ConnectionRefusal = 'per-address' | 'global';

/** A socket's answer from the gate: let in, or why not. */
export type GateVerdict = { readonly admitted: true } | { readonly admitted: false; readonly reason: ConnectionRefusal };

export const DEFAULT_CONNECTIONS_PER_ADDRESS = 200;
export const DEFAULT_CONNECTIONS_GLOBAL = 20_000;

/** Log events of the gate (a closed set, as every package's). */
export const CONNECTION_LOG_EVENTS = ['connection.refused'] as const;

/**
 * Connection limits shared by every listener of a process (HTTP, SMTP, submission, IMAP, admin):
 * descriptors are one pool, so an address that holds 200 idle IMAP sockets has no room left on HTTP
 * either, and a flood on one port cannot starve the others of descriptors. Counted when the kernel
 * hands over a socket and released when that socket closes, whatever the protocol did with it; a
 * refusal is logged at most once per interval (with how many were refused since) and counted in
 * `palabre_connections_refused_total`.
 */
export class ConnectionGate {
  private readonly perAddress: number;
  private readonly global: number;
  private readonly exempt: (ip: string) => boolean;
  private readonly fromNetwork = new Map<string, number>();
  private total = 0;
  private readonly counted = new WeakSet<Socket>();
  private readonly log: Logger;
  private readonly logIntervalMs: number;
  private readonly now: () => number;
  private readonly lastLog = new Map<ConnectionRefusal, { at: number; suppressed: number }>();
  private readonly refusedCounter: Counter;
  private readonly openGauge: Gauge;

  constructor(options: ConnectionGateOptions = {}) {
    this.perAddress = options.perAddress ?? DEFAULT_CONNECTIONS_PER_ADDRESS;
    this.global = options.global ?? DEFAULT_CONNECTIONS_GLOBAL;
    this.exempt = networkMatcher(options.exempt ?? []);
    this.log = (options.logger ?? silentLogger).child({ component: 'connection-gate' });
    this.logIntervalMs = options.logIntervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
    const metrics = options.metrics ?? noopMetrics;
    this.refusedCounter = metrics.counter({
      name: 'palabre_connections_refused_total',
      help: 'Connections refused by the per-address or global connection limit.',
      labels: ['listener', 'reason'],
    });
    this.openGauge = metrics.gauge({ name: 'palabre_connections_open', help: 'Open client connections.', labels: ['listener'] });
  }

  /** Open connections in all, or from the network of `ip`. */
  open(ip?: string): number {
    return ip === undefined ? this.total : (this.fromNetwork.get(clientNetwork(normalizeIp(ip))) ?? 0);
  }

  /**
   * Admit an accepted socket to `listener` (a closed name: `http`, `imap`, `smtp`…): counted until it
   * closes. The same socket is counted once, however many layers ask.
   */
  admit(socket: Socket, listener: string): GateVerdict {
    if (this.counted.has(socket)) return { admitted: true };
    const ip = normalizeIp(socket.remoteAddress);
    const network = clientNetwork(ip);
    const reason = this.check(ip, network);
    if (reason) {
      this.refused(listener, reason, ip);
      return { admitted: false, reason };
    }
    this.counted.add(socket);
    this.total++;
    this.fromNetwork.set(network, (this.fromNetwork.get(network) ?? 0) + 1);
    this.openGauge.inc({ listener });
    socket.once('close', () => {
      this.total--;
      const n = (this.fromNetwork.get(network) ?? 1) - 1;
      if (n <= 0) this.fromNetwork.delete(network);
      else this.fromNetwork.set(network, n);
      this.openGauge.dec({ listener });
    });
    return { admitted: true };
  }

  private check(ip: string, network: string): ConnectionRefusal | null {
    if (this.global > 0 && this.total >= this.global) return 'global';
    if (this.perAddress > 0 && (this.fromNetwork.get(network) ?? 0) >= this.perAddress && !this.exempt(ip)) return 'per-address';
    return null;
  }

  private refused(listener: string, reason: ConnectionRefusal, ip: string): void {
    this.refusedCounter.inc({ listener, reason });
    const now = this.now();
    const last = this.lastLog.get(reason);
    if (last && now - last.at < this.logIntervalMs) {
      last.suppressed++;
      return;
    }
    this.lastLog.set(reason, { at: now, suppressed: 0 });
    this.log.warn(
      {
        listener,
        reason,
        ip,
        limit: reason === 'global' ? this.global : this.perAddress,
        open: this.total,
        // Refusals not logged since the previous line (this one excluded).
        alsoRefused: last?.suppressed ?? 0,
      },
      'connection.refused',
    );
  }
}

/**
 * Put `gate` in front of a listening server: every socket the kernel hands over is admitted or
 * refused before the protocol's own connection handler sees it. Refused sockets get `refuse` (the
 * protocol's cheap answer: SMTP 421, IMAP BYE, HTTP 503; nothing on TLS before its handshake) and are
 * destroyed shortly after, whether or not the client reads.
 */
export function guardServer(server: Server, gate: ConnectionGate, listener: string, refuse: (reason: ConnectionRefusal) => string | null): void {
  // net.Server hands each accepted socket to its 'connection' listeners through emit(); the protocol
  // libraries register theirs in their constructors, so wrapping emit is the one way to decide before
  // any of them (http, tls, smtp-server) starts on the socket.
  const emit = server.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'connection') {
      const socket = args[0] as Socket;
      const verdict = gate.admit(socket, listener);
      if (!verdict.admitted) {
        closeWithAnswer(socket, refuse(verdict.reason));
        return true;
      }
    }
    return emit.call(this, event, ...args);
  } as unknown as Server['emit'];
}

/** Longest a closing socket is kept for its last answer to leave. */
const CLOSING_LINGER_MS = 2000;

/**
 * Send a last answer (or nothing) and release the descriptor within a bounded time, whatever the
 * client does: `end()` alone keeps a socket until the peer sends its FIN, so a client that never
 * closes (half-open, or gone without a RST) would hold the descriptor for ever.
 */
export function closeWithAnswer(socket: Socket, answer: string | null): void {
  socket.on('error', () => undefined);
  if (answer === null) {
    socket.destroy();
    return;
  }
  // Read and drop what the client sends, so that its FIN is seen and the socket closes at once.
  socket.resume();
  socket.end(answer, () => socket.destroy());
  setTimeout(() => socket.destroy(), CLOSING_LINGER_MS).unref();
}
