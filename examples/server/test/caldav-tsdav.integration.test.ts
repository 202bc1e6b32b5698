import ICAL from 'ical.js';
import { DAVClient, type DAVCalendar, type DAVCalendarObject } from 'tsdav';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARIS_VTIMEZONE as PARIS, makeSite, serveHttp, siteKinds, type ServedHttp, type Site } from './helpers.js';

const USER = 'cabinet@finances.gouv.test';
const PASS = 'A long enough passphrase';

type Client = DAVClient;


const ics = (uid: string, summary: string, extra: string[] = [], start = 'DTSTART;TZID=Europe/Paris:20261207T100000') =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//tsdav test//EN', ...PARIS, 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20261201T090000Z', start, 'DURATION:PT1H', `SUMMARY:${summary}`, ...extra, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');

const summaryOf = (data: string) => new ICAL.Component(ICAL.parse(data)).getFirstSubcomponent('vevent')?.getFirstPropertyValue('summary');

/**
 * tsdav (the JS library web and hybrid clients build on) against a listening `palabre serve`, given only
 * the bare host URL, as a user setting up an account would: what it discovers, and what it then shows.
 */
describe.each(siteKinds)('tsdav against palabre serve (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;
  let caldav: Client;
  let carddav: Client;
  let calendar: DAVCalendar;

  beforeAll(async () => {
    site = await makeSite(kind);
    for (const argv of [['domain', 'add', 'finances.gouv.test'], ['user', 'add', USER, '--password', PASS]]) expect((await site.run(...argv)).code).toBe(0);
    served = await serveHttp(site);
    const login = { serverUrl: `${served.origin}/`, credentials: { username: USER, password: PASS }, authMethod: 'Basic' as const };
    caldav = new DAVClient({ ...login, defaultAccountType: 'caldav' });
    carddav = new DAVClient({ ...login, defaultAccountType: 'carddav' });
    await caldav.login();
    await carddav.login();
  }, 120_000);
  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it('discovers the principal and the homes from the bare host (well-known, current-user-principal, home sets)', () => {
    expect(caldav.account?.rootUrl).toBe(`${served.origin}/dav/`);
    expect(caldav.account?.principalUrl).toBe(`${served.origin}/dav/principals/users/${USER}/`);
    expect(caldav.account?.homeUrl).toBe(`${served.origin}/dav/calendars/${USER}/`);
    expect(carddav.account?.homeUrl).toBe(`${served.origin}/dav/addressbooks/${USER}/`);
  });

  it('makes a calendar and lists it with its name, components, ctag, sync token and reports', async () => {
    await caldav.makeCalendar({
      url: `${caldav.account!.homeUrl}reunions/`,
      props: { [`d:displayname`]: 'Réunions de cabinet', [`c:calendar-description`]: 'Agenda partagé' },
    });
    const calendars = await caldav.fetchCalendars();
    const found = calendars.find((c) => c.url === `${caldav.account!.homeUrl}reunions/`);
    expect(found).toBeDefined();
    calendar = found!;
    expect(calendar.displayName).toBe('Réunions de cabinet');
    expect(calendar.description).toBe('Agenda partagé');
    expect(calendar.components).toEqual(expect.arrayContaining(['VEVENT', 'VTODO']));
    expect(String(calendar.ctag)).toBeTruthy();
    expect(String(calendar.syncToken)).toMatch(/^https?:\/\//);
    expect(calendar.reports).toEqual(expect.arrayContaining(['calendarQuery', 'calendarMultiget', 'syncCollection']));
  });

  it('creates with If-None-Match: *, refuses a second create of the same name, updates with If-Match and deletes', async () => {
    const created = await caldav.createCalendarObject({ calendar, filename: 'budget.ics', iCalString: ics('budget-1', 'Budget 2027') });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toMatch(/^"/);
    const again = await caldav.createCalendarObject({ calendar, filename: 'budget.ics', iCalString: ics('budget-1', 'Écrasé') });
    expect(again.status).toBe(412);

    let [object] = await caldav.fetchCalendarObjects({ calendar, objectUrls: [`${calendar.url}budget.ics`] });
    expect(object).toBeDefined();
    expect(summaryOf(object!.data)).toBe('Budget 2027');
    const stale = object!.etag;

    const updated = await caldav.updateCalendarObject({ calendarObject: { ...object!, data: ics('budget-1', 'Budget 2027 (reporté)') } });
    expect(updated.status).toBe(204);
    // The first etag is stale now: an update or a delete based on it must not win.
    expect((await caldav.updateCalendarObject({ calendarObject: { ...object!, data: ics('budget-1', 'Perdu') } })).status).toBe(412);
    expect((await caldav.deleteCalendarObject({ calendarObject: { url: object!.url, etag: stale, data: '' } })).status).toBe(412);
    [object] = await caldav.fetchCalendarObjects({ calendar, objectUrls: [`${calendar.url}budget.ics`] });
    expect(summaryOf(object!.data)).toBe('Budget 2027 (reporté)');
    expect(object!.etag).not.toBe(stale);

    expect((await caldav.deleteCalendarObject({ calendarObject: object! })).status).toBe(204);
    expect(await caldav.fetchCalendarObjects({ calendar })).toEqual([]);
  });

  it('fetches the objects named in a calendar-multiget, and only those', async () => {
    for (const n of [1, 2, 3]) expect((await caldav.createCalendarObject({ calendar, filename: `m${n}.ics`, iCalString: ics(`m-${n}`, `Point ${n}`) })).status).toBe(201);
    const responses = await caldav.calendarMultiGet({
      url: calendar.url,
      props: { [`d:getetag`]: {}, [`c:calendar-data`]: {} },
      // tsdav throws on any 404 response of a multiget: that case is in the recorded client flows.
      objectUrls: [1, 3].map((n) => new URL(`${calendar.url}m${n}.ics`).pathname),
      depth: '1',
    });
    const byHref = new Map(responses.map((r) => [r.href, r]));
    expect(summaryOf(String(byHref.get(new URL(`${calendar.url}m1.ics`).pathname)?.props?.calendarData))).toBe('Point 1');
    expect(summaryOf(String(byHref.get(new URL(`${calendar.url}m3.ics`).pathname)?.props?.calendarData))).toBe('Point 3');
    expect(byHref.has(new URL(`${calendar.url}m2.ics`).pathname)).toBe(false);
  });

  it('syncs with sync-collection: created, updated and deleted objects since the last token', async () => {
    const before = (await caldav.fetchCalendars()).find((c) => c.url === calendar.url)!;
    const local = { ...before, objects: await caldav.fetchCalendarObjects({ calendar: before }) };
    expect(local.objects.map((o) => o.url).sort()).toEqual([1, 2, 3].map((n) => `${calendar.url}m${n}.ics`));

    expect((await caldav.createCalendarObject({ calendar, filename: 'm4.ics', iCalString: ics('m-4', 'Point 4') })).status).toBe(201);
    const m2 = local.objects.find((o) => o.url.endsWith('m2.ics'))!;
    expect((await caldav.updateCalendarObject({ calendarObject: { ...m2, data: ics('m-2', 'Point 2 modifié') } })).status).toBe(204);
    const m3 = local.objects.find((o) => o.url.endsWith('m3.ics'))!;
    expect((await caldav.deleteCalendarObject({ calendarObject: m3 })).status).toBe(204);

    const result = await caldav.smartCollectionSync({ collection: { ...local, objectMultiGet: caldav.calendarMultiGet.bind(caldav) }, method: 'webdav', detailedResult: true });
    const objects = result.objects as { created: DAVCalendarObject[]; updated: DAVCalendarObject[]; deleted: DAVCalendarObject[] };
    expect(objects.created.map((o) => o.url)).toEqual([`${calendar.url}m4.ics`]);
    expect(summaryOf(objects.created[0]!.data)).toBe('Point 4');
    expect(objects.updated.map((o) => o.url)).toEqual([`${calendar.url}m2.ics`]);
    expect(summaryOf(objects.updated[0]!.data)).toBe('Point 2 modifié');
    expect(objects.deleted.map((o) => o.url)).toEqual([`${calendar.url}m3.ics`]);
    expect(result.syncToken).not.toBe(before.syncToken);

    // Nothing changed since: the next sync finds nothing.
    const again = await caldav.smartCollectionSync({ collection: { ...local, syncToken: result.syncToken, objectMultiGet: caldav.calendarMultiGet.bind(caldav) }, method: 'webdav', detailedResult: true });
    const none = again.objects as typeof objects;
    expect([none.created.length, none.updated.length, none.deleted.length]).toEqual([0, 0, 0]);
  });

  it('syncCalendars sees a calendar whose ctag/token moved and brings its objects', async () => {
    const calendars = await caldav.fetchCalendars();
    const old = await Promise.all(calendars.map(async (c) => ({ ...c, objects: await caldav.fetchCalendarObjects({ calendar: c }) })));
    expect((await caldav.createCalendarObject({ calendar, filename: 'm5.ics', iCalString: ics('m-5', 'Point 5') })).status).toBe(201);
    const synced = (await caldav.syncCalendars({ oldCalendars: old, detailedResult: true })) as { created: DAVCalendar[]; updated: DAVCalendar[]; deleted: DAVCalendar[] };
    expect(synced.created).toEqual([]);
    expect(synced.deleted).toEqual([]);
    expect(synced.updated.map((c) => c.url)).toEqual([calendar.url]);
    const objects = synced.updated[0]!.objects as unknown as { created: DAVCalendarObject[] } | DAVCalendarObject[];
    const urls = Array.isArray(objects) ? objects.map((o) => o.url) : objects.created.map((o) => o.url);
    expect(urls).toContain(`${calendar.url}m5.ics`);
  });

  it('answers a time-range calendar-query with the recurrences expanded in the window, overrides and EXDATE applied', async () => {
    const weekly = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//tsdav test//EN',
      ...PARIS,
      'BEGIN:VEVENT',
      'UID:hebdo-1',
      'DTSTAMP:20261201T090000Z',
      'DTSTART;TZID=Europe/Paris:20270104T090000',
      'DURATION:PT1H',
      'RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10',
      'EXDATE;TZID=Europe/Paris:20270118T090000',
      'SUMMARY:Point hebdomadaire',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:hebdo-1',
      'DTSTAMP:20261201T090000Z',
      'RECURRENCE-ID;TZID=Europe/Paris:20270111T090000',
      'DTSTART;TZID=Europe/Paris:20270111T140000',
      'DURATION:PT1H',
      'SUMMARY:Point hebdomadaire (après-midi)',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    expect((await caldav.createCalendarObject({ calendar, filename: 'hebdo.ics', iCalString: weekly })).status).toBe(201);
    const found = await caldav.fetchCalendarObjects({ calendar, timeRange: { start: '2027-01-01T00:00:00Z', end: '2027-02-01T00:00:00Z' }, expand: true });
    // Only the weekly series falls in January 2027 (the other objects are in December 2026).
    expect(found.map((o) => o.url)).toEqual([`${calendar.url}hebdo.ics`]);
    const root = new ICAL.Component(ICAL.parse(found[0]!.data));
    const instances = root.getAllSubcomponents('vevent').map((e) => ({
      start: e.getFirstPropertyValue('dtstart')!.toString(),
      rid: e.getFirstPropertyValue('recurrence-id')?.toString(),
      summary: e.getFirstPropertyValue('summary'),
    }));
    // Expanded instances are in UTC (RFC 4791 §9.6.5): Paris is UTC+1 in January.
    expect(instances).toEqual([
      { start: '2027-01-04T08:00:00Z', rid: '2027-01-04T08:00:00Z', summary: 'Point hebdomadaire' },
      { start: '2027-01-11T13:00:00Z', rid: '2027-01-11T08:00:00Z', summary: 'Point hebdomadaire (après-midi)' },
      { start: '2027-01-25T08:00:00Z', rid: '2027-01-25T08:00:00Z', summary: 'Point hebdomadaire' },
    ]);
    expect(root.getAllSubcomponents('vevent').some((e) => e.hasProperty('rrule') || e.hasProperty('exdate'))).toBe(false);

    // A window holding only the excluded Monday finds nothing.
    expect(await caldav.fetchCalendarObjects({ calendar, timeRange: { start: '2027-01-18T00:00:00Z', end: '2027-01-19T00:00:00Z' } })).toEqual([]);
    // A window after COUNT ran out finds nothing either.
    expect(await caldav.fetchCalendarObjects({ calendar, timeRange: { start: '2027-03-15T00:00:00Z', end: '2027-04-01T00:00:00Z' } })).toEqual([]);
  });

  it('finds the address books, creates vCards and reads them back with addressbook-multiget', async () => {
    await carddav.makeCollection({
      url: `${carddav.account!.homeUrl}equipe/`,
      props: { [`d:resourcetype`]: { [`d:collection`]: {}, [`card:addressbook`]: {} }, [`d:displayname`]: 'Équipe du cabinet' },
    }).catch(() => undefined);
    let books = await carddav.fetchAddressBooks();
    let book = books.find((b) => b.url === `${carddav.account!.homeUrl}equipe/`);
    if (!book) {
      // tsdav's MKCOL has no extended body: make the address book as a CardDAV client that knows RFC 5689 would.
      const made = await fetch(`${carddav.account!.homeUrl}equipe/`, {
        method: 'MKCOL',
        headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`, 'content-type': 'application/xml; charset=utf-8' },
        body: '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Équipe du cabinet</D:displayname></D:prop></D:set></D:mkcol>',
      });
      expect(made.status).toBe(201);
      books = await carddav.fetchAddressBooks();
      book = books.find((b) => b.url === `${carddav.account!.homeUrl}equipe/`);
    }
    expect(book?.displayName).toBe('Équipe du cabinet');

    const card = (uid: string, fn: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${fn}\r\nN:${fn.split(' ')[1]};${fn.split(' ')[0]};;;\r\nitem1.EMAIL;type=INTERNET;type=pref:${uid}@finances.gouv.test\r\nitem1.X-ABLabel:bureau\r\nEND:VCARD\r\n`;
    const a = await carddav.createVCard({ addressBook: book!, filename: 'awa.vcf', vCardString: card('awa', 'Awa Diallo') });
    expect(a.status).toBe(201);
    expect((await carddav.createVCard({ addressBook: book!, filename: 'kofi.vcf', vCardString: card('kofi', 'Kofi Mensah') })).status).toBe(201);
    expect((await carddav.createVCard({ addressBook: book!, filename: 'awa.vcf', vCardString: card('awa', 'Écrasée') })).status).toBe(412);

    const got = await carddav.addressBookMultiGet({
      url: book!.url,
      props: { [`d:getetag`]: {}, [`card:address-data`]: {} },
      objectUrls: ['awa.vcf', 'kofi.vcf'].map((n) => new URL(`${book!.url}${n}`).pathname),
      depth: '1',
    });
    const data = got.map((r) => String(r.props?.addressData?._cdata ?? r.props?.addressData));
    expect(data).toHaveLength(2);
    // Stored byte for byte: Apple's grouped label and the repeated TYPE parameters are kept (tsdav's XML
    // reader trims the final CRLF of every text node).
    expect(data.find((d) => d.includes('UID:awa'))).toBe(card('awa', 'Awa Diallo').trimEnd());
    const all = await carddav.fetchVCards({ addressBook: book! });
    expect(all.map((v) => v.url).sort()).toEqual([`${book!.url}awa.vcf`, `${book!.url}kofi.vcf`]);
  });
});
