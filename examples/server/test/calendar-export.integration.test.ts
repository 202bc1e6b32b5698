import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARIS_VTIMEZONE as PARIS, makeSite, serveHttp, siteKinds, type ServedHttp, type Site } from './helpers.js';

const USER = 'secretariat@interieur.gouv.test';
const OTHER = 'agent@interieur.gouv.test';
const PASS = 'A long enough passphrase';
const auth = (user = USER) => `Basic ${Buffer.from(`${user}:${PASS}`).toString('base64')}`;

const event = (uid: string, summary: string, zone = true) =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Apple Inc.//macOS 15//EN',
    ...(zone ? PARIS : []),
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20261201T090000Z',
    zone ? 'DTSTART;TZID=Europe/Paris:20261207T100000' : 'DTSTART:20261207T090000Z',
    'DURATION:PT1H',
    `SUMMARY:${summary}`,
    // A folded line: it must stay with its property.
    'DESCRIPTION:Ordre du jour : budget, nominations, questions diverses et poi',
    ' nts d’information',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

/**
 * GET of a whole calendar or address book (issue 13 §2, "ICS export"): what a subscribing client or a
 * user saving a copy receives, read back with ical.js, and who may have it.
 */
describe.each(siteKinds)('calendar and address-book export on GET (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;
  const dav = (method: string, path: string, init: { body?: string; user?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${served.origin}/dav${path}`, { method, headers: { authorization: auth(init.user), ...init.headers }, body: init.body ?? null });

  beforeAll(async () => {
    site = await makeSite(kind);
    for (const argv of [['domain', 'add', 'interieur.gouv.test'], ['user', 'add', USER, '--password', PASS], ['user', 'add', OTHER, '--password', PASS]]) {
      expect((await site.run(...argv)).code).toBe(0);
    }
    served = await serveHttp(site);
    const made = await dav('MKCALENDAR', `/calendars/${USER}/cabinet/`, {
      headers: { 'content-type': 'application/xml; charset=utf-8' },
      body: '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Cabinet du préfet</D:displayname></D:prop></D:set></C:mkcalendar>',
    });
    expect(made.status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const put = await dav('PUT', `/calendars/${USER}/cabinet/e${i}.ics`, { body: event(`uid-${i}`, `Réunion ${i}`, i !== 2), headers: { 'content-type': 'text/calendar' } });
      expect(put.status).toBe(201);
    }
  }, 120_000);
  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it('answers one VCALENDAR holding every event once and each time zone once, named after the calendar', async () => {
    const res = await dav('GET', `/calendars/${USER}/cabinet/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/calendar/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="Cabinet du pr_fet\.ics"; filename\*=UTF-8''Cabinet%20du%20pr%C3%A9fet\.ics$/);
    const text = await res.text();
    expect(text.match(/BEGIN:VCALENDAR/g)).toHaveLength(1);
    const root = new ICAL.Component(ICAL.parse(text));
    expect(root.getAllSubcomponents('vtimezone')).toHaveLength(1);
    const events = root.getAllSubcomponents('vevent');
    expect(events.map((e) => e.getFirstPropertyValue('uid')).sort()).toEqual(['uid-0', 'uid-1', 'uid-2']);
    expect(events[0]!.getFirstPropertyValue('description')).toBe('Ordre du jour : budget, nominations, questions diverses et points d’information');
    expect(root.getFirstPropertyValue('x-wr-calname')).toBe('Cabinet du préfet');
    // The zone is written before the events that use it, for importers that read in one pass.
    expect(text.indexOf('BEGIN:VTIMEZONE')).toBeLessThan(text.indexOf('BEGIN:VEVENT'));
    expect(text.split('\r\n').every((line) => Buffer.byteLength(line) <= 75)).toBe(true);
  });

  it('honours HEAD and If-None-Match with the collection ETag, and changes it when an event changes', async () => {
    const head = await dav('HEAD', `/calendars/${USER}/cabinet/`);
    expect(head.status).toBe(200);
    const etag = head.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await dav('GET', `/calendars/${USER}/cabinet/`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await dav('PUT', `/calendars/${USER}/cabinet/e3.ics`, { body: event('uid-3', 'Ajout'), headers: { 'content-type': 'text/calendar' } })).status).toBe(201);
    const after = await dav('GET', `/calendars/${USER}/cabinet/`, { headers: { 'if-none-match': etag } });
    expect(after.status).toBe(200);
    expect(await after.text()).toContain('UID:uid-3');
  });

  it('exports an address book as its vCards one after the other', async () => {
    const made = await dav('MKCOL', `/addressbooks/${USER}/equipe/`, {
      headers: { 'content-type': 'application/xml; charset=utf-8' },
      body: '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>',
    });
    expect(made.status).toBe(201);
    for (const [name, fn] of [['a', 'Awa Diallo'], ['b', 'Kofi Mensah']] as const) {
      const card = `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${name}\r\nFN:${fn}\r\nN:${fn.split(' ')[1]};${fn.split(' ')[0]};;;\r\nEND:VCARD\r\n`;
      expect((await dav('PUT', `/addressbooks/${USER}/equipe/${name}.vcf`, { body: card, headers: { 'content-type': 'text/vcard' } })).status).toBe(201);
    }
    const res = await dav('GET', `/addressbooks/${USER}/equipe/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/vcard/);
    const text = await res.text();
    expect(text.match(/BEGIN:VCARD\r\n/g)).toHaveLength(2);
    expect(text).toContain('FN:Awa Diallo\r\n');
    expect(text).toContain('FN:Kofi Mensah\r\n');
  });

  it('gives another agent of the domain nothing: 404, as for a calendar that does not exist', async () => {
    const theirs = await dav('GET', `/calendars/${USER}/cabinet/`, { user: OTHER });
    const none = await dav('GET', `/calendars/${USER}/nothing-here/`, { user: OTHER });
    expect(theirs.status).toBe(404);
    expect(none.status).toBe(404);
    expect(await theirs.text()).toBe(await none.text());
    expect((await dav('GET', `/addressbooks/${USER}/equipe/`, { user: OTHER })).status).toBe(404);
    expect((await fetch(`${served.origin}/dav/calendars/${USER}/cabinet/`)).status).toBe(401);
  });

  it('keeps the engine GET for a home', async () => {
    const res = await dav('GET', `/calendars/${USER}/`);
    expect(res.headers.get('content-type') ?? '').not.toMatch(/calendar/);
  });
});
