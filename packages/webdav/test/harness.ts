import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createCoreStores, createDataSource, FsBlobStore, sqliteFileIn, type CoreStores } from '@palabre/core/storage';
import type { Notifier } from '@palabre/core';
import { createTestDatabase, memoryLogger, postgresAvailable, testAuthenticator, testHttpAuthenticator, type MemoryLogger } from '@palabre/core/testing';
import { createDavHandler, drivePlugin, principalsPlugin, type DavHandlerOptions, type DavPlugin } from '../src/index.js';

export const ALICE = 'alice@ms.gouv.test';
export const BOB = 'bob@ms.gouv.test';
export const CAROL = 'carol@ms.gouv.test';
export const PASSWORDS: Record<string, string> = { [ALICE]: 'alice-pass', [BOB]: 'bob-pass', [CAROL]: 'carol-pass' };

export interface TestServer {
  readonly url: string;
  readonly origin: string;
  readonly stores: CoreStores;
  readonly blobs: FsBlobStore;
  readonly log: MemoryLogger;
  readonly dir: string;
  auth(user?: string): string;
  /** fetch with Basic auth as `user` (default alice). */
  dav(method: string, path: string, init?: { headers?: Record<string, string>; body?: RequestInit['body']; user?: string | null }): Promise<Response>;
  /** A second handler over the same database and blobs (a restart, or a second node). */
  restart(): Promise<void>;
  /** Another node: a handler of its own (own caches) on its own port, over the same database and blobs; its origin. */
  secondNode(): Promise<string>;
  close(): Promise<void>;
}

export type Backend = 'sqlite' | 'postgres';
export const backends: Backend[] = ['sqlite', ...((await postgresAvailable()) ? (['postgres'] as const) : [])];

/** A listening DAV server on loopback with alice, bob and carol, over SQLite or a throw-away PostgreSQL. */
export async function startServer(
  backend: Backend = 'sqlite',
  options: {
    quota?: number;
    extra?: Partial<DavHandlerOptions>;
    verifyDownloads?: boolean;
    /** More accounts (address → password), their domains created as needed. */
    users?: Record<string, string>;
    /** Plugins after the principals and the drive. */
    morePlugins?: DavPlugin[];
    notifier?: Notifier;
  } = {},
): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'palabre-dav-'));
  const pg = backend === 'postgres' ? await createTestDatabase() : null;
  const open = () => createDataSource(pg ? { postgres: { url: pg.url, poolSize: 8 } } : { sqlite: { file: sqliteFileIn(dir) } });
  let db = await open();
  let stores = createCoreStores(db);
  const passwords = { ...PASSWORDS, ...options.users };
  const domains = new Set<string>();
  for (const address of Object.keys(passwords)) {
    const domain = address.slice(address.lastIndexOf('@') + 1);
    if (!domains.has(domain)) await stores.directory.createDomain({ name: domain });
    domains.add(domain);
    await stores.directory.createAccount({ address, displayName: address.split('@')[0]!, quotaBytes: options.quota ?? null });
  }
  const blobs = new FsBlobStore(join(dir, 'blobs'));
  const log = memoryLogger();
  let server: Server;
  const others: { server: Server; close(): Promise<void> }[] = [];
  const handlerOver = (stores: CoreStores) =>
    createDavHandler({
      basePath: '/dav',
      authenticator: testHttpAuthenticator(testAuthenticator(stores.directory, passwords)),
      locks: stores.locks,
      logger: log,
      serverRoot: true,
      notifier: options.notifier,
      plugins: [
        principalsPlugin({ directory: stores.directory }),
        drivePlugin({ store: stores.drive, blobs, directory: stores.directory, verifyDownloads: options.verifyDownloads ?? true }),
        ...(options.morePlugins ?? []),
      ],
      ...options.extra,
    });
  const listen = async (port = 0) => {
    const handler = handlerOver(stores);
    server = createServer(handler);
    // Expect: 100-continue reaches the handler, which answers it once the request may go on (README).
    server.on('checkContinue', handler);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const port = await listen();
  const origin = `http://127.0.0.1:${port}`;
  const auth = (user = ALICE) => `Basic ${Buffer.from(`${user}:${passwords[user]}`).toString('base64')}`;
  const t: TestServer = {
    url: `${origin}/dav/files/${ALICE}/`,
    origin,
    get stores() {
      return stores;
    },
    blobs,
    log,
    dir,
    auth,
    dav: (method, path, init = {}) =>
      fetch(path.startsWith('http') ? path : `${origin}${path}`, {
        method,
        headers: { ...(init.user === null ? {} : { authorization: auth(init.user ?? ALICE) }), ...init.headers },
        body: init.body ?? null,
        duplex: 'half',
      } as RequestInit),
    async restart() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await db.close();
      db = await open();
      stores = createCoreStores(db);
      await listen(port);
    },
    async secondNode() {
      const db2 = await open();
      const other = createServer(handlerOver(createCoreStores(db2)));
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      others.push({ server: other, close: () => db2.close() });
      return `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    },
    async close() {
      for (const o of others) {
        o.server.closeAllConnections();
        await new Promise<void>((resolve) => o.server.close(() => resolve()));
        await o.close();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
      await pg?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** A PROPFIND answer's hrefs. */
export function hrefs(xml: string): string[] {
  return [...xml.matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => m[1]!);
}

export const PALABRE_CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'server', 'bin', 'palabre.js');

/** Run a `palabre` administration command (built by npm install / npm test) on a data folder. */
export async function palabre(dataDir: string, ...args: string[]): Promise<void> {
  const child = spawn(process.execPath, [PALABRE_CLI, ...args, '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: '' } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`palabre ${args.join(' ')} exited with ${code}: ${out}`);
}

/** `palabre serve` on loopback (HTTP only) in a child process; resolves once /healthz answers. */
export async function spawnPalabre(dataDir: string): Promise<{ child: ChildProcess; origin: string; output: () => string }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const child = spawn(
    process.execPath,
    [PALABRE_CLI, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--http-port', String(port), '--smtp-port', '0', '--submission-port', '0', '--imap-port', '0', '--admin-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: '' } },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const origin = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${origin}/healthz`).then((r) => r.ok).catch(() => false)) break;
    if (child.exitCode !== null || i > 300) throw new Error(`palabre serve did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, origin, output: () => out };
}
