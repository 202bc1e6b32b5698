import type { JunkTraining } from './junk-training.js';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls';
import {
  ConnectionGate,
  guardServer,
  silentLogger,
  systemClock,
  type Authenticator,
  type BlobStore,
  type Clock,
  type DirectoryStore,
  type Logger,
  type MailMetadataStore,
  type MailStore,
  type Metrics,
  type Notifier,
} from '@palabre/core';
import { commandRegistry } from './commands/index.js';
import { imapMeasures } from './imap-metrics.js';
import { MailboxHub } from './mailbox-hub.js';
import { DEFAULT_LIMITS, Session, type ImapLimits } from './session.js';

export interface ImapTlsOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** Oldest protocol accepted (default TLSv1.2). */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** A certificate per server name (SNI), for STARTTLS and implicit TLS; without an answer, `key`/`cert`. */
  readonly SNICallback?: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
}

export interface ImapServerOptions {
  readonly store: MailStore;
  readonly blobs: BlobStore;
  readonly directory: DirectoryStore;
  readonly authenticator: Authenticator;
  /** RFC 5464 METADATA entries (server and mailbox annotations); without it METADATA is not offered. */
  readonly metadata?: MailMetadataStore;
  /** Change notifications between sessions and nodes (PgNotifier across nodes); without it, only this process's own writes are seen live. */
  readonly notifier?: Notifier | null;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Certificate for STARTTLS and implicit TLS listeners. Without it, only plaintext listeners work. */
  readonly tls?: ImapTlsOptions | null;
  /** Accept passwords without TLS (local development on loopback only). */
  readonly allowInsecureAuth?: boolean;
  readonly limits?: Partial<ImapLimits>;
  /**
   * Concurrent connection limits, shared with the process's other listeners (default: a gate of this
   * server's own with the default limits). Offices behind NAT share one address: see its `exempt`.
   */
  readonly connections?: ConnectionGate;
  /** Moves into and out of Junk teach the spam filter (e.g. a QueuedJunkTraining over rspamd). */
  readonly junkTraining?: JunkTraining;
  readonly metrics?: Metrics;
  /**
   * Offer RFC 4978 COMPRESS=DEFLATE (default true): worth it on slow and metered links (phones), a
   * cost on a LAN, where it roughly doubles a small request's round trip for clients that take it.
   */
  readonly compress?: boolean;
  /**
   * Let the store decide what it can of a SEARCH with its indexes (default true). False evaluates every
   * message of the mailbox here: the reference the indexed answers are tested against.
   */
  readonly indexedSearch?: boolean;
  /** Text of the greeting after `* OK [CAPABILITY …]`. */
  readonly greeting?: string;
}

export interface ImapListenOptions {
  readonly port: number;
  readonly host?: string;
  /** `starttls` (port 143, plaintext until STARTTLS) or `implicit` (port 993). Default starttls. */
  readonly security?: 'starttls' | 'implicit';
}

export interface ImapServer {
  /** Start a listener; may be called once per port (143 and 993 share sessions' notifications). */
  listen(options: ImapListenOptions): Promise<AddressInfo>;
  /** Serve an already accepted socket (for embedding behind another listener, which applies its own connection limits). */
  handle(socket: Socket, options?: { implicitTls?: boolean }): void;
  /** Stop listening, say BYE to every session, wait up to `graceMs`, then cut the rest. */
  close(graceMs?: number): Promise<void>;
  /** Open sessions. */
  readonly connections: number;
  /**
   * A new default certificate (renewed on disk): the next STARTTLS and implicit-TLS handshake use it;
   * sessions already open keep theirs. Throws, changing nothing, if the key and certificate are unusable.
   */
  setSecureContext(tls: Pick<ImapTlsOptions, 'key' | 'cert'>): void;
}

/**
 * An IMAP4rev2/IMAP4rev1 server over a MailStore. A library: no environment, no console, no exit;
 * identity, storage, notifications, logging and the clock come in as arguments.
 */
export function createImapServer(options: ImapServerOptions): ImapServer {
  const log = (options.logger ?? silentLogger).child({ component: 'imap' });
  const limits: ImapLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const minVersion = options.tls?.minVersion ?? 'TLSv1.2';
  const secureContext: SecureContext | null = options.tls ? createSecureContext({ key: options.tls.key, cert: options.tls.cert, minVersion }) : null;
  const implicitServers: TlsServer[] = [];
  const hub = new MailboxHub(options.store, options.notifier ?? null, log);
  const sessions = new Set<Session>();
  const gate = options.connections ?? new ConnectionGate({ logger: options.logger, metrics: options.metrics });
  const measures = imapMeasures(options.metrics);
  const listeners: Server[] = [];
  const commands = commandRegistry();
  let closing = false;

  const context = {
    store: options.store,
    blobs: options.blobs,
    directory: options.directory,
    authenticator: options.authenticator,
    ...(options.metadata ? { metadata: options.metadata } : {}),
    hub,
    log,
    clock: options.clock ?? systemClock,
    limits,
    tls: secureContext,
    sni: options.tls?.SNICallback,
    insecureAuth: options.allowInsecureAuth ?? false,
    compress: options.compress ?? true,
    indexedSearch: options.indexedSearch ?? true,
    commands,
    greeting: options.greeting ?? 'Palabre IMAP4rev2 server ready',
    measures,
    training: options.junkTraining,
    onClose: (session: Session) => {
      if (sessions.delete(session)) measures.connections.dec();
    },
  };

  function handle(socket: Socket, opts: { implicitTls?: boolean } = {}): void {
    const ip = socket.remoteAddress ?? '';
    const refuse = (why: string) => {
      log.warn({ ip, why }, 'imap.limit');
      socket.on('error', () => undefined);
      socket.end(`* BYE ${why}\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    if (closing) return refuse('Server shutting down');
    const session = new Session(context, socket, opts.implicitTls ?? false);
    sessions.add(session);
    measures.connections.inc();
    log.debug({ ip, implicitTls: opts.implicitTls ?? false }, 'imap.connect');
    session.run().catch((error: unknown) => {
      log.error({ err: (error as Error)?.message }, 'imap.server-bug');
      session.close();
    });
  }

  return {
    async listen(listen: ImapListenOptions): Promise<AddressInfo> {
      const implicit = listen.security === 'implicit';
      if (implicit && !secureContext) throw new Error('an implicit TLS listener needs a certificate (tls option)');
      const server: Server = implicit
        ? createTlsServer(
            { key: options.tls!.key, cert: options.tls!.cert, minVersion, ...(options.tls!.SNICallback ? { SNICallback: options.tls!.SNICallback } : {}) },
            (socket: TLSSocket) => handle(socket, { implicitTls: true }),
          )
        : createNetServer((socket) => handle(socket));
      if (implicit) implicitServers.push(server as TlsServer);
      server.on('tlsClientError', (error: Error) => log.debug({ err: error.message }, 'imap.starttls-failed'));
      // Counted before the TLS handshake of an implicit-TLS listener (a client that never finishes one
      // holds a descriptor too); over the limit, a BYE greeting in the clear, nothing before a handshake.
      guardServer(server, gate, implicit ? 'imaps' : 'imap', (reason) =>
        implicit ? null : `* BYE [UNAVAILABLE] ${reason === 'global' ? 'Too many connections' : 'Too many connections from your address'}\r\n`,
      );
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listen.port, listen.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      listeners.push(server);
      const address = server.address() as AddressInfo;
      log.info({ port: address.port, host: address.address, security: implicit ? 'implicit' : 'starttls' }, 'imap.listening');
      return address;
    },
    handle,
    async close(graceMs = 5000): Promise<void> {
      closing = true;
      const stopped = listeners.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
      const deadline = Date.now() + graceMs;
      // A client that stopped reading never lets its BYE flush: the grace period bounds the wait.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...sessions].map((s) => s.shutdown('Server shutting down').catch(() => undefined))),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
      while (sessions.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of sessions) s.close();
      await Promise.all(stopped);
      await hub.close();
      log.info({}, 'imap.closed');
    },
    get connections() {
      return sessions.size;
    },
    setSecureContext(tls) {
      if (!secureContext) throw new Error('this IMAP server was created without TLS');
      // Built first: a bad pair throws here, before any listener changed.
      const next = createSecureContext({ key: tls.key, cert: tls.cert, minVersion });
      for (const server of implicitServers) server.setSecureContext({ key: tls.key, cert: tls.cert, minVersion });
      context.tls = next;
    },
  };
}
