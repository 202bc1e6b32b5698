import ICAL from 'ical.js';
import { DAVClient } from 'tsdav';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARIS_VTIMEZONE, davRequest, makeSite, provision, serveHttp, simpleEvent as event, siteKinds, type ServedHttp, type Site } from './helpers.js';

/**
 * Apple's side of sharing (CalendarServer's caldav-sharing.txt, the shapes Apple Calendar sends) and
 * RFC 7809 time zones by reference, against a listening `palabre serve`: an invitation lands in the
 * sharee's notification collection, the sharee accepts or declines with CS:invite-reply, the owner's
 * CS:invite follows; then the same attacked by a colleague, a read sharee and broken bodies.
 */

const DOMAIN = 'justice.gouv.test';
const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const CAROL = `carol@${DOMAIN}`;
const DAN = `dan@${DOMAIN}`;
const PASS = 'A long enough passphrase';
const C = 'urn:ietf:params:xml:ns:caldav';
const CS = 'http://calendarserver.org/ns/';

/** Apple Calendar's share request (CS:share with CS:set, CS:summary) and invite reply, as CalendarServer documents them. */
const csShare = (inner: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<CS:share xmlns:D="DAV:" xmlns:CS="${CS}">${inner}</CS:share>`;
const csSet = (address: string, rw: boolean) => `<CS:set><D:href>mailto:${address}</D:href><CS:summary>Audiences</CS:summary>${rw ? '<CS:read-write/>' : '<CS:read/>'}</CS:set>`;
const inviteReply = (me: string, answer: 'accepted' | 'declined', uid: string, host: string | null) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<CS:invite-reply xmlns:D="DAV:" xmlns:CS="${CS}"><D:href>mailto:${me}</D:href><CS:invite-${answer}/>${host === null ? '' : `<CS:hosturl><D:href>${host}</D:href></CS:hosturl>`}<CS:in-reply-to>${uid}</CS:in-reply-to><CS:summary>Audiences</CS:summary></CS:invite-reply>`;

describe.each(siteKinds)('CalendarServer notifications and RFC 7809 (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;
  let uid = '';
  const dav = (method: string, path: string, init: { body?: string; user?: string; headers?: Record<string, string> } = {}) => davRequest(served.origin, init.user ?? ALICE, PASS, method, path, init);
  const post = (path: string, body: string, user = ALICE) => dav('POST', path, { body, user, headers: { 'content-type': 'text/xml; charset=utf-8' } });
  const propfind = async (path: string, props: string, user = ALICE, depth = '0') => {
    const res = await dav('PROPFIND', path, { user, headers: { depth, 'content-type': 'text/xml' }, body: `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="${CS}" xmlns:C="${C}"><D:prop>${props}</D:prop></D:propfind>` });
    return { status: res.status, text: await res.text() };
  };
  const statusOf = async (user: string) => {
    const { text } = await propfind(`/calendars/${ALICE}/audiences/`, '<CS:invite/>');
    return new RegExp(`<CS:user><d:href>mailto:${user}</d:href><CS:common-name>[^<]*</CS:common-name><CS:(invite-[a-z]+)/>`).exec(text)?.[1] ?? 'none';
  };
  const sharedIn = async (user: string) => {
    const { text } = await propfind(`/calendars/${user}/`, '<D:resourcetype/>', user, '1');
    return [...text.matchAll(/<d:href>([^<]*\/shared\.[^<]*)<\/d:href>/g)].map((m) => m[1]!);
  };
  const notices = async (user: string) => {
    const { status, text } = await propfind(`/notifications/${user}/`, '<D:resourcetype/><CS:notificationtype/><D:getetag/>', user, '1');
    expect(status).toBe(207);
    return [...text.matchAll(/<d:href>([^<]*\.xml)<\/d:href>/g)].map((m) => m[1]!);
  };
  /** Everything an attack could change: the owner's share list, each sharee's home and notices. */
  const state = async () => {
    const invite = (await propfind(`/calendars/${ALICE}/audiences/`, '<CS:invite/>')).text;
    return JSON.stringify([invite, await sharedIn(BOB), await sharedIn(DAN), await notices(BOB), await notices(DAN), await notices(CAROL), await notices(ALICE)]);
  };
  const refused = async (res: Response, status: number, condition?: string) => {
    const text = await res.text();
    expect({ status: res.status, text: text.slice(0, 300) }).toMatchObject({ status });
    if (condition) expect(text).toMatch(new RegExp(`<([A-Za-z0-9]+:)?${condition}\\b`));
  };

  beforeAll(async () => {
    site = await makeSite(kind);
    await provision(site, [
      ['domain', 'add', DOMAIN],
      ...[ALICE, BOB, CAROL, DAN].map((u) => ['user', 'add', u, '--password', PASS]),
    ]);
    served = await serveHttp(site);
    const mk = await dav('MKCALENDAR', `/calendars/${ALICE}/audiences/`, {
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><D:displayname>Audiences</D:displayname></D:prop></D:set></C:mkcalendar>`,
    });
    expect(mk.status).toBe(201);
    expect((await dav('PUT', `/calendars/${ALICE}/audiences/a.ics`, { body: event('a'), headers: { 'content-type': 'text/calendar' } })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it('invites: the sharee\u2019s principal names its notification collection, which holds a CS:invite-notification; the owner\u2019s copy is CS:shared-owner', async () => {
    const principal = await propfind(`/principals/users/${BOB}/`, '<CS:notification-URL/>', BOB);
    expect(principal.text).toContain(`<CS:notification-URL><d:href>/dav/notifications/${BOB}/</d:href></CS:notification-URL>`);
    // A colleague is not told where someone's invitations are.
    expect((await propfind(`/principals/users/${BOB}/`, '<CS:notification-URL/>', CAROL)).text).not.toContain('/dav/notifications/');
    expect(await notices(BOB)).toEqual([]);
    expect((await propfind(`/calendars/${ALICE}/audiences/`, '<D:resourcetype/>')).text).not.toContain('shared-owner');

    expect((await post(`/calendars/${ALICE}/audiences/`, csShare(csSet(BOB, true) + csSet(DAN, false)))).status).toBe(200);
    expect((await propfind(`/calendars/${ALICE}/audiences/`, '<D:resourcetype/>')).text).toMatch(/<CS:shared-owner\/>/);
    expect((await propfind(`/calendars/${ALICE}/`, '<D:resourcetype/>', ALICE, '1')).text).toMatch(/audiences\/<\/d:href>.*?<CS:shared-owner\/>/s);
    expect(await statusOf(BOB)).toBe('invite-noresponse');
    expect(await statusOf(DAN)).toBe('invite-noresponse');

    const listing = await propfind(`/notifications/${BOB}/`, '<D:resourcetype/><CS:notificationtype/><D:getetag/><D:getcontenttype/>', BOB, '1');
    expect(listing.text).toMatch(/<d:resourcetype><d:collection\/><CS:notification\/><\/d:resourcetype>/);
    expect(listing.text).toContain('<CS:notificationtype><CS:invite-notification shared-type="calendar"/></CS:notificationtype>');
    const [href] = await notices(BOB);
    expect(href).toBeDefined();
    const notice = await dav('GET', href!.replace(/^\/dav/, ''), { user: BOB });
    expect(notice.status).toBe(200);
    const xml = await notice.text();
    uid = /<CS:uid>([^<]+)<\/CS:uid>/.exec(xml)![1]!;
    expect(xml).toContain(`<d:href>mailto:${BOB}</d:href><CS:invite-noresponse/><CS:access><CS:read-write/></CS:access>`);
    expect(xml).toContain(`<CS:hosturl><d:href>/dav/calendars/${ALICE}/audiences/</d:href></CS:hosturl>`);
    expect(xml).toMatch(new RegExp(`<CS:organizer><d:href>mailto:${ALICE}</d:href><CS:common-name>`));
    expect(xml).toContain('<CS:summary>Audiences</CS:summary>');
    expect(xml).toContain('<C:comp name="VEVENT"/>');

    // In force before any answer: Thunderbird and DAVx5 (tsdav here) cannot answer and look in the home only.
    const bob = new DAVClient({ serverUrl: `${served.origin}/`, credentials: { username: BOB, password: PASS }, authMethod: 'Basic', defaultAccountType: 'caldav' });
    await bob.login();
    const shared = (await bob.fetchCalendars()).find((c) => c.url.includes(`/shared.${uid}/`));
    expect(shared?.displayName).toBe('Audiences');
  });

  it('accepts with CS:invite-reply (CS:shared-as names the copy), then the notice is deleted as Apple Calendar does', async () => {
    const res = await post(`/calendars/${BOB}/`, inviteReply(BOB, 'accepted', uid, `/dav/calendars/${ALICE}/audiences/`), BOB);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`<CS:shared-as xmlns`);
    expect(await statusOf(BOB)).toBe('invite-accepted');
    expect(await sharedIn(BOB)).toEqual([`/dav/calendars/${BOB}/shared.${uid}/`]);
    const [href] = await notices(BOB);
    const got = await dav('GET', href!.replace(/^\/dav/, ''), { user: BOB });
    expect(await got.text()).toContain('<CS:invite-accepted/>');
    expect((await dav('DELETE', href!.replace(/^\/dav/, ''), { user: BOB })).status).toBe(204);
    expect(await notices(BOB)).toEqual([]);
    expect((await dav('GET', href!.replace(/^\/dav/, ''), { user: BOB })).status).toBe(404);
    // Deleting the notice answers nothing: the share stays accepted.
    expect(await statusOf(BOB)).toBe('invite-accepted');
  });

  it('declines: the calendar leaves the sharee\u2019s home and the owner sees invite-declined; a new share invites again', async () => {
    expect((await dav('PUT', `/calendars/${DAN}/shared.${uid}/dan.ics`, { user: DAN, body: event('dan'), headers: { 'content-type': 'text/calendar' } })).status).toBe(403);
    const res = await post(`/calendars/${DAN}/`, inviteReply(DAN, 'declined', uid, null), DAN);
    expect(res.status).toBe(204);
    expect(await statusOf(DAN)).toBe('invite-declined');
    expect(await sharedIn(DAN)).toEqual([]);
    expect((await dav('GET', `/calendars/${DAN}/shared.${uid}/a.ics`, { user: DAN })).status).toBe(404);
    expect((await propfind(`/calendars/${ALICE}/audiences/`, '<D:invite/>')).text).toMatch(/dan[^<]*<\/d:href>.*?<d:invite-declined\/>/s);

    expect((await post(`/calendars/${ALICE}/audiences/`, csShare(csSet(DAN, false)))).status).toBe(200);
    expect(await statusOf(DAN)).toBe('invite-noresponse');
    expect(await sharedIn(DAN)).toHaveLength(1);
    // A sharee deleting the copy from their home declines it too.
    expect((await dav('DELETE', `/calendars/${DAN}/shared.${uid}/`, { user: DAN })).status).toBe(204);
    expect(await statusOf(DAN)).toBe('invite-declined');
  });

  it('the owner is told of each answer: one CS:invite-reply per sharee in the owner\u2019s notifications, until the owner deletes it; nobody else sees them', async () => {
    const listing = await propfind(`/notifications/${ALICE}/`, '<CS:notificationtype/>', ALICE, '1');
    expect(listing.text).toContain('<CS:notificationtype><CS:invite-reply shared-type="calendar"/></CS:notificationtype>');
    const hrefs = await notices(ALICE);
    expect(hrefs).toHaveLength(2);
    const bodies = await Promise.all(hrefs.map(async (h) => (await dav('GET', h.replace(/^\/dav/, ''))).text()));
    const bobs = bodies.find((b) => b.includes(`mailto:${BOB}`))!;
    const dans = bodies.find((b) => b.includes(`mailto:${DAN}`))!;
    expect(bobs).toContain(`<CS:invite-reply shared-type="calendar"><d:href>mailto:${BOB}</d:href><CS:invite-accepted/>`);
    expect(bobs).toContain(`<CS:hosturl><d:href>/dav/calendars/${ALICE}/audiences/</d:href></CS:hosturl><CS:in-reply-to>${uid}</CS:in-reply-to><CS:summary>Audiences</CS:summary>`);
    expect(dans).toContain('<CS:invite-declined/>');
    // The sharees answer; the owner's notices are the owner's alone.
    const bobsHref = hrefs[bodies.indexOf(bobs)]!.replace(/^\/dav/, '');
    await refused(await dav('GET', bobsHref, { user: BOB }), 404);
    await refused(await dav('DELETE', bobsHref, { user: BOB }), 404);
    await refused(await dav('PROPFIND', `/notifications/${ALICE}/`, { user: DAN, headers: { depth: '1' } }), 404);
    await refused(await dav('DELETE', bobsHref.replace(/reply\.([^.]+)\.[^.]+\.xml$/, `reply.$1.${'0'.repeat(36)}.xml`)), 404);
    expect((await dav('DELETE', bobsHref)).status).toBe(204);
    expect((await dav('GET', bobsHref)).status).toBe(404);
    expect(await notices(ALICE)).toHaveLength(1);
    // Putting the notice away changes no answer.
    expect(await statusOf(BOB)).toBe('invite-accepted');
  });

  it('an unshare takes the notice away, a change of access posts a new one', async () => {
    expect((await post(`/calendars/${ALICE}/audiences/`, csShare(csSet(BOB, false)))).status).toBe(200);
    const [href] = await notices(BOB);
    expect(await (await dav('GET', href!.replace(/^\/dav/, ''), { user: BOB })).text()).toContain('<CS:access><CS:read/></CS:access>');
    expect(await statusOf(BOB)).toBe('invite-accepted');
    expect((await post(`/calendars/${ALICE}/audiences/`, csShare(`<CS:remove><D:href>mailto:${BOB}</D:href></CS:remove>`))).status).toBe(200);
    expect(await notices(BOB)).toEqual([]);
    expect(await sharedIn(BOB)).toEqual([]);
    expect((await post(`/calendars/${ALICE}/audiences/`, csShare(csSet(BOB, true)))).status).toBe(200);
    expect(await statusOf(BOB)).toBe('invite-noresponse');
  });

  it('attacked: a colleague answering someone else\u2019s invitation, reading their notices, broken and oversized replies — precise errors, nothing changed', async () => {
    const before = await state();
    // Carol answers Bob's invitation from her own home: not hers, told as if it did not exist.
    await refused(await post(`/calendars/${CAROL}/`, inviteReply(BOB, 'accepted', uid, `/dav/calendars/${ALICE}/audiences/`), CAROL), 403, 'invitation');
    await refused(await post(`/calendars/${CAROL}/`, inviteReply(CAROL, 'declined', '00000000-0000-0000-0000-000000000000', null), CAROL), 403, 'invitation');
    // Into Bob's home, or Bob's notices: nothing there for her.
    await refused(await post(`/calendars/${BOB}/`, inviteReply(BOB, 'declined', uid, null), CAROL), 404);
    await refused(await dav('PROPFIND', `/notifications/${BOB}/`, { user: CAROL, headers: { depth: '1' } }), 404);
    await refused(await dav('GET', `/notifications/${BOB}/${uid}.xml`, { user: CAROL }), 404);
    await refused(await dav('DELETE', `/notifications/${BOB}/${uid}.xml`, { user: CAROL }), 404);
    // Bob answering to the wrong calendar, or at a calendar rather than his home.
    await refused(await post(`/calendars/${BOB}/`, inviteReply(BOB, 'accepted', uid, `/dav/calendars/${ALICE}/autre/`), BOB), 403, 'invitation');
    await refused(await post(`/calendars/${ALICE}/audiences/`, inviteReply(BOB, 'accepted', uid, null), BOB), 403, 'need-privileges');
    // Malformed: no uid, both answers, neither, not XML, an entity bomb, past the body limit.
    await refused(await post(`/calendars/${BOB}/`, inviteReply(BOB, 'accepted', '', null), BOB), 400);
    await refused(await post(`/calendars/${BOB}/`, inviteReply(BOB, 'accepted', uid, null).replace('<CS:invite-accepted/>', '<CS:invite-accepted/><CS:invite-declined/>'), BOB), 400);
    await refused(await post(`/calendars/${BOB}/`, inviteReply(BOB, 'accepted', uid, null).replace('<CS:invite-accepted/>', ''), BOB), 400);
    await refused(await post(`/calendars/${BOB}/`, '<CS:invite-reply xmlns:CS="http://calendarserver.org/ns/"><CS:in-reply-to>', BOB), 400);
    const bomb = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><CS:invite-reply xmlns:CS="${CS}"><CS:in-reply-to>&b;</CS:in-reply-to></CS:invite-reply>`;
    expect([400, 403, 415]).toContain((await post(`/calendars/${BOB}/`, bomb, BOB)).status);
    const huge = inviteReply(BOB, 'accepted', uid, null).replace('<CS:summary>Audiences', `<CS:summary>${'x'.repeat(2 * 1024 * 1024)}`);
    expect((await post(`/calendars/${BOB}/`, huge, BOB)).status).toBe(413);
    // The notification collection takes nothing but reads and deletes.
    expect([403, 405]).toContain((await dav('PUT', `/notifications/${BOB}/x.xml`, { user: BOB, body: '<x/>', headers: { 'content-type': 'text/xml' } })).status);
    expect([403, 405]).toContain((await dav('DELETE', `/notifications/${BOB}/`, { user: BOB })).status);
    expect([403, 405]).toContain((await dav('MKCOL', `/notifications/${BOB}/sub/`, { user: BOB })).status);
    expect(await state()).toBe(before);
  });

  it('RFC 7809: advertises calendar-no-timezone, keeps an object sent without VTIMEZONE as sent and adds the zone back for clients that did not opt out', async () => {
    const options = await dav('OPTIONS', `/calendars/${ALICE}/audiences/`);
    expect(options.headers.get('dav') ?? '').toContain('calendar-no-timezone');
    const bare = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Apple Inc.//macOS 15//EN', 'BEGIN:VEVENT', 'UID:tz-1', 'DTSTAMP:20260101T000000Z', 'DTSTART;TZID=Europe/Paris:20260115T100000', 'DTEND;TZID=Europe/Paris:20260115T110000', 'RRULE:FREQ=MONTHLY;COUNT=12', 'SUMMARY:Audience', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    expect((await dav('PUT', `/calendars/${ALICE}/audiences/tz.ics`, { body: bare, headers: { 'content-type': 'text/calendar' } })).status).toBe(201);

    const optedOut = await dav('GET', `/calendars/${ALICE}/audiences/tz.ics`, { headers: { 'caldav-timezones': 'F' } });
    expect(await optedOut.text()).toBe(bare);
    const plain = await dav('GET', `/calendars/${ALICE}/audiences/tz.ics`);
    const full = await plain.text();
    expect(plain.headers.get('etag')).toBe(optedOut.headers.get('etag'));
    expect(full).toContain('BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n');
    // The added zone says what the server computes with: January 10:00 in Paris is 09:00Z, July's 08:00Z.
    const vcal = new ICAL.Component(ICAL.parse(full) as unknown[]);
    const zone = new ICAL.Timezone({ component: vcal.getFirstSubcomponent('vtimezone')!, tzid: 'Europe/Paris' });
    const start = vcal.getFirstSubcomponent('vevent')!.getFirstPropertyValue('dtstart') as ICAL.Time;
    start.zone = zone;
    expect(start.toJSDate().toISOString()).toBe('2026-01-15T09:00:00.000Z');
    const july = new ICAL.Event(vcal.getFirstSubcomponent('vevent')!).iterator();
    let occurrence: ICAL.Time | null = null;
    for (let i = 0; i < 7; i++) occurrence = july.next();
    occurrence!.zone = zone;
    expect(occurrence!.toJSDate().toISOString()).toBe('2026-07-15T08:00:00.000Z');

    const multiget = (headers: Record<string, string>) =>
      dav('REPORT', `/calendars/${ALICE}/audiences/`, {
        headers: { depth: '1', 'content-type': 'text/xml', ...headers },
        body: `<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="${C}"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>/dav/calendars/${ALICE}/audiences/tz.ics</D:href></C:calendar-multiget>`,
      }).then((r) => r.text());
    expect(await multiget({})).toContain('BEGIN:VTIMEZONE');
    expect(await multiget({ 'caldav-timezones': 'F' })).not.toContain('BEGIN:VTIMEZONE');
    // The export carries the zone once.
    expect((await (await dav('GET', `/calendars/${ALICE}/audiences/`)).text()).match(/BEGIN:VTIMEZONE\r\nTZID:Europe\/Paris/g)).toHaveLength(1);

    // An object that sends the zone keeps it; `F` takes a standard zone's out.
    const withZone = bare.replace('UID:tz-1', 'UID:tz-2').replace('BEGIN:VEVENT', `${PARIS_VTIMEZONE.join('\r\n')}\r\nBEGIN:VEVENT`);
    expect((await dav('PUT', `/calendars/${ALICE}/audiences/tz2.ics`, { body: withZone, headers: { 'content-type': 'text/calendar' } })).status).toBe(201);
    expect(await (await dav('GET', `/calendars/${ALICE}/audiences/tz2.ics`)).text()).toBe(withZone);
    expect(await (await dav('GET', `/calendars/${ALICE}/audiences/tz2.ics`, { headers: { 'caldav-timezones': 'F' } })).text()).not.toContain('VTIMEZONE');

    // A TZID nobody knows still needs its VTIMEZONE.
    await refused(await dav('PUT', `/calendars/${ALICE}/audiences/mars.ics`, { body: bare.replace(/Europe\/Paris/g, 'Mars/Olympus_Mons').replace('tz-1', 'tz-3'), headers: { 'content-type': 'text/calendar' } }), 403, 'valid-calendar-data');
    expect((await dav('GET', `/calendars/${ALICE}/audiences/mars.ics`)).status).toBe(404);
  });

  it('RFC 7809: calendar-timezone-id sets calendar-timezone, an unknown one is 403 valid-timezone, and the home names the time-zone service', async () => {
    const patch = (value: string) =>
      dav('PROPPATCH', `/calendars/${ALICE}/audiences/`, {
        headers: { 'content-type': 'text/xml' },
        body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><C:calendar-timezone-id>${value}</C:calendar-timezone-id></D:prop></D:set></D:propertyupdate>`,
      }).then(async (r) => ({ status: r.status, text: await r.text() }));
    const ok = await patch('America/New_York');
    expect(ok.text).toMatch(/calendar-timezone-id\/>.*?200 OK/s);
    const props = await propfind(`/calendars/${ALICE}/audiences/`, '<C:calendar-timezone-id/><C:calendar-timezone/>');
    expect(props.text).toContain('<C:calendar-timezone-id>America/New_York</C:calendar-timezone-id>');
    expect(props.text).toContain('TZID:America/New_York');
    const bad = await patch('Mars/Olympus_Mons');
    expect(bad.text).toMatch(/403 Forbidden/);
    expect(bad.text).toMatch(/valid-timezone/);
    expect((await propfind(`/calendars/${ALICE}/audiences/`, '<C:calendar-timezone-id/>')).text).toContain('America/New_York');
    expect((await propfind(`/calendars/${ALICE}/`, '<C:timezone-service-set/>')).text).toContain('<C:timezone-service-set><d:href>/dav/timezones/</d:href></C:timezone-service-set>');
    const lome = await dav('GET', '/timezones/zones/Africa/Lome');
    expect(lome.status).toBe(200);
    expect(await lome.text()).toMatch(/TZID:Africa\/Lome\r\n[\s\S]*TZOFFSETTO:\+0000/);
    expect((await dav('GET', '/timezones/zones/Mars/Olympus_Mons')).status).toBe(404);
  });
});
