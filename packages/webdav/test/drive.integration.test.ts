import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, backends, hrefs, startServer, type TestServer } from './harness.js';

const A = `/dav/files/${ALICE}`;
const propfind = (t: TestServer, path: string, depth: string, body?: string, user?: string) =>
  t.dav('PROPFIND', path, { headers: { depth, 'content-type': 'application/xml' }, body: body ?? null, user });
const prop = (xml: string, name: string) => new RegExp(`<${name}[^>]*>([^<]*)</${name}>`).exec(xml)?.[1];

describe.each(backends)('the drive on %s', (backend) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer(backend, { quota: 10_000 });
  });
  afterAll(async () => t.close());

  it('stores, serves and conditionally serves files with ETag, Last-Modified and ranges', async () => {
    const put = await t.dav('PUT', `${A}/hello.txt`, { body: 'hello world' });
    expect(put.status).toBe(201);
    const etag = put.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{12}-[0-9a-z]+"$/);
    const get = await t.dav('GET', `${A}/hello.txt`);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('hello world');
    expect(get.headers.get('etag')).toBe(etag);
    expect(get.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const lastModified = get.headers.get('last-modified')!;
    expect((await t.dav('GET', `${A}/hello.txt`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await t.dav('GET', `${A}/hello.txt`, { headers: { 'if-modified-since': lastModified } })).status).toBe(304);
    const range = await t.dav('GET', `${A}/hello.txt`, { headers: { range: 'bytes=6-' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe('bytes 6-10/11');
    expect(await range.text()).toBe('world');
    expect((await t.dav('GET', `${A}/hello.txt`, { headers: { range: 'bytes=50-' } })).status).toBe(416);
    const head = await t.dav('HEAD', `${A}/hello.txt`);
    expect(head.headers.get('content-length')).toBe('11');
    // Lost updates are refused: If-Match on a stale ETag, If-None-Match: * on an existing file.
    expect((await t.dav('PUT', `${A}/hello.txt`, { body: 'x', headers: { 'if-match': '"stale-1"' } })).status).toBe(412);
    expect((await t.dav('PUT', `${A}/hello.txt`, { body: 'x', headers: { 'if-none-match': '*' } })).status).toBe(412);
    const replaced = await t.dav('PUT', `${A}/hello.txt`, { body: 'bonjour', headers: { 'if-match': etag } });
    expect(replaced.status).toBe(204);
    expect(replaced.headers.get('etag')).not.toBe(etag);
    expect(await (await t.dav('GET', `${A}/hello.txt`)).text()).toBe('bonjour');
  });

  it('changes folder ETags when anything below changes, and only then', async () => {
    expect((await t.dav('MKCOL', `${A}/a/`)).status).toBe(201);
    expect((await t.dav('MKCOL', `${A}/a/b/`)).status).toBe(201);
    expect((await t.dav('MKCOL', `${A}/side/`)).status).toBe(201);
    const etags = async () => {
      const xml = await (await propfind(t, `${A}/`, '1', '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>')).text();
      const out: Record<string, string> = {};
      for (const m of xml.matchAll(/<d:href>([^<]*)<\/d:href><d:propstat><d:prop><d:getetag>([^<]*)</g)) out[m[1]!] = m[2]!;
      return out;
    };
    const before = await etags();
    expect((await t.dav('PUT', `${A}/a/b/deep.txt`, { body: 'deep' })).status).toBe(201);
    const after = await etags();
    expect(after[`${A}/`]).not.toBe(before[`${A}/`]);
    expect(after[`${A}/a/`]).not.toBe(before[`${A}/a/`]);
    expect(after[`${A}/side/`]).toBe(before[`${A}/side/`]);
    const root = await propfind(t, `${A}/`, '0', '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>');
    expect(prop(await root.text(), 'd:getetag')).toBe(after[`${A}/`]);
  });

  it('keeps file ids across renames and moves, and mtimes as rclone sends them', async () => {
    const put = await t.dav('PUT', `${A}/a/report.pdf`, { body: '%PDF-1.4', headers: { 'x-oc-mtime': '1262304000' } });
    expect(put.headers.get('x-oc-mtime')).toBe('accepted');
    const idOf = async (path: string) =>
      prop(await (await propfind(t, path, '0', '<propfind xmlns="DAV:" xmlns:oc="http://owncloud.org/ns"><prop><oc:fileid/><getlastmodified/></prop></propfind>')).text(), 'oc:fileid');
    const id = await idOf(`${A}/a/report.pdf`);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const move = await t.dav('MOVE', `${A}/a/report.pdf`, { headers: { destination: `${t.origin}${A}/side/renamed.pdf` } });
    expect(move.status).toBe(201);
    expect(await idOf(`${A}/side/renamed.pdf`)).toBe(id);
    const got = await t.dav('GET', `${A}/side/renamed.pdf`);
    expect(got.headers.get('last-modified')).toBe('Fri, 01 Jan 2010 00:00:00 GMT');
    expect(got.headers.get('content-type')).toBe('application/pdf');
    expect((await t.dav('GET', `${A}/a/report.pdf`)).status).toBe(404);
  });

  it('answers 507 past the quota and keeps nothing of the refused upload', async () => {
    const big = 'x'.repeat(20_000);
    const refused = await t.dav('PUT', `${A}/too-big.bin`, { body: big });
    expect(refused.status).toBe(507);
    expect(await refused.text()).toContain('quota-not-exceeded');
    // A chunked upload (no Content-Length) is cut off as soon as it passes the quota.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('y'.repeat(1000)));
        c.close();
      },
    });
    expect((await t.dav('PUT', `${A}/too-big-chunked.bin`, { body: stream })).status).toBe(507);
    expect((await t.dav('GET', `${A}/too-big.bin`)).status).toBe(404);
    expect((await t.dav('GET', `${A}/too-big-chunked.bin`)).status).toBe(404);
    const q = await (await propfind(t, `${A}/`, '0', '<propfind xmlns="DAV:"><prop><quota-used-bytes/><quota-available-bytes/></prop></propfind>')).text();
    const used = Number(prop(q, 'd:quota-used-bytes'));
    expect(used).toBeGreaterThan(0);
    expect(used + Number(prop(q, 'd:quota-available-bytes'))).toBe(10_000);
  });

  it('handles Finder: chunked PUT with X-Expected-Entity-Length, empty PUT first, AppleDouble files hidden from listings', async () => {
    expect((await t.dav('PUT', `${A}/photo.jpg`, { body: '' })).status).toBe(201);
    const chunks = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('JPEG'));
        c.enqueue(new TextEncoder().encode('DATA'));
        c.close();
      },
    });
    expect((await t.dav('PUT', `${A}/photo.jpg`, { body: chunks, headers: { 'x-expected-entity-length': '8' } })).status).toBe(204);
    expect(await (await t.dav('GET', `${A}/photo.jpg`)).text()).toBe('JPEGDATA');
    const short = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('JP'));
        c.close();
      },
    });
    expect((await t.dav('PUT', `${A}/photo.jpg`, { body: short, headers: { 'x-expected-entity-length': '8' } })).status).toBe(400);
    expect(await (await t.dav('GET', `${A}/photo.jpg`)).text()).toBe('JPEGDATA');
    for (const junk of ['._photo.jpg', '.DS_Store', 'Thumbs.db', 'desktop.ini']) expect((await t.dav('PUT', `${A}/${encodeURIComponent(junk)}`, { body: 'junk' })).status).toBe(201);
    const listing = hrefs(await (await propfind(t, `${A}/`, '1')).text());
    expect(listing).toContain(`${A}/photo.jpg`);
    expect(listing.filter((h) => /\._photo|DS_Store|Thumbs|desktop\.ini/.test(h))).toEqual([]);
    const direct = await propfind(t, `${A}/._photo.jpg`, '0');
    expect(direct.status).toBe(207);
    expect(await (await t.dav('GET', `${A}/._photo.jpg`)).text()).toBe('junk');
  });

  it('answers the Windows mini-redirector: OPTIONS and PROPFIND on /, Win32 properties, Lock-Token without brackets', async () => {
    const options = await t.dav('OPTIONS', '/', { user: null });
    expect(options.status).toBe(200);
    expect(options.headers.get('ms-author-via')).toBe('DAV');
    expect(options.headers.get('dav')).toContain('2');
    expect((await propfind(t, '/', '0')).status).toBe(207);
    const win32 = `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>
      <Z:Win32CreationTime>Mon, 01 Jan 2024 10:00:00 GMT</Z:Win32CreationTime><Z:Win32LastAccessTime>Mon, 01 Jan 2024 10:00:00 GMT</Z:Win32LastAccessTime>
      <Z:Win32LastModifiedTime>Mon, 01 Jan 2024 10:00:00 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>`;
    const patched = await t.dav('PROPPATCH', `${A}/photo.jpg`, { body: win32, headers: { 'content-type': 'text/xml' } });
    expect(patched.status).toBe(207);
    const text = await patched.text();
    expect(text.match(/HTTP\/1.1 200 OK/g)).toHaveLength(1);
    expect(text).not.toMatch(/HTTP\/1.1 (4|5)\d\d/);
    const lock = await t.dav('LOCK', `${A}/photo.jpg`, {
      body: '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>WIN</D:owner></D:lockinfo>',
      headers: { timeout: 'Second-3600', depth: '0' },
    });
    expect(lock.status).toBe(200);
    const token = lock.headers.get('lock-token')!.replace(/[<>]/g, '');
    expect((await t.dav('UNLOCK', `${A}/photo.jpg`, { headers: { 'lock-token': token } })).status).toBe(204);
  });

  it('keeps locks in the database: they survive a restart and bind every node', async () => {
    const lock = await t.dav('LOCK', `${A}/locked.txt`, {
      body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
    });
    expect(lock.status).toBe(201);
    const token = lock.headers.get('lock-token')!;
    await t.restart();
    expect((await t.dav('PUT', `${A}/locked.txt`, { body: 'no token' })).status).toBe(423);
    expect((await t.dav('PUT', `${A}/locked.txt`, { body: 'with token', headers: { if: `(${token})` } })).status).toBe(204);
    const discovery = await (await propfind(t, `${A}/locked.txt`, '0', '<propfind xmlns="DAV:"><prop><lockdiscovery/></prop></propfind>')).text();
    expect(discovery).toContain(token.slice(1, -1));
    expect((await t.dav('UNLOCK', `${A}/locked.txt`, { headers: { 'lock-token': token } })).status).toBe(204);
  });

  it('gives each member of a Depth 1 listing its own dead properties and client-set displayname, none of its siblings\' or cousins\'', async () => {
    expect((await t.dav('MKCOL', `${A}/props/`)).status).toBe(201);
    expect((await t.dav('MKCOL', `${A}/props/sub/`)).status).toBe(201);
    for (const name of ['a.txt', 'b.txt', 'c.txt', 'sub/d.txt']) expect((await t.dav('PUT', `${A}/props/${name}`, { body: name })).status).toBe(201);
    const set = (value: string) =>
      `<D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:x"><D:set><D:prop><X:tag>${value}</X:tag><D:displayname>${value} shown</D:displayname></D:prop></D:set></D:propertyupdate>`;
    for (const [name, value] of [['b.txt', 'bee'], ['sub/d.txt', 'dee'], ['', 'folder']] as const) {
      expect((await t.dav('PROPPATCH', `${A}/props/${name}`, { body: set(value), headers: { 'content-type': 'application/xml' } })).status).toBe(207);
    }
    const named = '<D:propfind xmlns:D="DAV:" xmlns:X="urn:x"><D:prop><D:displayname/><X:tag/><D:getetag/></D:prop></D:propfind>';
    for (const body of [named, undefined]) {
      const xml = await (await propfind(t, `${A}/props/`, '1', body)).text();
      const member = (href: string) => xml.split('<d:response>').find((r) => r.includes(`<d:href>${href}</d:href>`)) ?? '';
      expect(prop(member(`${A}/props/`), 'tag')).toBe('folder');
      expect(prop(member(`${A}/props/b.txt`), 'tag')).toBe('bee');
      expect(prop(member(`${A}/props/b.txt`), 'displayname')).toBe('bee shown');
      for (const other of [`${A}/props/a.txt`, `${A}/props/c.txt`, `${A}/props/sub/`]) {
        expect(member(other)).toContain('<d:getetag>');
        expect(prop(member(other), 'tag')).toBeUndefined();
        expect(prop(member(other), 'displayname')).toBeUndefined();
        expect(prop(member(other), 'd:displayname')).toBeUndefined();
      }
      expect(xml).not.toContain('dee');
    }
  });

  it('bounds Depth: infinity and streams Depth 1 listings', async () => {
    const all = await propfind(t, `${A}/`, 'infinity');
    expect(all.status).toBe(207);
    expect(hrefs(await all.text())).toContain(`${A}/a/b/deep.txt`);
    const files = await propfind(t, '/dav/files/', '1');
    expect(hrefs(await files.text())).toEqual(['/dav/files/', `${A}/`]);
  });

  it('publishes principals, RFC 5397 current-user-principal and RFC 3744 privileges', async () => {
    const xml = await (
      await propfind(t, `${A}/`, '0', '<propfind xmlns="DAV:"><prop><current-user-principal/><current-user-privilege-set/><owner/><acl/></prop></propfind>')
    ).text();
    expect(xml).toContain(`<d:current-user-principal><d:href>/dav/principals/users/${ALICE}/</d:href></d:current-user-principal>`);
    expect(xml).toContain('<d:privilege><d:write-acl/></d:privilege>');
    expect(xml).toContain(`<d:owner><d:href>/dav/principals/users/${ALICE}/</d:href></d:owner>`);
    const me = await (await propfind(t, `/dav/principals/users/${ALICE}/`, '0', '<propfind xmlns="DAV:"><prop><resourcetype/><displayname/><alternate-URI-set/></prop></propfind>')).text();
    expect(me).toContain('<d:principal/>');
    expect(me).toContain(`mailto:${ALICE}`);
  });

  it('shares a folder read-only with one user and read-write with another through the ACL method', async () => {
    expect((await t.dav('MKCOL', `${A}/shared/`)).status).toBe(201);
    expect((await t.dav('PUT', `${A}/shared/plan.txt`, { body: 'plan' })).status).toBe(201);
    const acl = `<D:acl xmlns:D="DAV:">
      <D:ace><D:principal><D:href>/dav/principals/users/${BOB}/</D:href></D:principal><D:grant><D:privilege><D:read/></D:privilege></D:grant></D:ace>
      <D:ace><D:principal><D:href>/dav/principals/users/${CAROL}/</D:href></D:principal><D:grant><D:privilege><D:read/></D:privilege><D:privilege><D:write/></D:privilege></D:grant></D:ace></D:acl>`;
    expect((await t.dav('ACL', `${A}/shared/`, { body: acl, user: BOB })).status).toBe(404);
    expect((await t.dav('ACL', `${A}/shared/`, { body: acl })).status).toBe(200);
    expect(await (await t.dav('GET', `${A}/shared/plan.txt`, { user: BOB })).text()).toBe('plan');
    expect((await t.dav('PUT', `${A}/shared/plan.txt`, { body: 'bob was here', user: BOB })).status).toBe(403);
    expect((await t.dav('PUT', `${A}/shared/carol.txt`, { body: 'carol', user: CAROL })).status).toBe(201);
    // Outside what was shared, alice's drive looks to bob like no drive at all.
    expect((await t.dav('GET', `${A}/hello.txt`, { user: BOB })).status).toBe(404);
    expect((await propfind(t, `${A}/`, '1', undefined, BOB)).status).toBe(404);
    const aclXml = await (await propfind(t, `${A}/shared/plan.txt`, '0', '<propfind xmlns="DAV:"><prop><acl/></prop></propfind>')).text();
    expect(aclXml).toContain(`/dav/principals/users/${BOB}/`);
    expect(aclXml).toContain('<d:inherited>');
  });

  it('serves group folders read or read-write by group membership', async () => {
    const { directory, drive } = t.stores;
    const staff = await directory.createGroup({ name: 'sante-staff', domain: 'ms.gouv.test' });
    const readers = await directory.createGroup({ name: 'sante-readers', domain: 'ms.gouv.test' });
    await directory.addGroupMember(staff.id, { accountId: (await directory.findAccount(BOB))!.id });
    await directory.addGroupMember(readers.id, { accountId: (await directory.findAccount(CAROL))!.id });
    const space = await drive.createGroupSpace({ name: 'sante', groupId: staff.id });
    await drive.setGrants(space.rootId, [
      { principal: { kind: 'group', id: staff.id }, access: 'write' },
      { principal: { kind: 'group', id: readers.id }, access: 'read' },
    ]);
    expect((await t.dav('PUT', '/dav/files/sante/note.txt', { body: 'from bob', user: BOB })).status).toBe(201);
    expect(await (await t.dav('GET', '/dav/files/sante/note.txt', { user: CAROL })).text()).toBe('from bob');
    expect((await t.dav('PUT', '/dav/files/sante/note.txt', { body: 'carol', user: CAROL })).status).toBe(403);
    expect((await t.dav('DELETE', '/dav/files/sante/note.txt', { user: CAROL })).status).toBe(403);
    expect((await t.dav('GET', '/dav/files/sante/note.txt')).status).toBe(404);
    expect(hrefs(await (await propfind(t, '/dav/files/', '1', undefined, BOB)).text())).toEqual(['/dav/files/', `/dav/files/${BOB}/`, '/dav/files/sante/']);
  });
});
