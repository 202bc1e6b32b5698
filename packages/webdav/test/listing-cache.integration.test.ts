import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, backends, hrefs, startServer, type TestServer } from './harness.js';

// Listings are cached (members, their resources, their rendered responses) from one PROPFIND to the
// next. Written as the attacker: Bob and Carol list Alice's folder right after Alice did (cache warm) and
// must see exactly what they may see, and every change Alice makes must show at once, on either node.

const F = `/dav/files/${ALICE}/shared`;
const ALLPROP = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';
const NAMED =
  '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/><D:getcontentlength/><D:displayname/>' +
  '<D:current-user-privilege-set/><Z:color xmlns:Z="urn:x-test"/></D:prop></D:propfind>';

/** Each response of a multistatus: its href and its XML. */
function responses(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of xml.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)) out.set(hrefs(m[1]!)[0]!, m[1]!);
  return out;
}

describe.each(backends)('cached listings on %s', (backend) => {
  let t: TestServer;
  const list = async (user: string, body = ALLPROP, origin = t.origin, path = `${F}/`) => {
    const auth = t.auth(user);
    const res = await fetch(`${origin}${path}`, { method: 'PROPFIND', headers: { authorization: auth, depth: '1', 'content-type': 'application/xml' }, body });
    return { status: res.status, xml: await res.text() };
  };
  const warm = async () => {
    for (const body of [ALLPROP, NAMED]) for (let i = 0; i < 3; i++) expect((await list(ALICE, body)).status).toBe(207);
  };
  const grant = async (path: string, grants: { user: string; access: 'read' | 'write' }[]) => {
    const space = (await t.stores.drive.findSpace(ALICE))!;
    const chain = await t.stores.drive.resolve(space.rootId, path.split('/').filter(Boolean));
    const principals = [];
    for (const g of grants) principals.push({ principal: { kind: 'account' as const, id: (await t.stores.directory.findAccount(g.user))!.id }, access: g.access });
    await t.stores.drive.setGrants(chain[chain.length - 1]!.id, principals);
  };

  beforeAll(async () => {
    t = await startServer(backend);
    expect((await t.dav('MKCOL', `${F}/`)).status).toBe(201);
    for (const name of ['a.txt', 'b.txt', 'c.txt']) expect((await t.dav('PUT', `${F}/${name}`, { body: `content of ${name}` })).status).toBe(201);
    expect((await t.dav('MKCOL', `${F}/sub/`)).status).toBe(201);
    expect((await t.dav('PUT', `${F}/sub/inner.txt`, { body: 'inner' })).status).toBe(201);
  });
  afterAll(async () => t.close());

  it('gives nobody without a grant anything of a folder its owner just listed', async () => {
    await warm();
    for (const body of [ALLPROP, NAMED]) {
      const bob = await list(BOB, body);
      expect(bob.status).toBe(404);
      expect(bob.xml).not.toContain('a.txt');
      // The owner's own spelling of the request-URI (%40) does not reach the owner's entries either.
      expect((await list(BOB, body, t.origin, `${F.replace('@', '%40')}/`)).status).toBe(404);
    }
  });

  it("lists to a reader only what its grants reach, with its own privileges, never the owner's", async () => {
    await grant('shared/sub', [{ user: BOB, access: 'read' }]);
    await warm();
    expect((await list(BOB)).status).toBe(404);
    const sub = await list(BOB, NAMED, t.origin, `${F}/sub/`);
    expect(sub.status).toBe(207);
    expect(hrefs(sub.xml)).toEqual([`${F}/sub/`, `${F}/sub/inner.txt`]);
    expect(sub.xml).not.toContain('<d:privilege><d:write/>');
    expect(sub.xml).not.toContain('<d:all/>');

    // Read on the whole folder: every member Bob lists is read-only to him, however Alice listed it.
    await grant('shared', [{ user: BOB, access: 'read' }]);
    await warm();
    for (let i = 0; i < 2; i++) {
      const bob = await list(BOB, NAMED);
      expect(bob.status).toBe(207);
      expect(hrefs(bob.xml)).toEqual([`${F}/`, `${F}/a.txt`, `${F}/b.txt`, `${F}/c.txt`, `${F}/sub/`]);
      expect(bob.xml).not.toContain('<d:privilege><d:write');
      expect(bob.xml).not.toContain('<d:all/>');
    }
    // …and Alice's listing after Bob's is still hers.
    expect(responses((await list(ALICE, NAMED)).xml).get(`${F}/c.txt`)).toContain('<d:write-acl/>');

    await grant('shared/b.txt', [{ user: BOB, access: 'write' }]);
    await warm();
    const owner = responses((await list(ALICE, NAMED)).xml);
    expect(owner.get(`${F}/a.txt`)).toContain('<d:write-acl/>');
    for (let i = 0; i < 2; i++) {
      const bob = responses((await list(BOB, NAMED)).xml);
      expect([...bob.keys()]).toEqual([...owner.keys()]);
      expect(bob.get(`${F}/a.txt`)).toContain('<d:read/>');
      expect(bob.get(`${F}/a.txt`)).not.toContain('<d:privilege><d:write');
      expect(bob.get(`${F}/b.txt`)).toContain('<d:write-content/>');
      expect(bob.get(`${F}/b.txt`)).not.toContain('<d:write-acl/>');
      expect(bob.get(`${F}/c.txt`)).not.toContain('<d:privilege><d:write');
    }
    // Carol holds nothing: as before anyone listed.
    expect((await list(CAROL)).status).toBe(404);
    expect((await list(CAROL, NAMED, t.origin, `${F}/sub/`)).status).toBe(404);
  });

  it('takes a revoked grant back at the next listing (grants are checked per request)', async () => {
    await warm();
    expect((await list(BOB)).status).toBe(207);
    await grant('shared', []);
    await grant('shared/b.txt', []);
    expect((await list(BOB)).status).toBe(404);
    expect((await list(BOB, NAMED)).status).toBe(404);
    const sub = await list(BOB, NAMED, t.origin, `${F}/sub/`);
    expect(hrefs(sub.xml)).toEqual([`${F}/sub/`, `${F}/sub/inner.txt`]);
    await grant('shared/sub', []);
    expect((await list(BOB, NAMED, t.origin, `${F}/sub/`)).status).toBe(404);
  });

  it('shows every write at once to everyone, on this node and on another one sharing the database', async () => {
    await grant('shared', [{ user: BOB, access: 'read' }]);
    const other = await t.secondNode();
    const everywhere = async (check: (xml: string) => void) => {
      for (const origin of [t.origin, other]) {
        for (const user of [ALICE, BOB]) {
          for (const body of [ALLPROP, NAMED]) {
            const got = await list(user, body, origin);
            expect(got.status).toBe(207);
            check(got.xml);
          }
        }
      }
    };
    // Both nodes warm, for both users and both bodies.
    await everywhere(() => undefined);
    await everywhere(() => undefined);

    expect((await t.dav('PUT', `${F}/new.txt`, { body: 'new' })).status).toBe(201);
    await everywhere((xml) => expect(hrefs(xml)).toContain(`${F}/new.txt`));

    const before = responses((await list(ALICE, NAMED, other)).xml).get(`${F}/a.txt`)!;
    expect((await t.dav('PUT', `${F}/a.txt`, { body: 'a longer content of a.txt' })).status).toBe(204);
    await everywhere((xml) => {
      const a = responses(xml).get(`${F}/a.txt`)!;
      expect(a).toContain('<d:getcontentlength>25</d:getcontentlength>');
      expect(a).not.toBe(before);
    });

    expect((await t.dav('DELETE', `${F}/new.txt`)).status).toBe(204);
    await everywhere((xml) => expect(hrefs(xml)).not.toContain(`${F}/new.txt`));

    expect((await t.dav('MOVE', `${F}/c.txt`, { headers: { destination: `${t.origin}${F}/moved.txt` } })).status).toBe(201);
    await everywhere((xml) => {
      expect(hrefs(xml)).toContain(`${F}/moved.txt`);
      expect(hrefs(xml)).not.toContain(`${F}/c.txt`);
    });

    // A dead property: PROPPATCH changes no version, the listing must show it all the same.
    const patch = (value: string | null) =>
      t.dav('PROPPATCH', `${F}/b.txt`, {
        headers: { 'content-type': 'application/xml' },
        body:
          value === null
            ? '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:remove><D:prop><Z:color/></D:prop></D:remove></D:propertyupdate>'
            : `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:set><D:prop><Z:color>${value}</Z:color></D:prop></D:set></D:propertyupdate>`,
      });
    expect((await patch('blue')).status).toBe(207);
    await everywhere((xml) => expect(responses(xml).get(`${F}/b.txt`)).toContain('blue'));
    expect((await patch('green')).status).toBe(207);
    await everywhere((xml) => {
      expect(responses(xml).get(`${F}/b.txt`)).toContain('green');
      expect(xml).not.toContain('blue');
    });
    expect((await patch(null)).status).toBe(207);
    await everywhere((xml) => expect(xml).not.toContain('green'));

    // A displayname set by PROPPATCH (kept with the dead properties) shows, and goes, at once.
    const rename = (name: string) =>
      t.dav('PROPPATCH', `${F}/a.txt`, {
        headers: { 'content-type': 'application/xml' },
        body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>${name}</D:displayname></D:prop></D:set></D:propertyupdate>`,
      });
    expect((await rename('Report')).status).toBe(207);
    await everywhere((xml) => expect(responses(xml).get(`${F}/a.txt`)).toMatch(/displayname[^>]*>Report</));

    // A lock shows in lockdiscovery at once (LOCK changes no version either), and goes with UNLOCK.
    const lock = await t.dav('LOCK', `${F}/b.txt`, {
      body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
    });
    expect(lock.status).toBe(200);
    const token = lock.headers.get('lock-token')!;
    const allprop = async (origin: string) => responses((await list(BOB, ALLPROP, origin)).xml).get(`${F}/b.txt`)!;
    for (const origin of [t.origin, other]) expect(await allprop(origin)).toContain(token.slice(1, -1));
    expect((await t.dav('UNLOCK', `${F}/b.txt`, { headers: { 'lock-token': token } })).status).toBe(204);
    for (const origin of [t.origin, other]) expect(await allprop(origin)).not.toContain('<d:activelock>');

    // Writes made on the other node show on this one.
    const put = await fetch(`${other}${F}/from-b.txt`, { method: 'PUT', headers: { authorization: t.auth(ALICE) }, body: 'b' });
    expect(put.status).toBe(201);
    await everywhere((xml) => expect(hrefs(xml)).toContain(`${F}/from-b.txt`));
    await grant('shared', []);
    for (const origin of [t.origin, other]) expect((await list(BOB, ALLPROP, origin)).status).toBe(404);
  });
});
