import { DAVClient } from 'tsdav';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { davRequest, makeSite, provision, serveHttp, simpleEvent as event, siteKinds, type ServedHttp, type Site } from './helpers.js';

/**
 * Sharing over DAV against a listening `palabre serve`, as Apple Calendar (CalendarServer's CS:share)
 * and sabre/dav clients (DAV:share-resource) ask for it, then used and attacked from the sharee's and
 * the outsider's side: only the owner shares, a read sharee cannot write, nothing is stored from a
 * refused request.
 */

const DOMAIN = 'culture.gouv.test';
const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const CAROL = `carol@${DOMAIN}`;
const DAN = `dan@${DOMAIN}`;
const EVE = 'eve@finances.gouv.test';
const PASS = 'A long enough passphrase';
const C = 'urn:ietf:params:xml:ns:caldav';
const CR = 'urn:ietf:params:xml:ns:carddav';
const CS = 'http://calendarserver.org/ns/';

const csShare = (inner: string) => `<?xml version="1.0" encoding="utf-8"?><CS:share xmlns:D="DAV:" xmlns:CS="${CS}">${inner}</CS:share>`;
const csSet = (href: string, rw = false) => `<CS:set><D:href>${href}</D:href><CS:common-name>x</CS:common-name>${rw ? '<CS:read-write/>' : '<CS:read/>'}</CS:set>`;
const csRemove = (href: string) => `<CS:remove><D:href>${href}</D:href></CS:remove>`;
const shareResource = (sharees: [string, string][]) =>
  `<?xml version="1.0" encoding="utf-8"?><D:share-resource xmlns:D="DAV:">${sharees.map(([href, access]) => `<D:sharee><D:href>${href}</D:href><D:share-access><D:${access}/></D:share-access></D:sharee>`).join('')}</D:share-resource>`;

describe.each(siteKinds)('sharing over CalDAV/CardDAV (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;
  const dav = (method: string, path: string, init: { body?: string; user?: string; headers?: Record<string, string> } = {}) => davRequest(served.origin, init.user ?? ALICE, PASS, method, path, init);
  const post = (path: string, body: string, user = ALICE) => dav('POST', path, { body, user, headers: { 'content-type': 'application/xml; charset=utf-8' } });
  const propfind = async (path: string, props: string, user = ALICE, depth = '0') => {
    const res = await dav('PROPFIND', path, { user, headers: { depth, 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="${CS}" xmlns:C="${C}"><D:prop>${props}</D:prop></D:propfind>` });
    return { status: res.status, text: await res.text() };
  };
  const homeListing = async (user: string, mount = 'calendars') => {
    const { text } = await propfind(`/${mount}/${user}/`, '<D:resourcetype/>', user, '1');
    return [...text.matchAll(/<d:href>([^<]*)<\/d:href>/gi)].map((m) => decodeURIComponent(m[1]!)).filter((h) => h.includes('/shared.'));
  };
  /** What the owner's calendar holds and who it is shared with, to compare before and after an attack. */
  const state = async () => {
    const cal = await dav('GET', `/calendars/${ALICE}/projets/`);
    const invite = await propfind(`/calendars/${ALICE}/projets/`, '<CS:invite/>');
    return `${cal.status}\n${(await cal.text()).replace(/^DTSTAMP:.*$/gm, '')}\n${invite.text}`;
  };
  const refusedWith = async (res: Response, status: number, condition?: string) => {
    const text = await res.text();
    expect({ status: res.status, text: text.slice(0, 400) }).toMatchObject({ status });
    if (condition) expect(text).toMatch(new RegExp(`<([A-Za-z0-9]+:)?(${condition})\\b`));
  };

  beforeAll(async () => {
    site = await makeSite(kind);
    await provision(site, [
      ['domain', 'add', DOMAIN],
      ['domain', 'add', 'finances.gouv.test'],
      ['user', 'add', ALICE, '--password', PASS],
      ['user', 'add', BOB, '--password', PASS],
      ['user', 'add', CAROL, '--password', PASS],
      ['user', 'add', DAN, '--password', PASS],
      ['user', 'add', EVE, '--password', PASS],
      ['alias', 'add', `robert@${DOMAIN}`, BOB],
      ['group', 'add', 'archives', '--domain', DOMAIN, '--address', `archives@${DOMAIN}`],
      ['group', 'member', 'add', 'archives', DAN],
    ]);
    served = await serveHttp(site);
    const mk = await dav('MKCALENDAR', `/calendars/${ALICE}/projets/`, {
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><D:displayname>Projets</D:displayname></D:prop></D:set></C:mkcalendar>`,
    });
    expect(mk.status).toBe(201);
    expect((await dav('PUT', `/calendars/${ALICE}/projets/a.ics`, { body: event('a'), headers: { 'content-type': 'text/calendar' } })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it('shares with CS:share (an alias read-write, a group read), shows CS:invite and DAV:invite, and the sharees find it in their home', async () => {
    const before = await propfind(`/calendars/${ALICE}/projets/`, '<CS:allowed-sharing-modes/><D:share-access/><D:current-user-privilege-set/>');
    expect(before.text).toMatch(/<CS:can-be-shared\/>/);
    expect(before.text).toMatch(/<d:not-shared\/>/);
    expect(before.text).toMatch(/<d:share\/>/);

    const res = await post(`/calendars/${ALICE}/projets/`, csShare(csSet(`mailto:robert@${DOMAIN}`, true) + csSet(`mailto:archives@${DOMAIN}`)));
    expect(res.status).toBe(200);

    const invite = await propfind(`/calendars/${ALICE}/projets/`, '<CS:invite/><D:invite/><D:share-access/>');
    expect(invite.text).toContain(`<CS:organizer><d:href>/dav/principals/users/${ALICE}/</d:href>`);
    expect(invite.text).toMatch(new RegExp(`<CS:user><d:href>mailto:${BOB}</d:href><CS:common-name>[^<]*</CS:common-name><CS:invite-noresponse/><CS:access><CS:read-write/></CS:access></CS:user>`));
    expect(invite.text).toMatch(new RegExp(`<CS:user><d:href>mailto:archives@${DOMAIN}</d:href>.*?<CS:access><CS:read/></CS:access>`));
    expect(invite.text).toMatch(/<d:sharee><d:href>[^<]*alice[^<]*<\/d:href>.*?<d:shared-owner\/>/);
    expect(invite.text).toContain('<d:share-access><d:shared-owner/></d:share-access>');

    const bobs = await homeListing(BOB);
    expect(bobs).toHaveLength(1);
    const dans = await homeListing(DAN);
    expect(dans).toHaveLength(1);
    const bobCopy = bobs[0]!.replace(/^\/dav/, '');
    const view = await propfind(bobCopy, '<D:resourcetype/><D:share-access/><CS:shared-url/><CS:organizer/><CS:allowed-sharing-modes/>', BOB);
    expect(view.text).toMatch(/<CS:shared\/>/);
    expect(view.text).toContain('<d:share-access><d:read-write/></d:share-access>');
    expect(view.text).toContain(`<CS:shared-url><d:href>/dav/calendars/${ALICE}/projets/</d:href></CS:shared-url>`);
    expect(view.text).toMatch(/<CS:organizer><d:href>[^<]*alice/);
    expect(view.text).not.toContain('can-be-shared');
    // Read-write: Bob writes into Alice's calendar through his home.
    expect((await dav('PUT', `${bobCopy}b.ics`, { user: BOB, body: event('b'), headers: { 'content-type': 'text/calendar' } })).status).toBe(201);
    expect((await dav('GET', `/calendars/${ALICE}/projets/b.ics`)).status).toBe(200);
  });

  it('lets tsdav, given only the host, find the shared calendar in the sharee\'s home and write into it (read-write) or not (read)', async () => {
    const client = async (user: string) => {
      const c = new DAVClient({ serverUrl: `${served.origin}/`, credentials: { username: user, password: PASS }, authMethod: 'Basic', defaultAccountType: 'caldav' });
      await c.login();
      return c;
    };
    const bob = await client(BOB);
    const shared = (await bob.fetchCalendars()).find((c) => c.url.includes('/shared.'));
    expect(shared?.displayName).toBe('Projets');
    expect((await bob.fetchCalendarObjects({ calendar: shared! })).map((o) => o.url.split('/').pop()).sort()).toEqual(['a.ics', 'b.ics']);
    expect((await bob.createCalendarObject({ calendar: shared!, filename: 'tsdav.ics', iCalString: event('tsdav') })).status).toBe(201);
    expect((await dav('DELETE', `/calendars/${ALICE}/projets/tsdav.ics`)).status).toBe(204);
    const dan = await client(DAN);
    const readOnly = (await dan.fetchCalendars()).find((c) => c.url.includes('/shared.'))!;
    expect((await dan.createCalendarObject({ calendar: readOnly, filename: 'no.ics', iCalString: event('no') })).status).toBe(403);
  });

  it('refuses a read sharee writing or deleting (403 need-privileges), and changes nothing', async () => {
    const danCopy = (await homeListing(DAN))[0]!.replace(/^\/dav/, '');
    const before = await state();
    await refusedWith(await dav('PUT', `${danCopy}evil.ics`, { user: DAN, body: event('evil'), headers: { 'content-type': 'text/calendar' } }), 403, 'need-privileges');
    await refusedWith(await dav('PUT', `${danCopy}a.ics`, { user: DAN, body: event('a'), headers: { 'content-type': 'text/calendar' } }), 403, 'need-privileges');
    await refusedWith(await dav('DELETE', `${danCopy}a.ics`, { user: DAN }), 403, 'need-privileges');
    await refusedWith(await dav('PROPPATCH', `${danCopy}a.ics`, { user: DAN, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:x>1</D:x></D:prop></D:set></D:propertyupdate>' }), 403, 'need-privileges');
    expect(await state()).toBe(before);
  });

  it('refuses sharing onward by a sharee, even read-write, and by a colleague who is no sharee (403 need-privileges DAV:share)', async () => {
    const before = await state();
    const bobCopy = (await homeListing(BOB))[0]!.replace(/^\/dav/, '');
    await refusedWith(await post(bobCopy, csShare(csSet(`mailto:${CAROL}`, true)), BOB), 403, 'need-privileges');
    await refusedWith(await post(bobCopy, shareResource([[`mailto:${CAROL}`, 'read']]), BOB), 403, 'need-privileges');
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, shareResource([[`mailto:${CAROL}`, 'read']]), CAROL), 403, 'need-privileges');
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, csShare(csRemove(`mailto:${BOB}`)), DAN), 403, 'need-privileges');
    // Someone of another ministry does not even find the calendar.
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, csShare(csSet(`mailto:${EVE}`)), EVE), 404);
    expect(await homeListing(CAROL)).toHaveLength(0);
    expect(await state()).toBe(before);
  });

  it('answers unknown and foreign sharees with a 207 naming each href, storing none of the request', async () => {
    const before = await state();
    const res = await post(`/calendars/${ALICE}/projets/`, csShare(csSet(`mailto:${CAROL}`) + csSet('mailto:nobody@culture.gouv.test') + csSet(`mailto:${EVE}`) + csSet(`mailto:${ALICE}`)));
    expect(res.status).toBe(207);
    const text = await res.text();
    expect(text).toMatch(new RegExp(`<d:href>mailto:${CAROL}</d:href><d:status>HTTP/1.1 424 `));
    expect(text).toMatch(/<d:href>mailto:nobody@culture.gouv.test<\/d:href><d:status>HTTP\/1.1 403 [^<]*<\/d:status><d:error><d:recognized-principal\/>/);
    expect(text).toMatch(new RegExp(`<d:href>mailto:${EVE}</d:href><d:status>HTTP/1.1 403 [^<]*</d:status><d:error><d:recognized-principal/>`));
    expect(text).toMatch(new RegExp(`<d:href>mailto:${ALICE}</d:href><d:status>HTTP/1.1 403 `));
    expect(await homeListing(CAROL)).toHaveLength(0);
    expect(await homeListing(EVE)).toHaveLength(0);
    expect(await state()).toBe(before);
  });

  it('refuses an XML bomb, 10,000 sharees and malformed bodies with precise errors, changing nothing', async () => {
    const before = await state();
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><CS:share xmlns:D="DAV:" xmlns:CS="${CS}"><CS:set><D:href>&lol2;</D:href></CS:set></CS:share>`;
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, bomb), 400);
    // 10,000 sharees are past the XML body limit (413); 2,000 fit in it and are past the sharees of one request.
    const many = (n: number) => csShare(Array.from({ length: n }, (_, i) => csSet(`mailto:u${i}@${DOMAIN}`)).join(''));
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, many(10_000)), 413);
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, many(2_000)), 403, 'max-sharees');
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, csShare('<CS:set><CS:read/></CS:set>')), 400);
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, shareResource([[`mailto:${CAROL}`, 'shared-owner']])), 400);
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, csShare(csSet(`mailto:${'a'.repeat(5000)}@${DOMAIN}`))), 207);
    await refusedWith(await post(`/calendars/${ALICE}/projets/`, csShare(csSet('mailto:%E0%A4%A@x'))), 207);
    await refusedWith(await post(`/calendars/${ALICE}/`, csShare(csSet(`mailto:${CAROL}`))), 403);
    expect(await state()).toBe(before);
    expect((await fetch(`${served.origin}/healthz`)).status).toBe(200);
  });

  it('takes back with DAV:share-resource no-access and CS:remove, by principal URL too', async () => {
    expect((await post(`/calendars/${ALICE}/projets/`, shareResource([[`/dav/principals/users/${CAROL}/`, 'read']]))).status).toBe(200);
    expect(await homeListing(CAROL)).toHaveLength(1);
    expect((await post(`/calendars/${ALICE}/projets/`, shareResource([[`/dav/principals/users/${CAROL}/`, 'no-access']]))).status).toBe(200);
    expect(await homeListing(CAROL)).toHaveLength(0);
    expect((await post(`/calendars/${ALICE}/projets/`, csShare(csRemove(`mailto:${BOB}`) + csRemove('/dav/principals/groups/archives/')))).status).toBe(200);
    expect(await homeListing(BOB)).toHaveLength(0);
    expect(await homeListing(DAN)).toHaveLength(0);
    expect((await propfind(`/calendars/${ALICE}/projets/`, '<D:share-access/>')).text).toContain('<d:not-shared/>');
  });

  it('shares an address book the same way', async () => {
    const mk = await dav('MKCOL', `/addressbooks/${ALICE}/equipe/`, {
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="${CR}"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>`,
    });
    expect(mk.status).toBe(201);
    expect((await post(`/addressbooks/${ALICE}/equipe/`, shareResource([[`mailto:${CAROL}`, 'read']]))).status).toBe(200);
    const carols = await homeListing(CAROL, 'addressbooks');
    expect(carols).toHaveLength(1);
    const copy = carols[0]!.replace(/^\/dav/, '');
    await refusedWith(await dav('PUT', `${copy}k.vcf`, { user: CAROL, body: 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:k\r\nFN:K\r\nEND:VCARD\r\n', headers: { 'content-type': 'text/vcard' } }), 403, 'need-privileges');
    // The domain's address list is nobody's to share.
    await refusedWith(await post(`/addressbooks/${ALICE}/annuaire/`, shareResource([[`mailto:${CAROL}`, 'read']])), 403);
  });
});
