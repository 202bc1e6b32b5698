import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { davRequest, makeSite, provision, serveHttp, simpleEvent as event, siteKinds, type ServedHttp, type Site } from './helpers.js';

/**
 * Delegation over DAV (CalendarServer's calendar-proxy, what Apple Calendar's delegation pane speaks)
 * against a listening `palabre serve`: the owner names delegates by PROPPATCH of the proxy principals'
 * DAV:group-member-set, the delegate finds whom it acts for and acts; nobody else changes the list.
 */

const DOMAIN = 'sante.gouv.test';
const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const CAROL = `carol@${DOMAIN}`;
const EVE = 'eve@finances.gouv.test';
const PASS = 'A long enough passphrase';
const C = 'urn:ietf:params:xml:ns:caldav';
const CS = 'http://calendarserver.org/ns/';

const memberSet = (hrefs: string[]) =>
  `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:group-member-set>${hrefs.map((h) => `<D:href>${h}</D:href>`).join('')}</D:group-member-set></D:prop></D:set></D:propertyupdate>`;

describe.each(siteKinds)('calendar-proxy delegation (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;
  const dav = (method: string, path: string, init: { body?: string; user?: string; headers?: Record<string, string> } = {}) => davRequest(served.origin, init.user ?? ALICE, PASS, method, path, init);
  const propfind = async (path: string, props: string, user = ALICE, depth = '0') => {
    const res = await dav('PROPFIND', path, { user, headers: { depth, 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="${CS}" xmlns:C="${C}"><D:prop>${props}</D:prop></D:propfind>` });
    return { status: res.status, text: await res.text() };
  };
  const proppatch = (path: string, body: string, user = ALICE) => dav('PROPPATCH', path, { user, body, headers: { 'content-type': 'application/xml' } });
  const members = async (which: 'read' | 'write') => {
    const { text } = await propfind(`/principals/users/${ALICE}/calendar-proxy-${which}/`, '<D:group-member-set/>');
    const set = /<d:group-member-set>(.*?)<\/d:group-member-set>|<d:group-member-set\/>/.exec(text);
    return [...(set?.[1] ?? '').matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => m[1]);
  };
  const put = (path: string, uid: string, user: string) => dav('PUT', path, { user, body: event(uid), headers: { 'content-type': 'text/calendar' } });

  beforeAll(async () => {
    site = await makeSite(kind);
    await provision(site, [
      ['domain', 'add', DOMAIN],
      ['domain', 'add', 'finances.gouv.test'],
      ['user', 'add', ALICE, '--password', PASS],
      ['user', 'add', BOB, '--password', PASS],
      ['user', 'add', CAROL, '--password', PASS],
      ['user', 'add', EVE, '--password', PASS],
      ['group', 'add', 'secretariat', '--domain', DOMAIN],
      ['group', 'member', 'add', 'secretariat', CAROL],
    ]);
    served = await serveHttp(site);
    const mk = await dav('MKCALENDAR', `/calendars/${ALICE}/agenda/`, { headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"/>` });
    expect(mk.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it('shows the two proxy principals below a user principal', async () => {
    const { status, text } = await propfind(`/principals/users/${ALICE}/`, '<D:resourcetype/><D:displayname/>', ALICE, '1');
    expect(status).toBe(207);
    expect(text).toMatch(new RegExp(`<d:href>/dav/principals/users/${ALICE}/calendar-proxy-write/</d:href>.*?<d:resourcetype><d:collection/><d:principal/><CS:calendar-proxy-write/></d:resourcetype>`));
    expect(text).toMatch(/calendar-proxy-read\/<\/d:href>.*?<CS:calendar-proxy-read\/>/);
    expect(await members('write')).toEqual([]);
  });

  it('lets the owner name delegates by PROPPATCH of group-member-set; the delegate acts and sees whom for', async () => {
    await expect(put(`/calendars/${ALICE}/agenda/by-bob.ics`, 'by-bob', BOB).then((r) => r.status)).resolves.toBeGreaterThanOrEqual(403);
    const res = await proppatch(`/principals/users/${ALICE}/calendar-proxy-write/`, memberSet([`/dav/principals/users/${BOB}/`]));
    expect(res.status).toBe(207);
    expect(await res.text()).toContain('HTTP/1.1 200 OK');
    expect((await proppatch(`/principals/users/${ALICE}/calendar-proxy-read/`, memberSet(['/dav/principals/groups/secretariat/']))).status).toBe(207);
    expect(await members('write')).toEqual([`/dav/principals/users/${BOB}/`]);
    expect(await members('read')).toEqual(['/dav/principals/groups/secretariat/']);

    const bob = await propfind(`/principals/users/${BOB}/`, '<CS:calendar-proxy-write-for/><CS:calendar-proxy-read-for/><D:group-membership/>', BOB);
    expect(bob.text).toContain(`<CS:calendar-proxy-write-for><d:href>/dav/principals/users/${ALICE}/</d:href></CS:calendar-proxy-write-for>`);
    expect(bob.text).toContain(`<d:href>/dav/principals/users/${ALICE}/calendar-proxy-write/</d:href>`);
    const carol = await propfind(`/principals/users/${CAROL}/`, '<CS:calendar-proxy-read-for/>', CAROL);
    expect(carol.text).toContain(`<CS:calendar-proxy-read-for><d:href>/dav/principals/users/${ALICE}/</d:href></CS:calendar-proxy-read-for>`);

    expect((await put(`/calendars/${ALICE}/agenda/by-bob.ics`, 'by-bob', BOB)).status).toBe(201);
    expect((await dav('GET', `/calendars/${ALICE}/agenda/by-bob.ics`, { user: CAROL })).status).toBe(200);
    const refused = await put(`/calendars/${ALICE}/agenda/by-carol.ics`, 'by-carol', CAROL);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('need-privileges');
  });

  it('refuses group-member-set changes by anyone but the owner, and unknown or foreign members, changing nothing', async () => {
    const before = [await members('write'), await members('read')];
    for (const user of [CAROL, BOB]) {
      const res = await proppatch(`/principals/users/${ALICE}/calendar-proxy-write/`, memberSet([`/dav/principals/users/${user}/`, `/dav/principals/users/${CAROL}/`]), user);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('need-privileges');
    }
    expect((await proppatch(`/principals/users/${ALICE}/calendar-proxy-write/`, memberSet([`/dav/principals/users/${CAROL}/`]), EVE)).status).toBe(404);
    for (const href of ['mailto:nobody@sante.gouv.test', `mailto:${EVE}`, `/dav/principals/users/${EVE}/`, `/dav/principals/users/${ALICE}/`, '/dav/files/x/', 'http://[::1', 'x'.repeat(5000)]) {
      const res = await proppatch(`/principals/users/${ALICE}/calendar-proxy-write/`, memberSet([`/dav/principals/users/${CAROL}/`, href]));
      expect(res.status, href).toBe(207);
      expect(await res.text()).toMatch(/HTTP\/1.1 403 .*recognized-principal/);
    }
    const many = await proppatch(`/principals/users/${ALICE}/calendar-proxy-write/`, memberSet(Array.from({ length: 500 }, (_, i) => `mailto:u${i}@${DOMAIN}`)));
    expect(await many.text()).toMatch(/HTTP\/1.1 403 .*max-delegates/);
    const other = await proppatch(`/principals/users/${ALICE}/calendar-proxy-write/`, '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>');
    expect(await other.text()).toMatch(/HTTP\/1.1 403 /);
    expect([await members('write'), await members('read')]).toEqual(before);
  });

  it('moves a delegate to read and takes delegations back', async () => {
    expect((await proppatch(`/principals/users/${ALICE}/calendar-proxy-read/`, memberSet([`mailto:${BOB}`]))).status).toBe(207);
    // One delegation per delegate: read replaces write.
    expect(await members('write')).toEqual([]);
    expect(await members('read')).toEqual([`/dav/principals/users/${BOB}/`]);
    expect((await put(`/calendars/${ALICE}/agenda/by-bob-2.ics`, 'by-bob-2', BOB)).status).toBe(403);
    const removed = await proppatch(`/principals/users/${ALICE}/calendar-proxy-read/`, '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><D:group-member-set/></D:prop></D:remove></D:propertyupdate>');
    expect(removed.status).toBe(207);
    expect(await members('read')).toEqual([]);
    expect((await propfind(`/principals/users/${BOB}/`, '<CS:calendar-proxy-read-for/>', BOB)).text).toContain('<CS:calendar-proxy-read-for/>');
  });
});
