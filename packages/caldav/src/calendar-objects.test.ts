import { describe, expect, it, beforeEach } from 'vitest';
import { MemoryCalendarStore, MemoryDirectoryStore, MemoryUsageStore, fixedClock } from '@palabre/core/testing';
import type { CalendarCollection } from '@palabre/core';
import { CalendarObjects, parseTimeRange, zoneOfCollection } from './calendar-objects.js';
import type { CompFilter } from './icalendar/calendar-filter.js';
import { CalendarDataError, parseCalendarObject } from './icalendar/calendar-object.js';
import { CardDataError } from './vcard/vcard.js';

const cal = (...lines: string[]) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');
const ev = (uid: string, ...lines: string[]) => cal('BEGIN:VEVENT', `UID:${uid}`, ...lines, 'END:VEVENT');
const PARIS_TZ = cal('BEGIN:VTIMEZONE', 'TZID:Europe/Paris', 'BEGIN:STANDARD', 'DTSTART:19701025T030000', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'END:STANDARD', 'END:VTIMEZONE');
const q = (start: string, end: string, component = 'VEVENT'): CompFilter => ({
  name: 'VCALENDAR', isNotDefined: false, timeRange: null, propFilters: [],
  compFilters: [{ name: component, isNotDefined: false, timeRange: parseTimeRange(start, end), propFilters: [], compFilters: [] }],
});

describe('CalendarObjects', () => {
  let objects: CalendarObjects;
  let calendar: CalendarCollection;
  let book: CalendarCollection;
  beforeEach(async () => {
    const directory = new MemoryDirectoryStore();
    await directory.createDomain({ name: 'sante.gouv.tg' });
    const awa = await directory.createAccount({ address: 'awa@sante.gouv.tg' });
    const store = new MemoryCalendarStore({ directory, usage: new MemoryUsageStore() });
    objects = new CalendarObjects({ store, clock: fixedClock(new Date('2026-06-01T00:00:00Z')) });
    calendar = await store.createCollection(awa.id, { kind: 'calendar', name: 'agenda', timezone: PARIS_TZ });
    book = await store.createCollection(awa.id, { kind: 'addressbook', name: 'contacts' });
  });

  const names = async (filter: CompFilter) => {
    const out: string[] = [];
    for await (const hit of objects.calendarQuery(calendar, filter, { zone: zoneOfCollection(calendar), withData: false })) out.push(hit.object.name);
    return out;
  };

  it('answers from the index, and parses only what it cannot decide (floating, open series, tasks)', async () => {
    await objects.put(calendar, 'a.ics', ev('a', 'DTSTART:20260610T090000Z', 'DTEND:20260610T100000Z'));
    await objects.put(calendar, 'allday.ics', ev('allday', 'DTSTART;VALUE=DATE:20260611'));
    await objects.put(calendar, 'daily.ics', ev('daily', 'DTSTART:20100101T120000Z', 'DURATION:PT1H', 'RRULE:FREQ=DAILY'));
    await objects.put(calendar, 'todo.ics', cal('BEGIN:VTODO', 'UID:todo', 'DUE:20260612T120000Z', 'END:VTODO'));
    expect(await names(q('20260610T000000Z', '20260610T215900Z'))).toEqual(['a.ics', 'daily.ics']);
    // An all-day event is a Paris day: 10 June 22:00Z to 11 June 22:00Z.
    expect(await names(q('20260610T215900Z', '20260610T220100Z'))).toEqual(['allday.ics']);
    expect(await names(q('20260611T220000Z', '20260611T230000Z'))).toEqual([]);
    // The daily series started in 2010: its stored instances stop in 2012, the rule answers for 2026.
    expect(await names(q('20260615T120000Z', '20260615T123000Z'))).toEqual(['daily.ics']);
    expect(await names(q('20260615T130000Z', '20260615T140000Z'))).toEqual([]);
    expect(await names(q('20260612T110000Z', '20260612T130000Z', 'VTODO'))).toEqual(['todo.ics']);
    expect(await names(q('20260613T000000Z', '20260614T000000Z', 'VTODO'))).toEqual([]);
  });

  it('refuses what a calendar cannot hold with the precondition to report, and stores nothing', async () => {
    await expect(objects.put(calendar, 'x.ics', 'garbage')).rejects.toBeInstanceOf(CalendarDataError);
    await expect(objects.put(calendar, 'x.ics', ev('x', 'DTSTART:20260101T000000Z', 'RRULE:FREQ=SECONDLY'))).rejects.toBeInstanceOf(CalendarDataError);
    await expect(objects.put(book, 'x.vcf', ev('x', 'DTSTART:20260101T000000Z'))).rejects.toBeInstanceOf(CardDataError);
    await objects.put(calendar, 'one.ics', ev('same', 'DTSTART:20260101T000000Z'));
    await expect(objects.put(calendar, 'two.ics', ev('same', 'DTSTART:20260101T000000Z'))).rejects.toMatchObject({ detail: { reason: 'uid-conflict', name: 'one.ics' } });
    expect((await objects.store.listObjects(calendar.id)).map((o) => o.name)).toEqual(['one.ics']);
  });

  it('finds cards by their text', async () => {
    await objects.put(book, 'awa.vcf', ['BEGIN:VCARD', 'VERSION:4.0', 'UID:awa', 'FN:Awa Kodjo', 'EMAIL:awa@sante.gouv.tg', 'END:VCARD', ''].join('\r\n'));
    await objects.put(book, 'kofi.vcf', ['BEGIN:VCARD', 'VERSION:3.0', 'UID:kofi', 'FN:Kofi Mensah', 'N:Mensah;Kofi;;;', 'END:VCARD', ''].join('\r\n'));
    const found: string[] = [];
    const filter = { test: 'anyof' as const, propFilters: [{ name: 'FN', test: 'anyof' as const, isNotDefined: false, textMatches: [{ value: 'KOFI', collation: 'i;unicode-casemap' as const, matchType: 'contains' as const, negate: false }], paramFilters: [] }] };
    for await (const hit of objects.addressQuery(book, filter, {})) found.push(hit.object.name);
    expect(found).toEqual(['kofi.vcf']);
  });

  it('answers free-busy from the calendars', async () => {
    await objects.put(calendar, 'a.ics', ev('a', 'DTSTART:20260610T090000Z', 'DTEND:20260610T100000Z'));
    const fb = await objects.freeBusy([calendar], { start: Date.parse('2026-06-10T00:00:00Z'), end: Date.parse('2026-06-11T00:00:00Z') }, null);
    expect(fb).toContain('FREEBUSY:20260610T090000Z/20260610T100000Z');
  });

  it('reads time-range bounds strictly', () => {
    expect(parseTimeRange('20260101T000000Z', undefined)).toEqual({ start: Date.parse('2026-01-01T00:00:00Z'), end: null });
    expect(() => parseTimeRange('2026-01-01', undefined)).toThrow(CalendarDataError);
    expect(() => parseTimeRange(undefined, undefined)).toThrow(CalendarDataError);
    expect(() => parseTimeRange('20260102T000000Z', '20260101T000000Z')).toThrow(CalendarDataError);
  });
});

describe('time zones an object names', () => {
  const at = (tzid: string, zone: string[] = []) => cal(...zone, 'BEGIN:VEVENT', 'UID:z', `DTSTART;TZID=${tzid}:20260105T090000`, 'END:VEVENT');
  // What clients send without a VTIMEZONE (RFC 7809), Outlook's and Windows' names, offsets in the name.
  it.each(['Europe/Paris', 'Europe/Paris ', 'Africa/Lome', 'US/Eastern', 'W. Europe Standard Time', '"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"', 'GMT+0100', 'Etc/GMT-1', '/freeassociation.sourceforge.net/Tzfile/Europe/Paris'])('accepts TZID=%s', (tzid) => {
    expect(() => parseCalendarObject(at(tzid))).not.toThrow();
  });
  it('accepts any TZID its own VTIMEZONE defines', () => {
    expect(() => parseCalendarObject(at('Mon fuseau', ['BEGIN:VTIMEZONE', 'TZID:Mon fuseau', 'BEGIN:STANDARD', 'DTSTART:19700101T000000', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0100', 'END:STANDARD', 'END:VTIMEZONE']))).not.toThrow();
  });
  it('refuses a TZID that names no zone with valid-calendar-data (it would be read as floating time)', () => {
    expect(() => parseCalendarObject(at('Mars/Olympus_Mons'))).toThrow(expect.objectContaining({ condition: 'valid-calendar-data' }));
  });
});

describe('the shape of an object', () => {
  const withInside = (inside: string[]) => cal('BEGIN:VEVENT', 'UID:s', 'DTSTART:20260105T090000Z', ...inside, 'END:VEVENT');
  it('accepts a VEVENT > PARTICIPANT > VLOCATION (RFC 9073)', () => {
    expect(() => parseCalendarObject(withInside(['BEGIN:PARTICIPANT', 'UID:p', 'PARTICIPANT-TYPE:ACTIVE', 'BEGIN:VLOCATION', 'UID:l', 'NAME:Salle', 'END:VLOCATION', 'END:PARTICIPANT']))).not.toThrow();
  });
  it('refuses deeper nesting and thousands of nested components', () => {
    expect(() => parseCalendarObject(withInside(['BEGIN:X-A', 'BEGIN:X-B', 'BEGIN:X-C', 'END:X-C', 'END:X-B', 'END:X-A']))).toThrow(expect.objectContaining({ condition: 'valid-calendar-data' }));
    expect(() => parseCalendarObject(withInside(['BEGIN:X-A', ...Array.from({ length: 6000 }, () => 'BEGIN:X-B\r\nEND:X-B'), 'END:X-A']))).toThrow(expect.objectContaining({ condition: 'valid-calendar-object-resource' }));
  });
});
