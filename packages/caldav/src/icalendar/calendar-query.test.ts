import { describe, expect, it } from 'vitest';
import { calendarIndex } from './calendar-index.js';
import { renderCalendarData, WHOLE_OBJECT } from './calendar-data.js';
import { matchesCalendarFilter, prefilterOf, type CompFilter, type PropFilter } from './calendar-filter.js';
import { CalendarDataError, parseCalendarObject } from './calendar-object.js';
import { busyPeriods, freeBusyCalendar } from './free-busy.js';
import type { TextMatch } from './text-match.js';
import { ianaZone } from './zones.js';

const cal = (...lines: string[]) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');
const vevent = (uid: string, ...lines: string[]) => ['BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', ...lines, 'END:VEVENT'];
const at = (s: string) => Date.parse(s);
const range = (start: string | null, end: string | null) => ({ start: start ? at(start) : null, end: end ? at(end) : null });

const comp = (name: string, extra: Partial<CompFilter> = {}): CompFilter => ({ name, isNotDefined: false, timeRange: null, propFilters: [], compFilters: [], ...extra });
const prop = (name: string, extra: Partial<PropFilter> = {}): PropFilter => ({ name, isNotDefined: false, timeRange: null, textMatch: null, paramFilters: [], ...extra });
const text = (value: string, extra: Partial<TextMatch> = {}): TextMatch => ({ value, collation: 'i;ascii-casemap', matchType: 'contains', negate: false, ...extra });
const inVevent = (f: Partial<CompFilter>) => comp('VCALENDAR', { compFilters: [comp('VEVENT', f)] });

const PARIS = ianaZone('Europe/Paris');
const weekly = cal(
  ...vevent('weekly', 'DTSTART;TZID=Europe/Paris:20260105T090000', 'DTEND;TZID=Europe/Paris:20260105T100000', 'RRULE:FREQ=WEEKLY;COUNT=10', 'SUMMARY:Comité de direction', 'LOCATION:Salle Kara', 'ATTENDEE;PARTSTAT=ACCEPTED;CN=Awa:mailto:awa@sante.gouv.tg'),
  ...vevent('weekly', 'RECURRENCE-ID;TZID=Europe/Paris:20260112T090000', 'DTSTART;TZID=Europe/Paris:20260113T150000', 'DTEND;TZID=Europe/Paris:20260113T160000', 'SUMMARY:Comité déplacé'),
);

describe('calendar-query filters', () => {
  const parsed = parseCalendarObject(weekly);

  it('matches time ranges on instances, overrides included, and nothing outside', () => {
    expect(matchesCalendarFilter(parsed, inVevent({ timeRange: range('2026-01-13T14:00:00Z', '2026-01-13T14:30:00Z') }), PARIS)).toBe(true);
    // The overridden instance left Monday the 12th.
    expect(matchesCalendarFilter(parsed, inVevent({ timeRange: range('2026-01-12T07:00:00Z', '2026-01-12T09:00:00Z') }), PARIS)).toBe(false);
    expect(matchesCalendarFilter(parsed, inVevent({ timeRange: range('2026-03-10T00:00:00Z', null) }), PARIS)).toBe(false);
    expect(matchesCalendarFilter(parsed, inVevent({ timeRange: range(null, '2026-01-05T08:00:01Z') }), PARIS)).toBe(true);
    expect(matchesCalendarFilter(parsed, inVevent({ timeRange: range(null, '2026-01-05T08:00:00Z') }), PARIS)).toBe(false);
  });

  it('matches text with collations and negation, parameters and undefined properties', () => {
    expect(matchesCalendarFilter(parsed, inVevent({ propFilters: [prop('SUMMARY', { textMatch: text('COMITÉ') })] }), null)).toBe(false); // ASCII fold leaves É alone
    expect(matchesCalendarFilter(parsed, inVevent({ propFilters: [prop('SUMMARY', { textMatch: text('COMITÉ', { collation: 'i;unicode-casemap' }) })] }), null)).toBe(true);
    expect(matchesCalendarFilter(parsed, inVevent({ propFilters: [prop('SUMMARY', { textMatch: text('comité', { collation: 'i;octet' }) })] }), null)).toBe(false);
    // Negated, the property must still be there: the master holds Kara, the override no LOCATION at all.
    expect(matchesCalendarFilter(parsed, inVevent({ propFilters: [prop('LOCATION', { textMatch: text('kara', { negate: true }) })] }), null)).toBe(false);
    expect(matchesCalendarFilter(parsed, inVevent({ propFilters: [prop('SUMMARY', { textMatch: text('budget', { negate: true }) })] }), null)).toBe(true);
    expect(matchesCalendarFilter(parsed, inVevent({ propFilters: [prop('DESCRIPTION', { isNotDefined: true })] }), null)).toBe(true);
    expect(matchesCalendarFilter(parsed, inVevent({ propFilters: [prop('ATTENDEE', { paramFilters: [{ name: 'PARTSTAT', isNotDefined: false, textMatch: text('accepted') }] })] }), null)).toBe(true);
    expect(matchesCalendarFilter(parsed, inVevent({ propFilters: [prop('ATTENDEE', { paramFilters: [{ name: 'ROLE', isNotDefined: true, textMatch: null }] })] }), null)).toBe(true);
    expect(matchesCalendarFilter(parsed, comp('VCALENDAR', { compFilters: [comp('VTODO')] }), null)).toBe(false);
    expect(matchesCalendarFilter(parsed, comp('VCALENDAR', { compFilters: [comp('VTODO', { isNotDefined: true })] }), null)).toBe(true);
    expect(matchesCalendarFilter(parsed, comp('VTODO'), null)).toBe(false);
  });

  it('narrows a query for the store to what must match', () => {
    expect(prefilterOf(inVevent({ timeRange: range('2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'), propFilters: [prop('SUMMARY', { textMatch: text('Comité') })] }))).toEqual({
      component: 'VEVENT',
      timeRange: range('2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'),
      textContains: ['comité'],
    });
    expect(prefilterOf(inVevent({ propFilters: [prop('SUMMARY', { textMatch: text('x', { negate: true }) })] })).textContains).toEqual([]);
  });

  it('evaluates VTODO by the RFC 4791 table and VALARM by its trigger', () => {
    const todo = (lines: string[]) => parseCalendarObject(cal('BEGIN:VTODO', 'UID:t', ...lines, 'END:VTODO'));
    const q = (start: string, end: string) => comp('VCALENDAR', { compFilters: [comp('VTODO', { timeRange: range(start, end) })] });
    const due = todo(['DUE:20260110T120000Z']);
    expect(matchesCalendarFilter(due, q('2026-01-10T00:00:00Z', '2026-01-10T12:00:00Z'), null)).toBe(true); // end >= DUE
    expect(matchesCalendarFilter(due, q('2026-01-10T12:00:00Z', '2026-01-11T00:00:00Z'), null)).toBe(false); // start < DUE fails
    const spanned = todo(['DTSTART:20260105T000000Z', 'DUE:20260110T000000Z']);
    expect(matchesCalendarFilter(spanned, q('2026-01-07T00:00:00Z', '2026-01-08T00:00:00Z'), null)).toBe(true);
    expect(matchesCalendarFilter(spanned, q('2026-01-11T00:00:00Z', '2026-01-12T00:00:00Z'), null)).toBe(false);
    expect(matchesCalendarFilter(todo(['COMPLETED:20260103T000000Z']), q('2026-01-01T00:00:00Z', '2026-01-04T00:00:00Z'), null)).toBe(true);
    expect(matchesCalendarFilter(todo(['SUMMARY:no dates']), q('2030-01-01T00:00:00Z', '2030-01-02T00:00:00Z'), null)).toBe(true);
    const alarm = parseCalendarObject(cal(...vevent('a', 'DTSTART:20260110T100000Z', 'DURATION:PT1H', 'BEGIN:VALARM', 'ACTION:DISPLAY', 'TRIGGER:-PT15M', 'END:VALARM')));
    const alarmQ = (start: string, end: string) => comp('VCALENDAR', { compFilters: [comp('VEVENT', { compFilters: [comp('VALARM', { timeRange: range(start, end) })] })] });
    expect(matchesCalendarFilter(alarm, alarmQ('2026-01-10T09:40:00Z', '2026-01-10T09:50:00Z'), null)).toBe(true);
    expect(matchesCalendarFilter(alarm, alarmQ('2026-01-10T09:50:00Z', '2026-01-10T10:00:00Z'), null)).toBe(false);
  });
});

describe('calendar-data', () => {
  it('returns the stored bytes when nothing else is asked', () => {
    expect(renderCalendarData(weekly, WHOLE_OBJECT, null)).toBe(weekly);
  });

  it('expands the instances in a range, in UTC, with their RECURRENCE-IDs', () => {
    const out = renderCalendarData(weekly, { select: null, expand: range('2026-01-05T00:00:00Z', '2026-01-20T00:00:00Z'), limitRecurrenceSet: null }, PARIS);
    const events = out.split('BEGIN:VEVENT').slice(1);
    expect(events).toHaveLength(3);
    expect(out).not.toMatch(/RRULE|VTIMEZONE|TZID/);
    expect(events[0]).toContain('DTSTART:20260105T080000Z');
    expect(events[0]).toContain('RECURRENCE-ID:20260105T080000Z');
    expect(events[1]).toContain('DTSTART:20260113T140000Z');
    expect(events[1]).toContain('RECURRENCE-ID:20260112T080000Z');
    expect(events[1]).toContain('SUMMARY:Comité déplacé');
    expect(out.endsWith('\r\n')).toBe(true);
  });

  it('keeps only the properties asked for', () => {
    const out = renderCalendarData(weekly, { select: { name: 'VCALENDAR', props: ['VERSION'], comps: [{ name: 'VEVENT', props: ['UID', 'SUMMARY'], comps: [] }] }, expand: null, limitRecurrenceSet: null }, null);
    expect(out).toContain('SUMMARY:Comité de direction');
    expect(out).not.toMatch(/LOCATION|ATTENDEE|PRODID|DTSTART/);
  });
});

describe('free-busy', () => {
  it('merges busy time, leaves transparent and cancelled events out, and marks tentative ones', () => {
    const objects = [
      cal(...vevent('a', 'DTSTART:20260110T090000Z', 'DTEND:20260110T100000Z')),
      cal(...vevent('b', 'DTSTART:20260110T093000Z', 'DTEND:20260110T110000Z')),
      cal(...vevent('c', 'DTSTART:20260110T130000Z', 'DTEND:20260110T140000Z', 'TRANSP:TRANSPARENT')),
      cal(...vevent('d', 'DTSTART:20260110T150000Z', 'DTEND:20260110T160000Z', 'STATUS:CANCELLED')),
      cal(...vevent('e', 'DTSTART:20260110T170000Z', 'DTEND:20260110T180000Z', 'STATUS:TENTATIVE')),
    ].map((t) => parseCalendarObject(t));
    const start = at('2026-01-10T00:00:00Z');
    const end = at('2026-01-11T00:00:00Z');
    const busy = busyPeriods(objects, start, end, null);
    const text = freeBusyCalendar(busy, start, end, start, '-//Palabre//FR');
    expect(text).toContain('FREEBUSY:20260110T090000Z/20260110T110000Z');
    expect(text).toContain('FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260110T170000Z/20260110T180000Z');
    expect(text).not.toContain('T130000Z');
    expect(text).not.toContain('T150000Z');
  });
});

describe('the index a calendar object gets', () => {
  const now = at('2026-06-01T00:00:00Z');

  it('is exact for events, with the first instances and where they stop', () => {
    const idx = calendarIndex(parseCalendarObject(weekly), now);
    expect(idx).toMatchObject({ uid: 'weekly', component: 'VEVENT', floating: false, recurring: true, exact: true, instancesUntil: null });
    expect(idx.instances).toHaveLength(10);
    expect(idx.searchText).toContain('summary:comité de direction');
    const open = calendarIndex(parseCalendarObject(cal(...vevent('d', 'DTSTART:20200101T080000Z', 'RRULE:FREQ=DAILY'))), now);
    expect(open.instances).toHaveLength(1000);
    expect(open.lastEnd).toBeNull();
    expect(open.instancesUntil).toBe(open.instances[999]!.start + 86_400_000);
  });

  it('marks floating and all-day objects, and gives a VTODO a superset window', () => {
    expect(calendarIndex(parseCalendarObject(cal(...vevent('f', 'DTSTART;VALUE=DATE:20260704'))), now)).toMatchObject({ floating: true, instances: [{ start: at('2026-07-04T00:00:00Z'), end: at('2026-07-05T00:00:00Z') }] });
    const todo = calendarIndex(parseCalendarObject(cal('BEGIN:VTODO', 'UID:t', 'DTSTART:20260105T000000Z', 'DUE:20260110T000000Z', 'COMPLETED:20260112T000000Z', 'END:VTODO')), now);
    expect(todo).toMatchObject({ exact: false, instances: [{ start: at('2026-01-05T00:00:00Z'), end: at('2026-01-12T00:00:00Z') }] });
    const undated = calendarIndex(parseCalendarObject(cal('BEGIN:VTODO', 'UID:t', 'SUMMARY:x', 'END:VTODO')), now);
    expect(undated).toMatchObject({ exact: false, instances: [], instancesUntil: Number.MIN_SAFE_INTEGER });
  });
});

describe('hostile calendar data', () => {
  const refused = (text: string, condition: string) => {
    let caught: unknown;
    try {
      parseCalendarObject(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CalendarDataError);
    expect((caught as CalendarDataError).condition).toBe(condition);
  };

  it('refuses each with the precondition a client is told', () => {
    refused('not a calendar', 'valid-calendar-data');
    refused(cal(...vevent('a', 'DTSTART:20260101T000000Z')).replace('SUMMARY', 'X').replace('DTSTAMP', 'DTSTAMP\u0001'), 'valid-calendar-data');
    refused(cal('METHOD:REQUEST', ...vevent('a', 'DTSTART:20260101T000000Z')), 'valid-calendar-object-resource');
    refused(cal(...vevent('a', 'DTSTART:20260101T000000Z'), ...vevent('b', 'DTSTART:20260101T000000Z')), 'valid-calendar-object-resource');
    refused(cal(...vevent('a', 'DTSTART:20260101T000000Z'), 'BEGIN:VTODO', 'UID:a', 'END:VTODO'), 'valid-calendar-object-resource');
    refused(cal(...vevent('a', 'DTSTART:20260101T000000Z'), ...vevent('a', 'DTSTART:20260102T000000Z')), 'valid-calendar-object-resource');
    refused(cal(...vevent('a', 'DTSTART:garbage')), 'valid-calendar-data');
    refused(cal('BEGIN:VEVENT', 'DTSTART:20260101T000000Z', 'END:VEVENT'), 'valid-calendar-object-resource');
    refused(cal('BEGIN:VEVENT', 'UID:x', 'END:VEVENT'), 'valid-calendar-data');
    refused(cal(...vevent('a', 'DTSTART:20260101T000000Z', `DESCRIPTION:${'x'.repeat(3 * 1024 * 1024)}`)), 'max-resource-size');
    refused(cal(...vevent('a', 'DTSTART:20260101T000000Z', ...Array.from({ length: 5000 }, (_, i) => `ATTENDEE:mailto:a${i}@sante.gouv.tg`))), 'valid-calendar-object-resource');
    const overrides = Array.from({ length: 1500 }, (_, i) => vevent('a', `RECURRENCE-ID:2026${String(1 + (i % 12)).padStart(2, '0')}${String(1 + Math.floor(i / 12) % 28).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}0000Z`, 'DTSTART:20260101T000000Z')).flat();
    refused(cal(...vevent('a', 'DTSTART:20260101T000000Z', 'RRULE:FREQ=HOURLY'), ...overrides), 'valid-calendar-object-resource');
    const rules = Array.from({ length: 10_000 }, (_, i) => ['BEGIN:STANDARD', `DTSTART:${1000 + (i % 8000)}0101T000000`, 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0100', 'END:STANDARD']).flat();
    refused(cal('BEGIN:VTIMEZONE', 'TZID:Bomb', ...rules, 'END:VTIMEZONE', ...vevent('a', 'DTSTART;TZID=Bomb:20260101T000000')), 'valid-calendar-object-resource');
    expect(() => parseCalendarObject(cal(...vevent('a', 'DTSTART:20260101T000000Z')), ['VTODO'])).toThrow(/does not accept VEVENT/);
  });

  it('accepts what real clients send: LF line ends, PRODID missing, X- properties, DTEND with DURATION:PT0S', () => {
    const lightning = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:l', 'DTSTART:20260101T100000Z', 'DTEND:20260101T110000Z', 'DURATION:PT0S', 'X-MOZ-GENERATION:1', 'END:VEVENT', 'END:VCALENDAR', ''].join('\n');
    expect(parseCalendarObject(lightning).uid).toBe('l');
  });
});
