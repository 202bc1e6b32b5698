import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createCoreStores, createDataSource, FsBlobStore, sqliteFileIn, type CoreStores } from '@palabre/core/storage';
import { createTestDatabase, memoryLogger, postgresAvailable, testAuthenticator, testHttpAuthenticator, type MemoryLogger } from '@palabre/core/testing';
import { createDavHandler, drivePlugin, principalsPlugin, type DavHandlerOptions } from '../src/index.js';

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
  close(): Promise<void>;
}

export type Backend = 'sqlite' | 'postgres';
export const backends: Backend[] = ['sqlite', ...((await postgresAvailable()) ? (['postgres'] as const) : [])];

/** A listening DAV server on loopback with alice, bob and carol, over SQLite or a throw-away PostgreSQL. */
export async function startServer(
  backend: Backend = 'sqlite',
  options: { quota?: number; extra?: Partial<DavHandlerOptions>; verifyDownloads?: boolean } = {},
): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'palabre-dav-'));
  const pg = backend === 'postgres' ? await createTestDatabase() : null;
  const open = () => createDataSource(pg ? { postgres: { url: pg.url, poolSize: 8 } } : { sqlite: { file: sqliteFileIn(dir) } });
  let db = await open();
  let stores = createCoreStores(db);
  const domain = await stores.directory.createDomain({ name: 'ms.gouv.test' });
  for (const address of Object.keys(PASSWORDS)) {
    await stores.directory.createAccount({ address, displayName: address.split('@')[0]!, quotaBytes: options.quota ?? null });
  }
  void domain;
  const blobs = new FsBlobStore(join(dir, 'blobs'));
  const log = memoryLogger();
  let server: Server;
  const listen = async (port = 0) => {
    const handler = createDavHandler({
      basePath: '/dav',
      authenticator: testHttpAuthenticator(testAuthenticator(stores.directory, PASSWORDS)),
      locks: stores.locks,
      logger: log,
      serverRoot: true,
      plugins: [
        principalsPlugin({ directory: stores.directory }),
        drivePlugin({ store: stores.drive, blobs, directory: stores.directory, verifyDownloads: options.verifyDownloads ?? true }),
      ],
      ...options.extra,
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const port = await listen();
  const origin = `http://127.0.0.1:${port}`;
  const auth = (user = ALICE) => `Basic ${Buffer.from(`${user}:${PASSWORDS[user]}`).toString('base64')}`;
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
    async close() {
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

export const SERVE = join(dirname(fileURLToPath(import.meta.url)), 'serve.mjs');

/** serve.mjs in a child process (for kill -9 and real clients); resolves once it listens. */
export async function spawnServer(dataDir: string, args: string[] = []): Promise<{ child: ChildProcess; url: string; origin: string; output: () => string }> {
  const child = spawn(process.execPath, [SERVE, '--data', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve.mjs exited with ${code}: ${out}`)));
  });
  return { child, url, origin: new URL(url).origin, output: () => out };
}
