import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw, type DeflateRaw } from 'node:zlib';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { ConnectionGate, type Notifier } from '@palabre/core';
import type { Database } from '@palabre/core/storage';
import { createDataSource, createPgNotifier, FsBlobStore, SqlDirectoryStore, SqlMailMetadataStore, SqlMailStore, SqlUsageStore, createMailTransportStores } from '@palabre/core/storage';
import { MemoryNotifier, createTestDatabase, memoryLogger, sqliteBackend, testAuthenticator, type MemoryLogger, type TestBackend } from '@palabre/core/testing';
import { analyzeMessage } from '../src/mime/analyze.js';
import { createImapServer, type ImapServer } from '../src/imap/server.js';
import { createSmtpServer } from '../src/smtp/smtp-server.js';
import { fakeDns } from './helpers/smtp-fixture.js';
import { selfSignedTls } from './helpers/tls.js';
import type { ImapLimits } from '../src/imap/session.js';

export interface TestAccount {
  readonly id: string;
  readonly address: string;
  readonly password: string;
}

export interface ImapWorld {
  readonly port: number;
  readonly tlsPort: number;
  readonly server: ImapServer;
  readonly blobDir: string;
  readonly store: SqlMailStore;
  readonly directory: SqlDirectoryStore;
  readonly blobs: FsBlobStore;
  readonly usage: SqlUsageStore;
  readonly notifier: Notifier;
  readonly logger: MemoryLogger;
  readonly users: Record<'alice' | 'bob' | 'carol' | 'secretariat', TestAccount>;
  readonly staffGroup: string;
  client(user?: keyof ImapWorld['users'], extra?: Partial<ImapFlowOptions>): Promise<ImapFlow>;
  raw(options?: { tls?: boolean }): Promise<RawClient>;
  /** A real MX (the SMTP package) delivering into this store; returns its port. */
  smtp(): Promise<number>;
  /** What SMTP delivery does: bytes to the blob store, analysis, MailDelivery.deliver. */
  deliver(to: (keyof ImapWorld['users'])[], message: string | Buffer, mailbox?: string): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  readonly allowInsecureAuth?: boolean;
  readonly limits?: Partial<ImapLimits>;
  readonly backend?: TestBackend;
  /** Notifications (a PgNotifier per node for cross-node tests). */
  readonly notifier?: Notifier;
  /** Run on this database instead of a fresh one (a second node); `blobDir` then shares the blobs. */
  readonly database?: { readonly db: Database; readonly blobDir: string };
  /** Tombstones kept per mailbox (to exercise the "compare UID lists" path). */
  readonly maxTombstones?: number;
  /** Create the domain, accounts and group (default: unless running on a shared database). */
  readonly seed?: boolean;
  readonly maxConnectionsPerIp?: number;
  /** Offer COMPRESS=DEFLATE (default true, as the server). */
  readonly compress?: boolean;
  /** SEARCH decided by the store (default true, as the server); false: every message evaluated here. */
  readonly indexedSearch?: boolean;
}

export async function startImap(options: WorldOptions = {}): Promise<ImapWorld> {
  const shared = options.database;
  const { db, cleanup } = shared ? { db: shared.db, cleanup: async () => undefined } : await (options.backend ?? sqliteBackend).open();
  const dir = shared ? shared.blobDir : await mkdtemp(join(tmpdir(), 'palabre-imap-blobs-'));
  const blobs = new FsBlobStore(dir);
  const usage = new SqlUsageStore(db);
  const notifier = options.notifier ?? new MemoryNotifier();
  const logger = memoryLogger();
  const store = new SqlMailStore(db, { blobs, usage, notifier, logger, ...(options.maxTombstones ? { maxTombstones: options.maxTombstones } : {}) });
  const directory = new SqlDirectoryStore(db);
  const seed = options.seed ?? !shared;
  if (seed) await directory.createDomain({ name: 'sante.gouv.tg' });
  const users = {} as Record<'alice' | 'bob' | 'carol' | 'secretariat', TestAccount>;
  const passwords: Record<string, string> = {};
  for (const name of ['alice', 'bob', 'carol', 'secretariat'] as const) {
    const address = `${name}@sante.gouv.tg`;
    const account = (seed ? null : await directory.findAccount(address)) ?? (await directory.createAccount({ address, displayName: name }));
    const password = `${name}-pass-Ünïcode`;
    users[name] = { id: account.id, address: account.address, password };
    passwords[account.address] = password;
  }
  const staff = (seed ? null : await directory.findGroup('staff')) ?? (await directory.createGroup({ name: 'staff', domain: 'sante.gouv.tg' }));
  await directory.addGroupMember(staff.id, { accountId: users.carol.id });
  const cert = await selfSignedTls();
  const server = createImapServer({
    store,
    blobs,
    directory,
    authenticator: testAuthenticator(directory, passwords),
    metadata: new SqlMailMetadataStore(db),
    notifier,
    logger,
    tls: cert,
    allowInsecureAuth: options.allowInsecureAuth ?? true,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.maxConnectionsPerIp ? { connections: new ConnectionGate({ perAddress: options.maxConnectionsPerIp }) } : {}),
    ...(options.compress !== undefined ? { compress: options.compress } : {}),
    ...(options.indexedSearch !== undefined ? { indexedSearch: options.indexedSearch } : {}),
  });
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
  const { port: tlsPort } = await server.listen({ port: 0, host: '127.0.0.1', security: 'implicit' });
  const clients: ImapFlow[] = [];
  const smtpStops: (() => Promise<void>)[] = [];
  const raws: RawClient[] = [];
  const world: ImapWorld = {
    port,
    tlsPort,
    server,
    blobDir: dir,
    store,
    directory,
    blobs,
    usage,
    notifier,
    logger,
    users,
    staffGroup: staff.id,
    async client(user = 'alice', extra = {}) {
      const u = users[user];
      const c = new ImapFlow({
        host: '127.0.0.1',
        port,
        secure: false,
        auth: { user: u.address, pass: u.password },
        logger: false,
        tls: { rejectUnauthorized: false },
        disableAutoIdle: true,
        ...extra,
      });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    },
    async raw(opts = {}) {
      const r = await RawClient.connect(opts.tls ? tlsPort : port, opts.tls ?? false);
      raws.push(r);
      return r;
    },
    async smtp() {
      const spoolDir = await mkdtemp(join(tmpdir(), 'palabre-imap-spool-'));
      const transport = createMailTransportStores(db);
      const mx = createSmtpServer({
        role: 'mx',
        hostname: 'mail.sante.gouv.tg',
        tls: cert,
        directory,
        blobs,
        delivery: store,
        authenticator: testAuthenticator(directory, passwords),
        queue: transport.queue,
        dkimKeys: transport.dkimKeys,
        vacations: transport.vacations,
        rateLimits: transport.rateLimits,
        usage,
        dns: fakeDns(),
        spoolDir,
        logger,
      });
      const smtpPort = await mx.listen(0, '127.0.0.1');
      smtpStops.push(async () => {
        await mx.close(100);
        await rm(spoolDir, { recursive: true, force: true });
      });
      return smtpPort;
    },
    async deliver(to, message, mailbox) {
      const bytes = Buffer.from(message);
      const blob = await blobs.put(bytes);
      const analysis = await analyzeMessage(bytes);
      await store.deliver(
        { blobId: blob.id, size: blob.size, receivedAt: new Date(), analysis: { headerBytes: analysis.headerBytes, data: analysis.data } },
        to.map((name) => ({ accountId: users[name].id, ...(mailbox ? { mailbox } : {}) })),
      );
    },
    async close() {
      for (const c of clients) c.close();
      for (const r of raws) r.close();
      await server.close(500);
      if (!options.notifier) await notifier.close();
      for (const stop of smtpStops) await stop();
      await cleanup();
      if (!shared) await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** Two IMAP nodes on one fresh PostgreSQL database and one blob folder, each with its LISTEN/NOTIFY notifier. */
export async function withTwoNodes(run: (a: ImapWorld, b: ImapWorld) => Promise<void>): Promise<void> {
  const tdb = await createTestDatabase();
  const db = await createDataSource({ postgres: { url: tdb.url } });
  const blobDir = await mkdtemp(join(tmpdir(), 'palabre-imap-nodes-'));
  const notifierA = await createPgNotifier({ url: tdb.url });
  const notifierB = await createPgNotifier({ url: tdb.url });
  const a = await startImap({ database: { db, blobDir }, notifier: notifierA, seed: true });
  const b = await startImap({ database: { db, blobDir }, notifier: notifierB });
  try {
    await run(a, b);
  } finally {
    await a.close();
    await b.close();
    await notifierA.close();
    await notifierB.close();
    await db.close();
    await tdb.drop();
    await rm(blobDir, { recursive: true, force: true });
  }
}

export function message(subject: string, body = 'Hello.\r\n', extra: string[] = [], from = 'Awa <awa@sante.gouv.tg>'): string {
  return [`From: ${from}`, `To: alice@sante.gouv.tg`, `Subject: ${subject}`, `Date: Mon, 3 Mar 2025 09:15:00 +0000`, `Message-ID: <${subject.replace(/\W/g, '')}@test>`, ...extra, '', body].join('\r\n');
}

/** A line client for what a library client hides: literals, pipelining, broken input. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private deflate: DeflateRaw | null = null;
  closed = false;

  private constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  static async connect(port: number, secure: boolean): Promise<RawClient> {
    const socket = secure ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const r = new RawClient(socket);
    await r.line();
    return r;
  }

  private attach(socket: net.Socket): void {
    this.readFrom(socket);
    socket.on('error', () => undefined);
  }

  /** Responses come from `source` (the socket, or what inflates it); the connection is over when it closes. */
  private readFrom(source: NodeJS.ReadableStream): void {
    source.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    source.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async more(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('raw client: timed out waiting for data')), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  write(data: string | Buffer): void {
    if (!this.deflate) {
      this.socket.write(data);
      return;
    }
    this.deflate.write(data);
    this.deflate.flush(zlibConstants.Z_SYNC_FLUSH);
  }

  /** After `OK DEFLATE active` (RFC 4978): from here what is written is deflated and what is read inflated. */
  compress(): void {
    const inflate = createInflateRaw();
    const deflate = createDeflateRaw();
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.socket.on('data', (d: Buffer) => inflate.write(d));
    // Inflating is asynchronous: the connection is over for the reader once what came before the close is out.
    this.socket.on('close', () => inflate.end());
    this.readFrom(inflate);
    inflate.on('error', () => this.socket.destroy());
    deflate.on('data', (d: Buffer) => this.socket.write(d));
    this.deflate = deflate;
  }

  /** Bytes received and not read yet. */
  pending(): number {
    return this.buf.length;
  }

  /** Whether the bytes received and not read yet hold `text`. */
  holds(text: string): boolean {
    return this.buf.includes(text);
  }

  /** Next line (without CRLF); a literal announced at its end is appended with its bytes. Null when closed. */
  async line(timeoutMs = 10_000): Promise<string | null> {
    for (;;) {
      const nl = this.buf.indexOf('\r\n');
      if (nl >= 0) {
        let line = this.buf.subarray(0, nl).toString('latin1');
        this.buf = this.buf.subarray(nl + 2);
        const lit = /\{(\d+)\}$/.exec(line);
        if (lit) {
          const n = Number(lit[1]);
          while (this.buf.length < n) {
            if (this.closed) return null;
            await this.more(timeoutMs);
          }
          line += '\r\n' + this.buf.subarray(0, n).toString('latin1');
          this.buf = this.buf.subarray(n);
          const rest = await this.line(timeoutMs);
          line += rest ?? '';
        }
        return line;
      }
      if (this.closed) return null;
      await this.more(timeoutMs);
    }
  }

  /** Send `tag command` and collect untagged lines up to the tagged response. */
  async cmd(tag: string, command: string, timeoutMs = 10_000): Promise<{ tagged: string | null; untagged: string[]; status: string | null }> {
    this.write(`${tag} ${command}\r\n`);
    return this.until(tag, timeoutMs);
  }

  async until(tag: string, timeoutMs = 10_000): Promise<{ tagged: string | null; untagged: string[]; status: string | null }> {
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      if (l === null) return { tagged: null, untagged, status: null };
      if (l.startsWith(`${tag} `)) return { tagged: l, untagged, status: l.split(' ')[1] ?? null };
      untagged.push(l);
    }
  }

  async login(user: TestAccount): Promise<void> {
    const r = await this.cmd('L1', `LOGIN "${user.address}" {${Buffer.byteLength(user.password)}+}\r\n${user.password}`);
    if (r.status !== 'OK') throw new Error(`login failed: ${r.tagged}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

