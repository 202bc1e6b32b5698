import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARIS_VTIMEZONE, makeSite, serveHttp, siteKinds, type ServedHttp, type Site } from './helpers.js';

/**
 * CalDAV/CardDAV written as the attacker, against a listening `palabre serve`: every request gets a
 * precise status (with the RFC 4791/6352 precondition where one is named), the server stays up and
 * answers quickly afterwards, and what was stored reads back unchanged.
 */

const ALICE = 'alice@interieur.gouv.test';
const BOB = 'bob@interieur.gouv.test';
const EVE = 'eve@defense.gouv.test';
const PASS = 'A long enough passphrase';
const C = 'urn:ietf:params:xml:ns:caldav';
const CR = 'urn:ietf:params:xml:ns:carddav';

const event = (uid: string, lines: string[] = [], start = 'DTSTART:20261207T090000Z') =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//attacker//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20261201T090000Z', start, 'DURATION:PT1H', 'SUMMARY:x', ...lines, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');

const query = (inner: string, data = '<C:calendar-data/>') =>
  `<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="${C}"><D:prop><D:getetag/>${data}</D:prop><C:filter><C:comp-filter name="VCALENDAR">${inner}</C:comp-filter></C:filter></C:calendar-query>`;

describe.each(siteKinds)('CalDAV/CardDAV attacked (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;
  const auth = (user: string) => `Basic ${Buffer.from(`${user}:${PASS}`).toString('base64')}`;
  const dav = (method: string, path: string, init: { body?: string | Buffer; user?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${served.origin}/dav${path}`, { method, headers: { authorization: auth(init.user ?? ALICE), ...init.headers }, body: init.body ?? null, signal: AbortSignal.timeout(30_000) });
  const put = (path: string, body: string | Buffer, user = ALICE, headers: Record<string, string> = {}) => dav('PUT', path, { body, user, headers: { 'content-type': 'text/calendar', ...headers } });
  const report = (path: string, body: string, user = ALICE, headers: Record<string, string> = {}) => dav('REPORT', path, { body, user, headers: { 'content-type': 'application/xml; charset=utf-8', depth: '1', ...headers } });

  /**
   * A big body sent as big uploads should be, with Expect: 100-continue: the body goes only once the server
   * asks for it, so a refusal is heard before it (fetch would report EPIPE instead of the answer).
   */
  const bigRequest = (method: string, path: string, body: Buffer | string, headers: Record<string, string>) =>
    new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), 30_000);
      const req = request(`${served.origin}/dav${path}`, { method, headers: { authorization: auth(ALICE), 'content-length': Buffer.byteLength(body), expect: '100-continue', ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          clearTimeout(timer);
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode! }));
        });
      });
      req.on('continue', () => req.end(body));
      req.on('error', () => undefined);
    });
  const bigPut = (path: string, body: Buffer | string, contentType = 'text/calendar') => bigRequest('PUT', path, body, { 'content-type': contentType });

  /** What a collection holds, as its owner reads it: its export and its sync token. */
  const snapshot = async (path: string, user: string) => {
    const res = await dav('GET', path, { user });
    const token = await dav('PROPFIND', path, { user, headers: { depth: '0' }, body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:sync-token/></D:prop></D:propfind>' });
    return `${res.status}\n${(await res.text()).replace(/^DTSTAMP:.*$/gm, '')}\n${await token.text()}`;
  };
  const listing = async (path: string, user: string) => {
    const res = await dav('PROPFIND', path, { user, headers: { depth: '1' }, body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>' });
    return [...(await res.text()).matchAll(/<d:href>([^<]*)<\/d:href>/gi)].map((m) => m[1]).sort();
  };
  const alive = async () => expect((await fetch(`${served.origin}/healthz`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
  /** The DAV:error body of a refusal names this precondition. */
  const refusedWith = async (res: Response, status: number, condition?: string) => {
    const text = await res.text();
    expect({ status: res.status, text: text.slice(0, 300) }).toMatchObject({ status });
    if (condition) expect(text).toMatch(new RegExp(`<([A-Za-z0-9]+:)?(${condition})\\b`));
  };

  let aliceBefore: string;
  let bobBefore: string;

  beforeAll(async () => {
    site = await makeSite(kind);
    for (const argv of [
      ['domain', 'add', 'interieur.gouv.test'],
      ['domain', 'add', 'defense.gouv.test'],
      ['user', 'add', ALICE, '--password', PASS],
      ['user', 'add', BOB, '--password', PASS],
      ['user', 'add', EVE, '--password', PASS],
    ]) {
      expect((await site.run(...argv)).code).toBe(0);
    }
    served = await serveHttp(site);
    const mk = (user: string, path: string) =>
      dav('MKCALENDAR', path, { user, headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><D:displayname>cal</D:displayname></D:prop></D:set></C:mkcalendar>` });
    expect((await mk(ALICE, `/calendars/${ALICE}/perso/`)).status).toBe(201);
    expect((await mk(ALICE, `/calendars/${ALICE}/travail/`)).status).toBe(201);
    expect((await mk(BOB, `/calendars/${BOB}/bureau/`)).status).toBe(201);
    expect((await put(`/calendars/${ALICE}/perso/a.ics`, event('alice-1'))).status).toBe(201);
    expect((await put(`/calendars/${BOB}/bureau/secret.ics`, event('bob-secret', ['DESCRIPTION:Nomination du préfet'], 'DTSTART:20261208T140000Z'), BOB)).status).toBe(201);
    const book = await dav('MKCOL', `/addressbooks/${ALICE}/contacts/`, {
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="${CR}"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>`,
    });
    expect(book.status).toBe(201);
    expect((await dav('PUT', `/addressbooks/${ALICE}/contacts/k.vcf`, { body: 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:k\r\nFN:Kofi\r\nEND:VCARD\r\n', headers: { 'content-type': 'text/vcard' } })).status).toBe(201);
    aliceBefore = await snapshot(`/calendars/${ALICE}/perso/`, ALICE);
    bobBefore = await snapshot(`/calendars/${BOB}/bureau/`, BOB);
  }, 120_000);

  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  const unchanged = async () => {
    await alive();
    expect(await snapshot(`/calendars/${ALICE}/perso/`, ALICE)).toBe(aliceBefore);
    expect(await snapshot(`/calendars/${BOB}/bureau/`, BOB)).toBe(bobBefore);
  };

  it('refuses malformed iCalendar with 403 valid-calendar-data, storing nothing', async () => {
    const bad = [
      event('no-end').replace('END:VCALENDAR\r\n', ''),
      event('bad-line', ['THIS LINE HAS NO COLON']),
      event('bad-date', [], 'DTSTART:2026-13-45T99:99:99'),
      `${'X'.repeat(1024 * 1024)}\r\n`,
      event('nul', ['DESCRIPTION:a\u0000b']),
      'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n',
      Buffer.from([0xff, 0xfe, 0x42, 0x45, 0x47, 0x49, 0x4e]),
    ];
    for (const [i, body] of bad.entries()) await refusedWith(await put(`/calendars/${ALICE}/perso/bad-${i}.ics`, body), 403, 'valid-calendar-(data|object-resource)');
    await unchanged();
  });

  it('keeps a long unfolded line within max-resource-size, and refuses one past it with 403 max-resource-size', async () => {
    const long = event('long-line', [`DESCRIPTION:${'a'.repeat(1024 * 1024)}`]);
    const res = await put(`/calendars/${ALICE}/travail/long.ics`, long);
    expect(res.status).toBe(201);
    const back = await dav('GET', `/calendars/${ALICE}/travail/long.ics`);
    expect(await back.text()).toBe(long);
    await refusedWith(await bigPut(`/calendars/${ALICE}/perso/huge.ics`, event('huge', [`DESCRIPTION:${'a'.repeat(3 * 1024 * 1024)}`])), 403, 'max-resource-size');
    await refusedWith(await bigPut(`/calendars/${ALICE}/perso/ten-mb.ics`, Buffer.alloc(10 * 1024 * 1024, 0x61)), 403, 'max-resource-size');
    await unchanged();
  });

  it('refuses 100,000 components and deep nesting with 403, storing nothing', async () => {
    const many = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//a//EN'];
    for (let i = 0; i < 20_000; i++) many.push('BEGIN:VEVENT', 'UID:m', `RECURRENCE-ID:2027${String((i % 12) + 1).padStart(2, '0')}01T${String(i % 24).padStart(2, '0')}0000Z`, 'DTSTART:20270101T000000Z', 'END:VEVENT');
    many.push('END:VCALENDAR', '');
    await refusedWith(await put(`/calendars/${ALICE}/perso/many.ics`, many.join('\r\n')), 403);

    const flat = [...event('flat').split('\r\n').slice(0, 8), 'BEGIN:X-A', ...Array.from({ length: 90_000 }, () => 'BEGIN:X-B\r\nEND:X-B'), 'END:X-A', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    await refusedWith(await put(`/calendars/${ALICE}/perso/flat.ics`, flat), 403, 'valid-calendar-(data|object-resource)');

    const depth = 40_000;
    const deep = [...event('deep').split('\r\n').slice(0, 8), ...Array.from({ length: depth }, () => 'BEGIN:X-N'), ...Array.from({ length: depth }, () => 'END:X-N'), 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    await refusedWith(await put(`/calendars/${ALICE}/perso/deep.ics`, deep), 403, 'valid-calendar-(data|object-resource)');
    const deepAlarm = [...event('deep-alarm').split('\r\n').slice(0, 8), 'BEGIN:VALARM', 'ACTION:DISPLAY', 'TRIGGER:-PT5M', 'BEGIN:X-N', 'BEGIN:X-N', 'END:X-N', 'END:X-N', 'END:VALARM', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    await refusedWith(await put(`/calendars/${ALICE}/perso/deep-alarm.ics`, deepAlarm), 403, 'valid-calendar-(data|object-resource)');
    await unchanged();
  });

  it('refuses FREQ=SECONDLY and rules that explode, and answers rules that search for ever in bounded time', async () => {
    await refusedWith(await put(`/calendars/${ALICE}/perso/sec.ics`, event('sec', ['RRULE:FREQ=SECONDLY'])), 403, 'valid-calendar-object-resource');
    await refusedWith(await put(`/calendars/${ALICE}/perso/min.ics`, event('min', ['RRULE:FREQ=MINUTELY;BYMONTH=1,2,3'])), 403, 'valid-calendar-object-resource');
    const all = (n: number) => Array.from({ length: n }, (_, i) => i).join(',');
    // 12 × 31 × 24 × 60 × 60 instances a year: bounded by the instance limits, stored, and each query answers.
    const explode = `RRULE:FREQ=YEARLY;BYMONTH=${all(13).slice(2)};BYMONTHDAY=${all(32).slice(2)};BYHOUR=${all(24)};BYMINUTE=${all(60)};BYSECOND=${all(60)}`;
    // Rules that match never or once in decades: ical.js searches thousands of years for them.
    const rare = ['RRULE:FREQ=YEARLY;BYMONTH=2;BYDAY=5MO;BYSETPOS=5', 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO', 'RRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO', 'RRULE:FREQ=MONTHLY;BYSETPOS=40;BYDAY=MO'];
    const bombs = [[explode], rare, [rare[1]!, rare[1]!, rare[1]!, rare[1]!]];
    for (const [i, rules] of bombs.entries()) {
      const res = await put(`/calendars/${ALICE}/travail/bomb-${i}.ics`, event(`bomb-${i}`, rules));
      expect([201, 403]).toContain(res.status);
      if (res.status === 403) expect(await res.text()).toMatch(/valid-calendar-object-resource/);
      await alive();
    }
    const expanded = await report(`/calendars/${ALICE}/travail/`, query('<C:comp-filter name="VEVENT"><C:time-range start="19000101T000000Z" end="99991231T000000Z"/></C:comp-filter>', '<C:calendar-data><C:expand start="19000101T000000Z" end="99991231T000000Z"/></C:calendar-data>'));
    expect([207, 403, 507]).toContain(expanded.status);
    await expanded.text();
    await alive();
    await unchanged();
  });

  it('bounds an expand of a big event repeating every day for ever', async () => {
    const big = event('big-daily', ['RRULE:FREQ=DAILY', `DESCRIPTION:${'b'.repeat(1024 * 1024)}`]);
    expect((await put(`/calendars/${ALICE}/travail/big-daily.ics`, big)).status).toBe(201);
    const res = await report(`/calendars/${ALICE}/travail/big-daily.ics`, query('<C:comp-filter name="VEVENT"><C:time-range start="20260101T000000Z" end="20560101T000000Z"/></C:comp-filter>', '<C:calendar-data><C:expand start="20260101T000000Z" end="20560101T000000Z"/></C:calendar-data>'), ALICE, { depth: '0' });
    const text = await res.text();
    // The instances a client would get would be 10 GB: the property is refused, not the server taken down.
    expect(res.status).toBe(207);
    expect(text.length).toBeLessThan(64 * 1024 * 1024);
    expect(text).toMatch(/<d:propstat><d:prop><C:calendar-data\/><\/d:prop><d:status>HTTP\/1\.1 403 Forbidden<\/d:status><d:error><C:max-instances\/><\/d:error>/);
    await alive();
    expect((await dav('DELETE', `/calendars/${ALICE}/travail/big-daily.ics`)).status).toBe(204);
  });

  it('bounds a calendar-query expanding many big daily events: the response, not the server, gives way', async () => {
    await dav('MKCALENDAR', `/calendars/${ALICE}/many-big/`);
    const description = `DESCRIPTION:${'m'.repeat(400 * 1024)}`;
    for (let i = 0; i < 40; i++) expect((await put(`/calendars/${ALICE}/many-big/e${i}.ics`, event(`many-big-${i}`, ['RRULE:FREQ=DAILY;COUNT=36', description]))).status).toBe(201);
    // 40 objects × 36 instances × 400 KB, each just under the bound of one object: 600 MB in one batch of responses.
    const res = await report(`/calendars/${ALICE}/many-big/`, query('<C:comp-filter name="VEVENT"><C:time-range start="20260101T000000Z" end="20300101T000000Z"/></C:comp-filter>', '<C:calendar-data><C:expand start="20260101T000000Z" end="20300101T000000Z"/></C:calendar-data>'));
    expect(res.status).toBe(207);
    const text = await res.text();
    expect(text.length).toBeLessThan(200 * 1024 * 1024);
    expect(text).toContain('</d:multistatus>');
    expect(text).toMatch(/<d:status>HTTP\/1\.1 403 Forbidden<\/d:status><d:error><C:max-instances\/><\/d:error>/);
    // Every object is answered, with its instances or with the refusal.
    expect(text.match(/<d:response>/g)).toHaveLength(40);
    await alive();
    expect((await dav('DELETE', `/calendars/${ALICE}/many-big/`)).status).toBe(204);
  });

  it('refuses invalid time ranges with 403 valid-filter, answers the widest one, and refuses unknown time zones', async () => {
    for (const range of ['start="99999999T999999Z" end="20270101T000000Z"', 'start="20270101T000000Z" end="20260101T000000Z"', 'start="yesterday"', 'start="2026-01-01T00:00:00Z" end="2027-01-01T00:00:00Z"']) {
      // RFC 4791 §7.8: a filter's time-range that is not one is CALDAV:valid-filter.
      await refusedWith(await report(`/calendars/${ALICE}/perso/`, query(`<C:comp-filter name="VEVENT"><C:time-range ${range}/></C:comp-filter>`)), 403, 'valid-filter');
    }
    const wide = await report(`/calendars/${ALICE}/perso/`, query('<C:comp-filter name="VEVENT"><C:time-range start="00010101T000000Z" end="99991231T235959Z"/></C:comp-filter>'));
    expect(wide.status).toBe(207);
    expect(await wide.text()).toContain('a.ics');
    // A query time zone that is not iCalendar, or a TZID nobody knows (RFC 7809 §5.2).
    const tz = (el: string) => `<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="${C}"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20261201T000000Z" end="20270101T000000Z"/></C:comp-filter></C:comp-filter></C:filter>${el}</C:calendar-query>`;
    await refusedWith(await report(`/calendars/${ALICE}/perso/`, tz('<C:timezone>not a calendar</C:timezone>')), 403, 'valid-calendar-data');
    await refusedWith(await report(`/calendars/${ALICE}/perso/`, tz('<C:timezone-id>Mars/Olympus_Mons</C:timezone-id>')), 403, 'valid-timezone');
    // An object whose TZID names no zone and brings no VTIMEZONE.
    await refusedWith(await put(`/calendars/${ALICE}/perso/mars.ics`, event('mars', [], 'DTSTART;TZID=Mars/Olympus_Mons:20261207T090000')), 403, 'valid-calendar-data');
    const manyRules = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//a//EN', 'BEGIN:VTIMEZONE', 'TZID:Bomb', ...Array.from({ length: 10_000 }, (_, i) => `BEGIN:STANDARD\r\nDTSTART:${1000 + (i % 8000)}0101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD`), 'END:VTIMEZONE', ...event('tz-bomb', [], 'DTSTART;TZID=Bomb:20261207T090000').split('\r\n').slice(3)];
    await refusedWith(await put(`/calendars/${ALICE}/perso/tz-bomb.ics`, manyRules.join('\r\n')), 403, 'valid-calendar-object-resource');
    await unchanged();
  });

  it('refuses 5,000 attendees and a calendar time zone that is none or a bomb, on MKCALENDAR and PROPPATCH', async () => {
    const attendees = Array.from({ length: 5000 }, (_, i) => `ATTENDEE;CN=Agent ${i};PARTSTAT=NEEDS-ACTION:mailto:agent${i}@interieur.gouv.test`);
    await refusedWith(await put(`/calendars/${ALICE}/perso/crowd.ics`, event('crowd', attendees)), 403, 'valid-calendar-object-resource');
    const vcal = (inner: string[]) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//a//EN', ...inner, 'END:VCALENDAR', ''].join('\r\n');
    const garbage = 'BEGIN:VTIMEZONE but not iCalendar at all';
    const bomb = vcal(['BEGIN:VTIMEZONE', 'TZID:Bomb', ...Array.from({ length: 2000 }, (_, i) => `BEGIN:STANDARD\r\nDTSTART:${1000 + i}0101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD`), 'END:VTIMEZONE']);
    const two = vcal(['BEGIN:VTIMEZONE', 'TZID:A', 'BEGIN:STANDARD', 'DTSTART:19700101T000000', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0100', 'END:STANDARD', 'END:VTIMEZONE', 'BEGIN:VEVENT', 'UID:x', 'DTSTART:20260101T000000Z', 'END:VEVENT']);
    const escape = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    for (const [i, tz] of [garbage, bomb, two].entries()) {
      const made = await dav('MKCALENDAR', `/calendars/${ALICE}/tz-${i}/`, { headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><C:calendar-timezone>${escape(tz)}</C:calendar-timezone></D:prop></D:set></C:mkcalendar>` });
      expect(made.status).toBe(403);
      expect(await made.text()).toMatch(/valid-calendar-data/);
      const patched = await dav('PROPPATCH', `/calendars/${ALICE}/perso/`, { headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><C:calendar-timezone>${escape(tz)}</C:calendar-timezone></D:prop></D:set></D:propertyupdate>` });
      expect(patched.status).toBe(207);
      expect(await patched.text()).toMatch(/HTTP\/1\.1 403[\s\S]*valid-calendar-data/);
    }
    expect((await listing(`/calendars/${ALICE}/`, ALICE)).filter((h) => /tz-\d/.test(h!))).toEqual([]);
    // What Apple Calendar and Thunderbird send is kept.
    const paris = vcal(PARIS_VTIMEZONE);
    const good = await dav('MKCALENDAR', `/calendars/${ALICE}/tz-paris/`, { headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><C:calendar-timezone>${escape(paris)}</C:calendar-timezone></D:prop></D:set></C:mkcalendar>` });
    expect(good.status).toBe(201);
    const read = await dav('PROPFIND', `/calendars/${ALICE}/tz-paris/`, { headers: { depth: '0' }, body: `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="${C}"><D:prop><C:calendar-timezone/></D:prop></D:propfind>` });
    expect(await read.text()).toContain('TZID:Europe/Paris');
    expect((await dav('DELETE', `/calendars/${ALICE}/tz-paris/`)).status).toBe(204);
    const made = await dav('MKCALENDAR', `/calendars/${ALICE}/vfoo/`, { headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><C:supported-calendar-component-set><C:comp name="VFOO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>` });
    expect(made.status).toBe(403);
    expect(await made.text()).toMatch(/supported-calendar-component/);
    await unchanged();
  });

  it('refuses a sync-collection limit that is no positive number with 400', async () => {
    for (const n of ['0', '-1', 'many', '1e400', '']) {
      const res = await report(`/calendars/${ALICE}/perso/`, `<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:limit><D:nresults>${n}</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>`, ALICE, { depth: '0' });
      expect(res.status).toBe(400);
    }
    await unchanged();
  });

  it('answers a UID already used in the calendar with 409 no-uid-conflict naming it; other calendars and users are separate', async () => {
    const res = await put(`/calendars/${ALICE}/perso/other-name.ics`, event('alice-1'));
    expect(res.status).toBe(409);
    const text = await res.text();
    expect(text).toMatch(/<[A-Za-z]+:no-uid-conflict>\s*<[A-Za-z]+:href>[^<]*\/calendars\/alice@interieur\.gouv\.test\/perso\/a\.ics<\/[A-Za-z]+:href>/);
    await unchanged();
    // The same UID in another calendar, or one of Bob's UIDs in Alice's calendar, is another object (RFC 4791 §5.3.2.1).
    expect((await put(`/calendars/${ALICE}/travail/same-uid.ics`, event('alice-1'))).status).toBe(201);
    expect((await put(`/calendars/${ALICE}/travail/bobs-uid.ics`, event('bob-secret', ['SUMMARY:fake']))).status).toBe(201);
    expect(await snapshot(`/calendars/${BOB}/bureau/`, BOB)).toBe(bobBefore);
    // A MOVE that would bring a second object with the UID into a calendar is refused the same way.
    const moved = await dav('MOVE', `/calendars/${ALICE}/travail/same-uid.ics`, { headers: { destination: `${served.origin}/dav/calendars/${ALICE}/perso/moved.ics` } });
    expect([409, 403]).toContain(moved.status);
    await unchanged();
  });

  it('refuses vCard garbage with 403 valid-address-data or supported-address-data', async () => {
    const cards: [string, string][] = [
      ['BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nEND:VCARD\r\n', 'valid-address-data'],
      ['BEGIN:VCARD\r\nVERSION:2.1\r\nUID:x\r\nFN:x\r\nEND:VCARD\r\n', 'supported-address-data'],
      ['BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:x\r\n', 'valid-address-data'],
      ['BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:x\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nUID:y\r\nFN:y\r\nEND:VCARD\r\n', 'valid-address-data'],
      ['BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:x\r\nBEGIN:VCARD\r\nEND:VCARD\r\nEND:VCARD\r\n', 'valid-address-data'],
      [event('not-a-card'), 'valid-address-data'],
      ['BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:\u0007bell\r\nEND:VCARD\r\n', 'valid-address-data'],
      [`BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:x\r\n${'NOTE:n\r\n'.repeat(5000)}END:VCARD\r\n`, 'valid-address-data'],
    ];
    for (const [i, [body, condition]] of cards.entries()) await refusedWith(await dav('PUT', `/addressbooks/${ALICE}/contacts/g${i}.vcf`, { body, headers: { 'content-type': 'text/vcard' } }), 403, condition);
    await refusedWith(await bigPut(`/addressbooks/${ALICE}/contacts/big.vcf`, `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nFN:b\r\nPHOTO;ENCODING=b:${'A'.repeat(2 * 1024 * 1024)}\r\nEND:VCARD\r\n`, 'text/vcard'), 403, 'max-resource-size');
    expect((await listing(`/addressbooks/${ALICE}/contacts/`, ALICE)).filter((h) => h!.endsWith('.vcf'))).toEqual([`/dav/addressbooks/${ALICE}/contacts/k.vcf`]);
  });

  it('refuses XML bombs and oversized REPORT bodies, and unknown reports with 403 supported-report', async () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><C:calendar-query xmlns:D="DAV:" xmlns:C="${C}"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="&c;"/></C:filter></C:calendar-query>`;
    expect((await report(`/calendars/${ALICE}/perso/`, laughs)).status).toBe(400);
    const external = `<?xml version="1.0"?><!DOCTYPE q [<!ENTITY x SYSTEM "file:///etc/passwd">]><C:calendar-multiget xmlns:D="DAV:" xmlns:C="${C}"><D:prop><C:calendar-data/></D:prop><D:href>&x;</D:href></C:calendar-multiget>`;
    expect((await report(`/calendars/${ALICE}/perso/`, external)).status).toBe(400);
    const nested = `<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="${C}"><D:prop><D:getetag/></D:prop><C:filter>${'<C:comp-filter name="VCALENDAR">'.repeat(5000)}${'</C:comp-filter>'.repeat(5000)}</C:filter></C:calendar-query>`;
    expect((await report(`/calendars/${ALICE}/perso/`, nested)).status).toBe(400);
    const hrefs = `<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="${C}"><D:prop><D:getetag/></D:prop>${`<D:href>/dav/calendars/${ALICE}/perso/a.ics</D:href>`.repeat(60_000)}</C:calendar-multiget>`;
    expect((await bigRequest('REPORT', `/calendars/${ALICE}/perso/`, hrefs, { 'content-type': 'application/xml', depth: '1' })).status).toBe(413);
    const evil = await report(`/calendars/${ALICE}/perso/`, '<?xml version="1.0"?><x:evil-report xmlns:x="urn:evil"/>');
    await refusedWith(evil, 403, 'supported-report');
    await refusedWith(await report(`/addressbooks/${ALICE}/contacts/`, query('')), 403, 'supported-report');
    expect((await report(`/calendars/${ALICE}/perso/`, '<not xml')).status).toBe(400);
    expect((await report(`/calendars/${ALICE}/perso/`, '')).status).toBe(400);
    await unchanged();
  });

  it('refuses forged, foreign, future and garbage sync tokens with 403 valid-sync-token', async () => {
    const tokenOf = async (path: string, user: string) => /<d:sync-token>([^<]+)<\/d:sync-token>/.exec(await (await dav('PROPFIND', path, { user, headers: { depth: '0' }, body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:sync-token/></D:prop></D:propfind>' })).text())![1]!;
    const mine = await tokenOf(`/calendars/${ALICE}/perso/`, ALICE);
    const bobs = await tokenOf(`/calendars/${BOB}/bureau/`, BOB);
    const sync = (token: string) => `<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`;
    const future = mine.replace(/\/(\d+)$/, (_, n) => `/${Number(n) + 1000}`);
    for (const token of [bobs, future, mine.replace(/\/\d+$/, '/-1'), mine.replace(/\/\d+$/, '/99999999999999999999'), `${mine}/../../x`, 'http://evil.example/sync/1', '0', 'data:,1', 'x'.repeat(10_000)]) {
      await refusedWith(await report(`/calendars/${ALICE}/perso/`, sync(token), ALICE, { depth: '0' }), 403, 'valid-sync-token');
    }
    // Bob's own token on Bob's calendar, asked by Alice: she learns nothing of it.
    const hers = await report(`/calendars/${BOB}/bureau/`, sync(bobs), ALICE, { depth: '0' });
    expect([403, 404]).toContain(hers.status);
    expect(await hers.text()).not.toContain('secret.ics');
    await unchanged();
  });

  it("never lets Alice write into Bob's calendar or home, nor read his events", async () => {
    const theirs = await put(`/calendars/${BOB}/bureau/x.ics`, event('x'));
    expect([403, 404, 409]).toContain(theirs.status);
    // Someone of another domain cannot tell Bob's calendar from one that does not exist.
    const outsider = await put(`/calendars/${BOB}/bureau/x.ics`, event('x'), EVE);
    const none = await put(`/calendars/${BOB}/nothing/x.ics`, event('x'), EVE);
    expect([403, 404, 409]).toContain(outsider.status);
    expect(outsider.status).toBe(none.status);
    expect((await put(`/calendars/${BOB}/bureau/secret.ics`, event('bob-secret', ['SUMMARY:pwned']), ALICE, { 'if-match': '*' })).status).toBe(theirs.status);
    expect([403, 404]).toContain((await dav('DELETE', `/calendars/${BOB}/bureau/secret.ics`)).status);
    expect([403, 404]).toContain((await dav('DELETE', `/calendars/${BOB}/bureau/`)).status);
    const mkcal = await dav('MKCALENDAR', `/calendars/${BOB}/pwned/`, { headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"/>` });
    // Bob's home is not there for Alice (she has only free-busy on his calendars): no parent, 409.
    expect([403, 404, 409]).toContain(mkcal.status);
    const mkcol = await dav('MKCOL', `/addressbooks/${BOB}/pwned/`, { headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="${CR}"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>` });
    expect([403, 404, 409]).toContain(mkcol.status);
    expect([403, 404]).toContain((await dav('PROPPATCH', `/calendars/${BOB}/bureau/`, { headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>pwned</D:displayname></D:prop></D:set></D:propertyupdate>' })).status);
    // Copying Bob's event out, or moving one of Alice's into Bob's calendar.
    expect([403, 404]).toContain((await dav('COPY', `/calendars/${BOB}/bureau/secret.ics`, { headers: { destination: `${served.origin}/dav/calendars/${ALICE}/perso/stolen.ics` } })).status);
    expect([403, 404, 409]).toContain((await dav('MOVE', `/calendars/${ALICE}/perso/a.ics`, { headers: { destination: `${served.origin}/dav/calendars/${BOB}/bureau/planted.ics` } })).status);
    // Reading: GET, multiget and calendar-query of Bob's calendar give nothing.
    expect((await dav('GET', `/calendars/${BOB}/bureau/secret.ics`)).status).toBe(404);
    const multi = await report(`/calendars/${ALICE}/perso/`, `<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="${C}"><D:prop><C:calendar-data/></D:prop><D:href>/dav/calendars/${BOB}/bureau/secret.ics</D:href></C:calendar-multiget>`);
    expect(await multi.text()).not.toContain('Nomination');
    const q = await report(`/calendars/${BOB}/bureau/`, query('<C:comp-filter name="VEVENT"/>'));
    expect(await q.text().then((t) => (q.status === 207 ? t : ''))).not.toContain('Nomination');
    expect(await listing(`/calendars/${BOB}/`, BOB)).toEqual([`/dav/calendars/${BOB}/`, `/dav/calendars/${BOB}/bureau/`]);
    await unchanged();
  });

  it("never gets another user's objects through a multiget, whatever the href's spelling, and bounds a multiget of 10,000 hrefs", async () => {
    const multiget = (hrefs: string[], user = ALICE, at = `/calendars/${ALICE}/perso/`) =>
      report(at, `<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="${C}"><D:prop><D:getetag/><C:calendar-data/></D:prop>${hrefs.map((h) => `<D:href>${h}</D:href>`).join('')}</C:calendar-multiget>`, user);
    const theirs = [
      `/dav/calendars/${BOB}/bureau/secret.ics`,
      `/dav/calendars/${BOB.toUpperCase()}/bureau/secret.ics`,
      `/dav/calendars/${BOB.replace('@', '%40')}/bureau/secret.ics`,
      `/dav/calendars/${ALICE}/perso/../../${BOB}/bureau/secret.ics`,
      `/dav/calendars/${ALICE}/perso/%2e%2e/%2e%2e/${BOB}/bureau/secret.ics`,
      `/dav/calendars/${ALICE}/perso/..%2f..%2f${BOB}%2fbureau%2fsecret.ics`,
      `/dav/calendars/${BOB}/bureau/secret.ics/`,
      `/dav/files/${BOB}/../../calendars/${BOB}/bureau/secret.ics`,
    ];
    // Mixed with one of her own in one request: hers is answered, each of Bob's is a bare 404 for the href as sent.
    const mixed = await multiget([`/dav/calendars/${ALICE}/perso/a.ics`, ...theirs]);
    expect(mixed.status).toBe(207);
    const text = await mixed.text();
    expect(text).toContain('UID:alice-1');
    expect(text).not.toMatch(/Nomination|bob-secret/);
    expect(text.match(/<d:response>/g)).toHaveLength(theirs.length + 1);
    expect(text.match(/HTTP\/1\.1 404/g)).toHaveLength(theirs.length);
    // Someone of another domain, at Bob's own calendar, gets nothing of it either.
    const outsider = await multiget([`/dav/calendars/${BOB}/bureau/secret.ics`], EVE, `/calendars/${BOB}/bureau/`);
    expect(await outsider.text()).not.toMatch(/Nomination|bob-secret/);
    expect([403, 404]).toContain(outsider.status);
    // 10,000 hrefs: refused whole with the precondition; 5,000 (the bound) answered, each for itself.
    await refusedWith(await multiget(Array.from({ length: 10_000 }, (_, i) => `/dav/calendars/${BOB}/bureau/${i}.ics`)), 403, 'max-hrefs');
    const bounded = await multiget(Array.from({ length: 5_000 }, (_, i) => (i % 2 ? `/dav/calendars/${BOB}/bureau/secret.ics` : `/dav/calendars/${ALICE}/perso/${i}.ics`)));
    expect(bounded.status).toBe(207);
    const boundedText = await bounded.text();
    expect(boundedText.match(/HTTP\/1\.1 404/g)).toHaveLength(5_000);
    expect(boundedText).not.toMatch(/Nomination|bob-secret/);
    await unchanged();
  });

  it('never answers a listing from another state of the calendar, nor to someone who may not read it', async () => {
    const listEtags = async (user: string, path = `/calendars/${ALICE}/liste/`) => {
      const res = await dav('PROPFIND', path, { user, headers: { depth: '1' }, body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/></D:prop></D:propfind>' });
      const body = res.status === 207 ? await res.text() : '';
      return { status: res.status, items: [...body.matchAll(/<d:href>([^<]*\.ics)<\/d:href><d:propstat><d:prop><d:getetag>([^<]*)</g)].map((m) => `${m[1]!.split('/').pop()} ${m[2]}`) };
    };
    const made = await dav('MKCALENDAR', `/calendars/${ALICE}/liste/`, { headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"/>` });
    expect(made.status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await put(`/calendars/${ALICE}/liste/t${i}.ics`, event(`travail-${i}`))).status).toBe(201);
    const first = await listEtags(ALICE);
    expect(first.items).toHaveLength(3);
    expect(await listEtags(ALICE)).toEqual(first);
    // Each change is in the very next listing: a new object, one rewritten (new ETag), one deleted.
    expect((await put(`/calendars/${ALICE}/liste/t3.ics`, event('travail-3'))).status).toBe(201);
    expect((await listEtags(ALICE)).items).toHaveLength(4);
    expect((await put(`/calendars/${ALICE}/liste/t0.ics`, event('travail-0', ['LOCATION:ailleurs']))).status).toBe(204);
    const rewritten = await listEtags(ALICE);
    expect(rewritten.items.find((x) => x.startsWith('t0.ics'))).not.toBe(first.items.find((x) => x.startsWith('t0.ics')));
    expect((await dav('DELETE', `/calendars/${ALICE}/liste/t1.ics`)).status).toBe(204);
    expect((await listEtags(ALICE)).items.map((x) => x.split(' ')[0])).toEqual(['t0.ics', 't2.ics', 't3.ics']);
    // Listed just now by its owner: a colleague (free-busy only) and someone of another domain list nothing of it.
    for (const user of [BOB, EVE]) {
      const theirs = await listEtags(user);
      expect(theirs.items).toEqual([]);
      expect([207, 403, 404]).toContain(theirs.status);
    }
    expect((await dav('DELETE', `/calendars/${ALICE}/liste/`)).status).toBe(204);
    await unchanged();
  });

  it('answers free-busy to a colleague of the domain without details, and nothing to someone of another domain', async () => {
    const fb = `<?xml version="1.0"?><C:free-busy-query xmlns:C="${C}"><C:time-range start="20261201T000000Z" end="20270101T000000Z"/></C:free-busy-query>`;
    const colleague = await report(`/calendars/${BOB}/bureau/`, fb, ALICE, { depth: '1' });
    expect(colleague.status).toBe(200);
    const text = await colleague.text();
    expect(text).toMatch(/FREEBUSY[^:\r\n]*:20261208T140000Z\/20261208T150000Z/);
    expect(text).not.toMatch(/Nomination|SUMMARY|bob-secret/);
    const outsider = await report(`/calendars/${BOB}/bureau/`, fb, EVE, { depth: '1' });
    const nobody = await report(`/calendars/${BOB}/nothing/`, fb, EVE, { depth: '1' });
    expect(outsider.status).toBe(404);
    expect(nobody.status).toBe(404);
    expect(await outsider.text()).toBe(await nobody.text());
    expect((await report(`/calendars/${BOB}/`, fb, EVE, { depth: '1' })).status).toBe(404);
    // A free-busy range the size of history is still one bounded answer.
    const wide = await report(`/calendars/${BOB}/bureau/`, fb.replace('20261201T000000Z', '00010101T000000Z').replace('20270101T000000Z', '99991231T000000Z'), ALICE, { depth: '1' });
    expect([200, 403]).toContain(wide.status);
    await unchanged();
  });
});
