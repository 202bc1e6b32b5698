import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, PASSWORDS, backends, startServer, type TestServer } from './harness.js';

const A = `/dav/files/${ALICE}`;
const B = `/dav/files/${BOB}`;

/** A request with the path sent exactly as written (fetch would normalise ".."). */
function raw(t: TestServer, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; text: string }> {
  const url = new URL(t.origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { authorization: t.auth(ALICE), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Everything about Bob's drive that an attack could change. */
async function snapshot(t: TestServer) {
  const { drive, locks } = t.stores;
  const space = (await drive.findSpace(BOB))!;
  const tree = await drive.descendants(space.rootId, 10_000);
  if (tree === 'too-many') throw new Error('too many');
  const ids = [space.rootId, ...tree.map((e) => e.node.id)];
  const props = await drive.properties(ids);
  return {
    tree: tree.map((e) => ({ path: e.path.join('/'), id: e.node.id, blob: e.node.blobId, version: e.node.version, size: e.node.size })),
    root: await drive.getNode(space.rootId),
    props: [...props].sort(),
    locks: await locks.below(`/files/${BOB}`, new Date()),
  };
}

describe.each(backends)('hostile input on %s', (backend) => {
  let t: TestServer;
  let bobLock: string;
  beforeAll(async () => {
    t = await startServer(backend, { extra: { limits: { maxInfinity: 300 } } });
    expect((await t.dav('PUT', `${B}/secret.txt`, { body: 'bob only', user: BOB })).status).toBe(201);
    expect((await t.dav('MKCOL', `${B}/private/`, { user: BOB })).status).toBe(201);
    expect((await t.dav('PUT', `${B}/private/plans.txt`, { body: 'plans', user: BOB })).status).toBe(201);
    const lock = await t.dav('LOCK', `${B}/private/plans.txt`, {
      user: BOB,
      body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
    });
    bobLock = lock.headers.get('lock-token')!;
    expect((await t.dav('PUT', `${A}/mine.txt`, { body: 'alice' })).status).toBe(201);
  });
  afterAll(async () => t.close());

  it('refuses path traversal in every spelling with 400, reaching nothing', async () => {
    const before = await snapshot(t);
    const paths = [
      `${A}/../${BOB}/secret.txt`,
      `${A}/%2e%2e/${BOB}/secret.txt`,
      `${A}/%2E%2E/%2E%2E/files/${BOB}/secret.txt`,
      `${A}/..%2f${BOB}%2fsecret.txt`,
      `${A}/a%2f..%2f..%2f${BOB}`,
      `${A}/secret%00.txt`,
      `${A}/%c0%ae%c0%ae/${BOB}/secret.txt`,
      `${A}/%e0%80%ae%e0%80%ae/x`,
      `${A}/./mine.txt`,
      `${A}/x#frag`,
    ];
    for (const path of paths) {
      for (const method of ['GET', 'PUT', 'DELETE', 'PROPFIND', 'MKCOL']) {
        const res = await raw(t, method, path, {}, method === 'PUT' ? 'pwned' : undefined);
        expect(res.status, `${method} ${path}`).toBe(400);
      }
    }
    const backslash = await raw(t, 'GET', `${A}/..%5c..%5c${BOB}%5csecret.txt`);
    expect(backslash.status).toBe(404);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses XML bombs, external entities and deep nesting with 400, storing nothing', async () => {
    const before = await (await t.dav('PROPFIND', `${A}/mine.txt`, { headers: { depth: '0' } })).text();
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`;
    const bodies = [
      `${laughs}<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop>&lol9;</D:propfind>`,
      '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:p xmlns:x="urn:x">&x;</x:p></D:prop></D:set></D:propertyupdate>',
      `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:p xmlns:x="urn:x">${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</x:p></D:prop></D:set></D:propertyupdate>`,
      '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><p:x/></D:prop></D:set></D:propertyupdate>',
    ];
    for (const body of bodies) {
      for (const method of ['PROPFIND', 'PROPPATCH', 'LOCK']) {
        const res = await t.dav(method, `${A}/mine.txt`, { body, headers: { depth: '0', 'content-type': 'application/xml' } });
        expect(res.status, `${method} ${body.slice(0, 60)}`).toBe(400);
      }
    }
    expect(await (await t.dav('PROPFIND', `${A}/mine.txt`, { headers: { depth: '0' } })).text()).toBe(before);
    expect((await t.stores.locks.covering(`/files/${ALICE}/mine.txt`, new Date())).length).toBe(0);
  });

  it('answers a 1 GB PROPFIND body with 413 after reading at most a few MB, and stays up', async () => {
    const url = new URL(t.origin);
    for (const framing of ['content-length', 'chunked']) {
      const result = await new Promise<{ head: string; sent: number }>((resolve) => {
        const socket = connect(Number(url.port), url.hostname);
        let head = '';
        let sent = 0;
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        socket.on('connect', () => {
          socket.write(
            `PROPFIND ${A}/ HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${t.auth(ALICE)}\r\nDepth: 0\r\nContent-Type: application/xml\r\n` +
              (framing === 'chunked' ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${1024 ** 3}\r\n\r\n`),
          );
          const pump = () => {
            while (sent < 1024 ** 3 && !socket.destroyed) {
              const piece = framing === 'chunked' ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
              sent += chunk.length;
              if (!socket.write(piece)) return socket.once('drain', pump);
            }
          };
          pump();
        });
        socket.on('data', (d) => (head += d.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve({ head, sent }));
      });
      expect(result.head, framing).toMatch(/^HTTP\/1.1 413/);
      expect(result.sent, framing).toBeLessThan(200 * 1024 * 1024);
    }
    expect((await t.dav('GET', `${A}/mine.txt`)).status).toBe(200);
  });

  it('stops a 10,000-deep MKCOL chain at the depth limit without harm', async () => {
    let path = `${A}/deep`;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      const res = await raw(t, 'MKCOL', `${path}/`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 201 && res.status !== 414 && res.status !== 431) throw new Error(`MKCOL at depth ${i}: ${res.status}`);
      path += '/d';
    }
    expect(statuses.get(201)).toBe(62);
    expect((statuses.get(414) ?? 0) + (statuses.get(431) ?? 0)).toBe(10_000 - 62);
    // The deepest folder is still usable, and the server is responsive.
    const deepest = `${A}/deep${'/d'.repeat(61)}/`;
    expect((await raw(t, 'PROPFIND', deepest, { depth: '0' })).status).toBe(207);
    expect((await t.dav('DELETE', `${A}/deep/`)).status).toBe(204);
  });

  it('refuses Depth: infinity over a tree larger than the bound with 403 propfind-finite-depth', async () => {
    const space = (await t.stores.drive.findSpace(ALICE))!;
    const big = await t.stores.drive.createFolder(space.rootId, 'big');
    for (let i = 0; i < 20; i++) {
      const sub = await t.stores.drive.createFolder(big.id, `sub${i}`);
      for (let j = 0; j < 15; j++) await t.stores.drive.createFolder(sub.id, `leaf${j}`);
    }
    const res = await t.dav('PROPFIND', `${A}/big/`, { headers: { depth: 'infinity' } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('propfind-finite-depth');
    expect((await t.dav('PROPFIND', `${A}/big/`, { headers: { depth: '1' } })).status).toBe(207);
    expect((await t.dav('PROPFIND', `${A}/big/`)).status).toBe(403);
  });

  it("never lets alice read, write, lock, copy or move into bob's files", async () => {
    const before = await snapshot(t);
    const lockBody = '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';
    const dest = (p: string) => ({ destination: `${t.origin}${p}` });
    const attempts: [string, string, Record<string, string>, string?][] = [
      ['GET', `${B}/secret.txt`, {}],
      ['HEAD', `${B}/secret.txt`, {}],
      ['PROPFIND', `${B}/`, { depth: '1' }],
      ['PROPFIND', `${B}/secret.txt`, { depth: '0' }],
      ['PUT', `${B}/secret.txt`, {}, 'overwritten'],
      ['PUT', `${B}/new.txt`, {}, 'planted'],
      ['PUT', `${B}/private/plans.txt`, { if: `(${bobLock})` }, 'with a stolen token'],
      ['DELETE', `${B}/secret.txt`, {}],
      ['DELETE', `${B}/private/`, {}],
      ['MKCOL', `${B}/intruder/`, {}],
      ['PROPPATCH', `${B}/secret.txt`, {}, '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:p xmlns:x="urn:x">1</x:p></D:prop></D:set></D:propertyupdate>'],
      ['LOCK', `${B}/secret.txt`, {}, lockBody],
      ['LOCK', `${B}/unmapped.txt`, {}, lockBody],
      ['LOCK', `${B}/private/plans.txt`, { if: `(${bobLock})` }],
      ['UNLOCK', `${B}/private/plans.txt`, { 'lock-token': bobLock }],
      ['COPY', `${B}/secret.txt`, dest(`${A}/stolen.txt`)],
      ['MOVE', `${B}/secret.txt`, dest(`${A}/stolen.txt`)],
      ['COPY', `${A}/mine.txt`, dest(`${B}/secret.txt`)],
      ['COPY', `${A}/mine.txt`, dest(`${B}/planted.txt`)],
      ['MOVE', `${A}/mine.txt`, dest(`${B}/planted.txt`)],
      ['ACL', `${B}/secret.txt`, {}, `<D:acl xmlns:D="DAV:"><D:ace><D:principal><D:href>/dav/principals/users/${ALICE}/</D:href></D:principal><D:grant><D:privilege><D:all/></D:privilege></D:grant></D:ace></D:acl>`],
      ['REPORT', `${B}/`, {}, '<D:expand-property xmlns:D="DAV:"/>'],
    ];
    for (const [method, path, headers, body] of attempts) {
      const res = await t.dav(method, path, { headers, body: body ?? null });
      expect(res.status, `${method} ${path}`).toBe(403);
      const text = await res.text();
      expect(text).not.toContain('bob only');
      expect(text).not.toContain('plans');
    }
    // Alice's own If header cannot probe bob's files either.
    const probe = await t.dav('PUT', `${A}/probe.txt`, { body: 'x', headers: { if: `<${t.origin}${B}/secret.txt> (["anything"])` } });
    expect(probe.status).toBe(412);
    expect(await snapshot(t)).toEqual(before);
    expect(await (await t.dav('GET', `${A}/mine.txt`)).text()).toBe('alice');
    expect(await (await t.dav('GET', `${B}/secret.txt`, { user: BOB })).text()).toBe('bob only');
    // Wrong passwords and unknown users get 401, never a hint.
    for (const authorization of [`Basic ${Buffer.from(`${BOB}:wrong`).toString('base64')}`, `Basic ${Buffer.from(`nobody@ms.gouv.test:${PASSWORDS[BOB]}`).toString('base64')}`, 'Bearer x', 'Basic %%%']) {
      const res = await fetch(`${t.origin}${B}/secret.txt`, { headers: { authorization } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Basic');
    }
  });

  it('never logs credentials or file contents', () => {
    const text = t.log.text();
    for (const secret of Object.values(PASSWORDS)) expect(text).not.toContain(secret);
    expect(text).not.toContain('bob only');
    expect(text).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/);
  });
});
