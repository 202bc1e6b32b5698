import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  MemoryBlobStore,
  MemoryDirectoryStore,
  MemoryDriveStore,
  MemoryLockStore,
  memoryLogger,
  testAuthenticator,
  testHttpAuthenticator,
} from '@palabre/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { DAV_LOG_EVENTS } from './log-events.js';
import { createDavHandler, drivePlugin, principalsPlugin, type DavHandler } from './index.js';

const USER = 'ana@mef.gouv.test';
const auth = `Basic ${Buffer.from(`${USER}:pw`).toString('base64')}`;

async function stack(basePath: string) {
  const directory = new MemoryDirectoryStore();
  await directory.createDomain({ name: 'mef.gouv.test' });
  await directory.createAccount({ address: USER, displayName: 'Ana' });
  const log = memoryLogger();
  const handler = createDavHandler({
    basePath,
    authenticator: testHttpAuthenticator(testAuthenticator(directory, { [USER]: 'pw' })),
    locks: new MemoryLockStore(),
    logger: log,
    plugins: [principalsPlugin({ directory }), drivePlugin({ store: new MemoryDriveStore({ directory }), blobs: new MemoryBlobStore(), directory })],
  });
  return { handler, log };
}

let server: Server | null = null;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(null));
  server = null;
});

async function listen(fn: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(fn);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

describe('createDavHandler', () => {
  it('gives a PROPFIND naming a property the latest definition that applies, as propfind allprop does', async () => {
    // Two plugins define {urn:t}kind: the later one only for b.txt. A prop request must fall back to the
    // earlier definition for the others, exactly as the full property map (allprop, propname) does.
    const directory = new MemoryDirectoryStore();
    await directory.createDomain({ name: 'mef.gouv.test' });
    await directory.createAccount({ address: USER, displayName: 'Ana' });
    const kind = '{urn:t}kind';
    const handler = createDavHandler({
      basePath: '/dav',
      authenticator: testHttpAuthenticator(testAuthenticator(directory, { [USER]: 'pw' })),
      locks: new MemoryLockStore(),
      plugins: [
        principalsPlugin({ directory }),
        drivePlugin({ store: new MemoryDriveStore({ directory }), blobs: new MemoryBlobStore(), directory }),
        { name: 'first', setup: (host) => host.addProperty({ name: kind, allprop: true, appliesTo: (r) => !r.collection, get: () => 'first' }) },
        { name: 'later', setup: (host) => host.addProperty({ name: kind, allprop: true, appliesTo: (r) => r.path.segments.at(-1) === 'b.txt', get: () => 'later' }) },
      ],
    });
    const origin = await listen((req, res) => handler(req, res, () => res.end()));
    for (const name of ['a.txt', 'b.txt']) await fetch(`${origin}/dav/files/${USER}/${name}`, { method: 'PUT', headers: { authorization: auth }, body: 'x' });
    const propfind = async (body: string) => {
      const r = await fetch(`${origin}/dav/files/${USER}/`, { method: 'PROPFIND', headers: { authorization: auth, depth: '1' }, body });
      expect(r.status).toBe(207);
      const xml = await r.text();
      return Object.fromEntries(['a.txt', 'b.txt'].map((n) => [n, /<kind xmlns="urn:t">(\w+)<\/kind>/.exec(xml.slice(xml.indexOf(`${n}</d:href>`)))?.[1]]));
    };
    const named = await propfind('<d:propfind xmlns:d="DAV:" xmlns:t="urn:t"><d:prop><t:kind/><d:getetag/></d:prop></d:propfind>');
    expect(named).toEqual({ 'a.txt': 'first', 'b.txt': 'later' });
    expect(await propfind('<d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>')).toEqual(named);
  });

  it('answers under any base path, builds hrefs from it, and leaves the rest to next()', async () => {
    const { handler } = await stack('/api/v1/dav/');
    let passed = 0;
    const origin = await listen((req, res) => {
      handler(req, res, () => {
        passed++;
        res.statusCode = 418;
        res.end();
      });
    });
    const put = await fetch(`${origin}/api/v1/dav/files/${USER}/note.txt`, { method: 'PUT', headers: { authorization: auth }, body: 'hi' });
    expect(put.status).toBe(201);
    expect(put.headers.get('location')).toBe(`/api/v1/dav/files/${USER}/note.txt`);
    const listing = await (await fetch(`${origin}/api/v1/dav/files/${USER}/`, { method: 'PROPFIND', headers: { authorization: auth, depth: '1' } })).text();
    expect(listing).toContain(`<d:href>/api/v1/dav/files/${USER}/note.txt</d:href>`);
    expect((await fetch(`${origin}/.well-known/caldav`)).status).toBe(418);
    expect((await fetch(`${origin}/api/v1/davx/files/`)).status).toBe(418);
    expect(passed).toBe(2);
    expect(handler.handles('/api/v1/dav/files/')).toBe(true);
    expect(handler.handles('/.well-known/carddav')).toBe(false);
  });

  it('honours a mount point stripped from req.url (Express app.use) through req.originalUrl', async () => {
    const { handler } = await stack('/dav');
    const origin = await listen((req, res) => {
      // What Express does for app.use('/dav', handler): the mount is cut from url, kept in originalUrl.
      const original = req.url!;
      Object.assign(req, { originalUrl: original, url: original.slice('/dav'.length) || '/' });
      (handler as DavHandler)(req, res);
    });
    const res = await fetch(`${origin}/dav/files/${USER}/`, { method: 'PROPFIND', headers: { authorization: auth, depth: '0' } });
    expect(res.status).toBe(207);
    expect(await res.text()).toContain(`<d:href>/dav/files/${USER}/</d:href>`);
  });

  it('runs on the in-memory stores alone, and logs only its closed set of events', async () => {
    const { handler, log } = await stack('/dav');
    const origin = await listen((req, res) => handler(req, res));
    const base = `${origin}/dav/files/${USER}`;
    expect((await fetch(`${base}/d/`, { method: 'MKCOL', headers: { authorization: auth } })).status).toBe(201);
    expect((await fetch(`${base}/d/a.txt`, { method: 'PUT', headers: { authorization: auth }, body: 'a' })).status).toBe(201);
    expect((await fetch(`${base}/d/a.txt`, { method: 'MOVE', headers: { authorization: auth, destination: `${base}/b.txt` } })).status).toBe(201);
    expect(await (await fetch(`${base}/b.txt`, { headers: { authorization: auth } })).text()).toBe('a');
    expect((await fetch(`${base}/b.txt`)).status).toBe(401);
    expect((await fetch(`${base}/../x`, { headers: { authorization: auth } })).status).toBeLessThan(500);
    const events = new Set(log.records.map((r) => r.event));
    expect(events.size).toBeGreaterThan(2);
    for (const event of events) expect(DAV_LOG_EVENTS).toContain(event);
  });
});
