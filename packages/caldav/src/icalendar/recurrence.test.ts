import { describe, expect, it } from 'vitest';
import { CalendarDataError, parseCalendarObject } from './calendar-object.js';
import { expand } from './recurrence.js';
import { ianaZone, zoneForTzid } from './zones.js';

const cal = (...lines: string[]) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');
const event = (...lines: string[]) => cal('BEGIN:VEVENT', 'UID:u1', 'DTSTAMP:20260101T000000Z', ...lines, 'END:VEVENT');
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

interface Row {
  readonly name: string;
  readonly ics: string;
  readonly zone?: string;
  /** [start, end] of each occurrence as UTC instants. */
  readonly expected: readonly (readonly [string, string])[];
  readonly until?: string;
}

const PARIS_VTZ = ['BEGIN:VTIMEZONE', 'TZID:Europe/Paris', 'BEGIN:STANDARD', 'DTSTART:19701025T030000', 'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'END:STANDARD', 'BEGIN:DAYLIGHT', 'DTSTART:19700329T020000', 'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'END:DAYLIGHT', 'END:VTIMEZONE'];

const ROWS: Row[] = [
  {
    name: 'daily at 09:00 in Paris across the spring change keeps the wall clock',
    ics: event('DTSTART;TZID=Europe/Paris:20260328T090000', 'DTEND;TZID=Europe/Paris:20260328T100000', 'RRULE:FREQ=DAILY;COUNT=3'),
    expected: [['2026-03-28T08:00:00Z', '2026-03-28T09:00:00Z'], ['2026-03-29T07:00:00Z', '2026-03-29T08:00:00Z'], ['2026-03-30T07:00:00Z', '2026-03-30T08:00:00Z']],
  },
  {
    name: 'the same with the VTIMEZONE the client sent',
    ics: cal(...PARIS_VTZ, 'BEGIN:VEVENT', 'UID:u1', 'DTSTART;TZID=Europe/Paris:20261024T090000', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;COUNT=2', 'END:VEVENT'),
    expected: [['2026-10-24T07:00:00Z', '2026-10-24T08:00:00Z'], ['2026-10-25T08:00:00Z', '2026-10-25T09:00:00Z']],
  },
  {
    name: 'weekly on Friday in New York across the US change (second Sunday of March)',
    ics: event('DTSTART;TZID=America/New_York:20260306T100000', 'DTEND;TZID=America/New_York:20260306T103000', 'RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=2'),
    expected: [['2026-03-06T15:00:00Z', '2026-03-06T15:30:00Z'], ['2026-03-13T14:00:00Z', '2026-03-13T14:30:00Z']],
  },
  {
    name: 'Africa/Lome has no DST: 08:00 local is 08:00Z all year',
    ics: event('DTSTART;TZID=Africa/Lome:20260101T080000', 'DTEND;TZID=Africa/Lome:20260101T090000', 'RRULE:FREQ=MONTHLY;INTERVAL=6;COUNT=3'),
    expected: [['2026-01-01T08:00:00Z', '2026-01-01T09:00:00Z'], ['2026-07-01T08:00:00Z', '2026-07-01T09:00:00Z'], ['2027-01-01T08:00:00Z', '2027-01-01T09:00:00Z']],
  },
  {
    name: 'EXDATE in UTC removes the instance at that instant',
    ics: event('DTSTART;TZID=Europe/Paris:20260328T090000', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;COUNT=3', 'EXDATE:20260329T070000Z'),
    expected: [['2026-03-28T08:00:00Z', '2026-03-28T09:00:00Z'], ['2026-03-30T07:00:00Z', '2026-03-30T08:00:00Z']],
  },
  {
    name: 'EXDATE as a DATE on a DATE-TIME series (Evolution, nextcloud #44600) removes that day',
    ics: event('DTSTART;TZID=Europe/Paris:20260328T090000', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;COUNT=3', 'EXDATE;VALUE=DATE:20260330'),
    expected: [['2026-03-28T08:00:00Z', '2026-03-28T09:00:00Z'], ['2026-03-29T07:00:00Z', '2026-03-29T08:00:00Z']],
  },
  {
    name: 'EXDATE without TZID is read in DTSTART\u2019s zone',
    ics: event('DTSTART;TZID=Europe/Paris:20260328T090000', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;COUNT=3', 'EXDATE:20260329T090000'),
    expected: [['2026-03-28T08:00:00Z', '2026-03-28T09:00:00Z'], ['2026-03-30T07:00:00Z', '2026-03-30T08:00:00Z']],
  },
  {
    name: 'COUNT counts EXDATEd instances too (RFC 5545 §3.8.5.1)',
    ics: event('DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z', 'RRULE:FREQ=DAILY;COUNT=3', 'EXDATE:20260106T100000Z'),
    expected: [['2026-01-05T10:00:00Z', '2026-01-05T11:00:00Z'], ['2026-01-07T10:00:00Z', '2026-01-07T11:00:00Z']],
  },
  {
    name: 'RDATE adds an instance with the series\u2019 duration',
    ics: event('DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z', 'RRULE:FREQ=DAILY;COUNT=2', 'RDATE:20260110T120000Z'),
    expected: [['2026-01-05T10:00:00Z', '2026-01-05T11:00:00Z'], ['2026-01-06T10:00:00Z', '2026-01-06T11:00:00Z'], ['2026-01-10T12:00:00Z', '2026-01-10T13:00:00Z']],
  },
  {
    name: 'RDATE as a PERIOD has its own length',
    ics: event('DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z', 'RDATE;VALUE=PERIOD:20260110T120000Z/PT3H'),
    expected: [['2026-01-05T10:00:00Z', '2026-01-05T11:00:00Z'], ['2026-01-10T12:00:00Z', '2026-01-10T15:00:00Z']],
  },
  {
    name: 'an overridden instance moves, matched by instant whatever zone its RECURRENCE-ID is written in',
    ics: cal(
      'BEGIN:VEVENT', 'UID:u1', 'DTSTART;TZID=Europe/Paris:20260601T090000', 'DTEND;TZID=Europe/Paris:20260601T100000', 'RRULE:FREQ=DAILY;COUNT=3', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:u1', 'RECURRENCE-ID:20260602T070000Z', 'DTSTART;TZID=Europe/Paris:20260602T140000', 'DTEND;TZID=Europe/Paris:20260602T160000', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:u1', 'RECURRENCE-ID;TZID=America/New_York:20260603T030000', 'DTSTART:20260603T180000Z', 'DTEND:20260603T183000Z', 'END:VEVENT',
    ),
    expected: [['2026-06-01T07:00:00Z', '2026-06-01T08:00:00Z'], ['2026-06-02T12:00:00Z', '2026-06-02T14:00:00Z'], ['2026-06-03T18:00:00Z', '2026-06-03T18:30:00Z']],
  },
  {
    name: 'an override moved after the end of the series still counts',
    ics: cal(
      'BEGIN:VEVENT', 'UID:u1', 'DTSTART:20260601T090000Z', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;COUNT=2', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:u1', 'RECURRENCE-ID:20260602T090000Z', 'DTSTART:20260620T090000Z', 'DURATION:PT1H', 'END:VEVENT',
    ),
    expected: [['2026-06-01T09:00:00Z', '2026-06-01T10:00:00Z'], ['2026-06-20T09:00:00Z', '2026-06-20T10:00:00Z']],
  },
  {
    name: 'an invitation to one occurrence (no master) is that occurrence',
    ics: event('RECURRENCE-ID:20260602T090000Z', 'DTSTART:20260602T100000Z', 'DTEND:20260602T110000Z'),
    expected: [['2026-06-02T10:00:00Z', '2026-06-02T11:00:00Z']],
  },
  {
    name: 'last Friday of the month (BYDAY=-1FR)',
    ics: event('DTSTART:20260130T120000Z', 'DURATION:PT1H', 'RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=4'),
    expected: [['2026-01-30T12:00:00Z', '2026-01-30T13:00:00Z'], ['2026-02-27T12:00:00Z', '2026-02-27T13:00:00Z'], ['2026-03-27T12:00:00Z', '2026-03-27T13:00:00Z'], ['2026-04-24T12:00:00Z', '2026-04-24T13:00:00Z']],
  },
  {
    name: 'last working day of the month (BYSETPOS=-1)',
    ics: event('DTSTART:20260130T160000Z', 'DURATION:PT30M', 'RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3'),
    expected: [['2026-01-30T16:00:00Z', '2026-01-30T16:30:00Z'], ['2026-02-27T16:00:00Z', '2026-02-27T16:30:00Z'], ['2026-03-31T16:00:00Z', '2026-03-31T16:30:00Z']],
  },
  {
    name: 'UNTIL is inclusive',
    ics: event('DTSTART:20260105T100000Z', 'DURATION:PT1H', 'RRULE:FREQ=WEEKLY;UNTIL=20260119T100000Z'),
    expected: [['2026-01-05T10:00:00Z', '2026-01-05T11:00:00Z'], ['2026-01-12T10:00:00Z', '2026-01-12T11:00:00Z'], ['2026-01-19T10:00:00Z', '2026-01-19T11:00:00Z']],
  },
  {
    name: 'a time in the spring-forward gap takes the offset before it (02:30 Paris → 01:30Z)',
    ics: event('DTSTART;TZID=Europe/Paris:20260329T023000', 'DURATION:PT1H'),
    expected: [['2026-03-29T01:30:00Z', '2026-03-29T02:30:00Z']],
  },
  {
    name: 'a time in the fall-back overlap is the first of the two (02:30 Paris → 00:30Z)',
    ics: event('DTSTART;TZID=Europe/Paris:20261025T023000', 'DURATION:PT30M'),
    expected: [['2026-10-25T00:30:00Z', '2026-10-25T01:00:00Z']],
  },
  {
    name: 'a nominal day (DURATION:P1D) across the spring change is 23 hours',
    ics: event('DTSTART;TZID=Europe/Paris:20260328T120000', 'DURATION:P1D'),
    expected: [['2026-03-28T11:00:00Z', '2026-03-29T10:00:00Z']],
  },
  {
    name: 'Windows zone id (Outlook): Romance Standard Time is Paris',
    ics: event('DTSTART;TZID=Romance Standard Time:20260701T090000', 'DTEND;TZID=Romance Standard Time:20260701T100000'),
    expected: [['2026-07-01T07:00:00Z', '2026-07-01T08:00:00Z']],
  },
  {
    name: 'Outlook display name with a trailing space',
    ics: event('DTSTART;TZID="(UTC-05:00) Eastern Time (US & Canada) ":20260701T090000', 'DURATION:PT1H'),
    expected: [['2026-07-01T13:00:00Z', '2026-07-01T14:00:00Z']],
  },
  {
    name: 'Mozilla-style TZID prefix',
    ics: event('DTSTART;TZID=/mozilla.org/20070129_1/Europe/Paris:20260115T090000', 'DURATION:PT1H'),
    expected: [['2026-01-15T08:00:00Z', '2026-01-15T09:00:00Z']],
  },
  {
    name: 'a zone only the object defines (VTIMEZONE) is used',
    ics: cal(
      'BEGIN:VTIMEZONE', 'TZID:Ministère local', 'BEGIN:STANDARD', 'DTSTART:19700101T000000', 'TZOFFSETFROM:+0300', 'TZOFFSETTO:+0300', 'END:STANDARD', 'END:VTIMEZONE',
      'BEGIN:VEVENT', 'UID:u1', 'DTSTART;TZID=Ministère local:20260301T120000', 'DURATION:PT1H', 'END:VEVENT',
    ),
    expected: [['2026-03-01T09:00:00Z', '2026-03-01T10:00:00Z']],
  },
  {
    name: 'a floating time is read in the query\u2019s zone',
    ics: event('DTSTART:20260701T090000', 'DTEND:20260701T100000'),
    zone: 'America/New_York',
    expected: [['2026-07-01T13:00:00Z', '2026-07-01T14:00:00Z']],
  },
  {
    name: 'an all-day event without DTEND lasts the day, in the query\u2019s zone',
    ics: event('DTSTART;VALUE=DATE:20260704'),
    zone: 'Europe/Paris',
    expected: [['2026-07-03T22:00:00Z', '2026-07-04T22:00:00Z']],
  },
  {
    name: 'a yearly all-day event (a birthday) across years',
    ics: event('DTSTART;VALUE=DATE:20240229', 'DTEND;VALUE=DATE:20240301', 'RRULE:FREQ=YEARLY;COUNT=2'),
    zone: 'Africa/Lome',
    // 2025 has no 29 February: RFC 5545 skips invalid dates, so the next one is 2028.
    expected: [['2024-02-29T00:00:00Z', '2024-03-01T00:00:00Z'], ['2028-02-29T00:00:00Z', '2028-03-01T00:00:00Z']],
  },
  {
    name: 'a multi-day all-day event keeps its nominal days across DST',
    ics: event('DTSTART;VALUE=DATE:20260328', 'DTEND;VALUE=DATE:20260330'),
    zone: 'Europe/Paris',
    expected: [['2026-03-27T23:00:00Z', '2026-03-29T22:00:00Z']],
  },
  {
    name: 'an event without DTEND or DURATION is an instant',
    ics: event('DTSTART:20260105T100000Z'),
    expected: [['2026-01-05T10:00:00Z', '2026-01-05T10:00:00Z']],
  },
  {
    name: 'a rule that can never match (30 February) leaves DTSTART alone',
    ics: event('DTSTART:20260105T100000Z', 'DURATION:PT1H', 'RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30'),
    expected: [['2026-01-05T10:00:00Z', '2026-01-05T11:00:00Z']],
  },
  {
    name: 'instances stop at the bound asked for',
    ics: event('DTSTART:20260105T100000Z', 'DURATION:PT1H', 'RRULE:FREQ=DAILY'),
    until: '2026-01-08T00:00:00Z',
    expected: [['2026-01-05T10:00:00Z', '2026-01-05T11:00:00Z'], ['2026-01-06T10:00:00Z', '2026-01-06T11:00:00Z'], ['2026-01-07T10:00:00Z', '2026-01-07T11:00:00Z']],
  },
];

describe('recurrence expansion', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const parsed = parseCalendarObject(row.ics);
      const e = expand(parsed, { floatingZone: row.zone ? ianaZone(row.zone) : null, until: row.until ? Date.parse(row.until) : undefined });
      expect(e.occurrences.map((o) => [iso(o.start), iso(o.end)])).toEqual(row.expected);
    });
  }

  it('says an open-ended series is incomplete past its bound, and where its instances stop', () => {
    const e = expand(parseCalendarObject(event('DTSTART:20260105T100000Z', 'RRULE:FREQ=WEEKLY')), { maxOccurrences: 10 });
    expect(e.occurrences).toHaveLength(10);
    expect(e).toMatchObject({ complete: false, unbounded: true, recurring: true });
    expect(iso(e.completeUntil!)).toBe('2026-03-16T10:00:00Z');
  });

  it('keeps floating times as wall-clock time when no zone is given', () => {
    const e = expand(parseCalendarObject(event('DTSTART;VALUE=DATE:20260704')));
    expect(e.floating).toBe(true);
    expect(e.occurrences.map((o) => [iso(o.start), iso(o.end)])).toEqual([['2026-07-04T00:00:00Z', '2026-07-05T00:00:00Z']]);
  });

  it('refuses rules that cannot be expanded in bounded time', () => {
    const refused = (rule: string) => () => expand(parseCalendarObject(event('DTSTART:20260105T100000Z', rule)));
    expect(refused('RRULE:FREQ=SECONDLY')).toThrow(CalendarDataError);
    expect(refused('RRULE:FREQ=MINUTELY')).toThrow(/COUNT/);
    expect(refused('RRULE:FREQ=DAILY;BYYEARDAY=100')).toThrow(CalendarDataError);
    expect(refused('RRULE:FREQ=WEEKLY;BYMONTHDAY=3')).toThrow(CalendarDataError);
    expect(refused('RRULE:BYDAY=MO')).toThrow(CalendarDataError);
    // MINUTELY with a COUNT is fine.
    expect(expand(parseCalendarObject(event('DTSTART:20260105T100000Z', 'RRULE:FREQ=MINUTELY;INTERVAL=15;COUNT=4'))).occurrences).toHaveLength(4);
  });
});

describe('time zone names clients write', () => {
  it('maps Windows ids, display names, prefixes and spaces to IANA zones', () => {
    expect(zoneForTzid('W. Europe Standard Time')?.id).toBe('Europe/Berlin');
    expect(zoneForTzid('Greenwich Standard Time')?.id).toMatch(/Africa\/Abidjan|Atlantic\/Reykjavik/);
    expect(zoneForTzid('(UTC+01:00) Brussels, Copenhagen, Madrid, Paris')?.id).toBe('Europe/Brussels');
    expect(zoneForTzid('Europe/Paris ')?.id).toBe('Europe/Paris');
    expect(zoneForTzid('/freeassociation.sourceforge.net/Tzfile/Africa/Lome')?.id).toMatch(/Africa\/(Lome|Abidjan)/);
    expect(zoneForTzid('Not/A_Zone')).toBeNull();
    expect(zoneForTzid('x'.repeat(1000))).toBeNull();
  });
});

describe('rules that match rarely or never', () => {
  // ical.js walks day by day or year by year (up to year 20000) for these: without a work bound one
  // next() costs seconds of CPU, and an object can carry four such rules.
  it.each([
    ['a BYSETPOS past the yearly set', 'RRULE:FREQ=YEARLY;BYMONTH=2;BYDAY=5MO;BYSETPOS=5'],
    ['a leap-day Monday, daily', 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO'],
    ['a leap-day Monday, hourly', 'RRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO'],
    ['a BYSETPOS past the monthly set', 'RRULE:FREQ=MONTHLY;BYSETPOS=40;BYDAY=MO'],
  ])('stop within the work budget on %s, known up to where they got', (_name, rule) => {
    const parsed = parseCalendarObject(event('DTSTART:20260105T090000Z', rule, rule, rule, rule));
    const e = expand(parsed, { until: Date.UTC(9999, 0, 1), maxOccurrences: 10_000, maxSteps: 50_000, maxWork: 2000 });
    expect(e.complete).toBe(false);
    expect(e.occurrences[0]!.start).toBe(Date.UTC(2026, 0, 5, 9));
    expect(e.completeUntil).not.toBeNull();
    expect(e.occurrences.every((o) => o.start < e.completeUntil!)).toBe(true);
  });

  it('still expands a rare rule that fits the budget (a leap-day birthday)', () => {
    const e = expand(parseCalendarObject(event('DTSTART;VALUE=DATE:20280229', 'RRULE:FREQ=YEARLY;COUNT=3')), {});
    expect(e.complete).toBe(true);
    expect(e.occurrences.map((o) => iso(o.start))).toEqual(['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z', '2036-02-29T00:00:00Z']);
  });
});

describe('open-ended series asked about far from DTSTART', () => {
  const window = { start: Date.UTC(2090, 5, 25), end: Date.UTC(2090, 6, 10) };
  const paris = zoneForTzid('Europe/Paris');
  // The same occurrences inside the window whether the series is walked from DTSTART (with all the work
  // it needs) or started near the window: only the walk's cost differs.
  it.each([
    ['daily in Paris', ['DTSTART;TZID=Europe/Paris:20200101T090000', 'DURATION:PT1H', 'RRULE:FREQ=DAILY']],
    ['every third day', ['DTSTART:20200101T120000Z', 'DURATION:PT30M', 'RRULE:FREQ=DAILY;INTERVAL=3']],
    ['Mondays and Wednesdays in New York', ['DTSTART;TZID=America/New_York:20200106T083000', 'DURATION:PT1H', 'RRULE:FREQ=WEEKLY;BYDAY=MO,WE']],
    ['every two weeks', ['DTSTART;TZID=Africa/Lome:20200103T100000', 'DURATION:PT1H', 'RRULE:FREQ=WEEKLY;INTERVAL=2']],
    ['every five hours', ['DTSTART:20200101T000000Z', 'DURATION:PT10M', 'RRULE:FREQ=HOURLY;INTERVAL=5']],
    ['daily with UNTIL, an EXDATE and an override in the window', ['DTSTART:20200101T080000Z', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;UNTIL=20900705T080000Z', 'EXDATE:20900628T080000Z']],
  ])('%s', (_name, lines) => {
    const parsed = parseCalendarObject(event(...lines));
    const inWindow = (os: { start: number; end: number }[]) => os.filter((o) => o.start < window.end && o.end > window.start).map((o) => [iso(o.start), iso(o.end)]);
    const near = expand(parsed, { until: window.end, from: window.start, floatingZone: paris });
    const walked = expand(parsed, { until: window.end, floatingZone: paris, maxSteps: 1_000_000, maxOccurrences: 1_000_000, maxWork: 10_000_000 });
    expect(inWindow(near.occurrences).length).toBeGreaterThan(0);
    expect(inWindow(near.occurrences)).toEqual(inWindow(walked.occurrences));
  });

  it('answers them within the default work, where a walk from DTSTART would run out of it', () => {
    const parsed = parseCalendarObject(event('DTSTART:20200101T120000Z', 'DURATION:PT1H', 'RRULE:FREQ=DAILY'));
    expect(expand(parsed, { until: window.end, maxSteps: 1_000_000, maxOccurrences: 1_000_000 }).occurrences.some((o) => o.start >= window.start)).toBe(false);
    const near = expand(parsed, { until: window.end, from: window.start });
    expect(near.occurrences.filter((o) => o.start >= window.start).map((o) => iso(o.start))[0]).toBe('2090-06-25T12:00:00Z');
  });
});
