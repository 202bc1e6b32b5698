import { usedTzids, vtimezoneFor } from './icalendar/timezone-reference.js';
import {
  DEFAULT_FLOATING_SLACK_MS,
  MAX_QUERY_LIMIT,
  systemClock,
  type CalendarCollection,
  type CalendarObject,
  type CalendarStore,
  type Clock,
  type PutObjectOutcome,
  type TimeRange,
} from '@palabre/core';
import { calendarIndex } from './icalendar/calendar-index.js';
import { indexAnswers, matchesCalendarFilter, prefilterOf, type CompFilter } from './icalendar/calendar-filter.js';
import { CalendarDataError, DEFAULT_CALENDAR_LIMITS, parseCalendarObject, parseICalendar, type CalendarLimits, type ParsedCalendar } from './icalendar/calendar-object.js';
import { busyPeriods, freeBusyCalendar } from './icalendar/free-busy.js';
import { EXPORT_TAIL, PRODUCT_ID, exportHead, splitCalendar } from './icalendar/calendar-export.js';
import { vtimezoneZone, zoneForTzid, UTC_ZONE, type Zone } from './icalendar/zones.js';
import { cardIndex, cardPrefilter, matchesCardFilter, parseVCard, DEFAULT_CARD_LIMITS, type CardFilter, type CardLimits } from './vcard/vcard.js';

/**
 * Calendar and address-book objects as CalDAV and CardDAV handle them, above the store and below
 * the DAV methods: what is parsed and checked before a write, and how a query goes from the store's
 * indexed candidates to the exact answer while parsing only the candidates the index cannot decide.
 */

export interface CalendarObjectsOptions {
  readonly store: CalendarStore;
  readonly clock?: Clock;
  readonly calendarLimits?: CalendarLimits;
  readonly cardLimits?: CardLimits;
}

export interface QueryHit {
  readonly object: CalendarObject;
  /** Set when the object's text was read (withData, or to decide the match). */
  readonly data?: string;
  readonly parsed?: ParsedCalendar;
}

/** Objects fetched from the store per page of a query or a listing. */
const PAGE = 500;

export class CalendarObjects {
  readonly store: CalendarStore;
  private readonly clock: Clock;
  readonly calendarLimits: CalendarLimits;
  readonly cardLimits: CardLimits;

  constructor(options: CalendarObjectsOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.calendarLimits = options.calendarLimits ?? DEFAULT_CALENDAR_LIMITS;
    this.cardLimits = options.cardLimits ?? DEFAULT_CARD_LIMITS;
  }

  /**
   * Check and store one object. Throws CalendarDataError / CardDataError with the precondition to
   * report, or the store's typed errors (uid-conflict, precondition, quota).
   */
  async put(collection: CalendarCollection, name: string, text: string, options: { ifMatch?: string; ifNoneMatch?: boolean } = {}): Promise<PutObjectOutcome> {
    if (collection.kind === 'addressbook') {
      const card = parseVCard(text, this.cardLimits);
      return this.store.putObject(collection.id, name, text, cardIndex(card), options);
    }
    const parsed = parseCalendarObject(text, collection.components, this.calendarLimits);
    return this.store.putObject(collection.id, name, text, calendarIndex(parsed, this.clock.now().getTime()), options);
  }

  /**
   * Objects matching a calendar-query filter, in name order, page after page. Candidates the index
   * decided exactly are not parsed unless their data is wanted.
   */
  async *calendarQuery(collection: CalendarCollection, filter: CompFilter, options: { zone: Zone | null; withData: boolean; limit?: number }): AsyncGenerator<QueryHit> {
    const pre = prefilterOf(filter);
    const exactByIndex = indexAnswers(filter);
    let after: string | null = null;
    let sent = 0;
    const withData = options.withData || !exactByIndex;
    // Without the text a page holds small rows only: the store's largest (each page reads the window's instances again).
    const limit = withData ? PAGE : MAX_QUERY_LIMIT;
    for (;;) {
      const page = await this.store.queryObjects(collection.id, {
        component: pre.component,
        timeRange: pre.timeRange,
        floatingSlackMs: DEFAULT_FLOATING_SLACK_MS,
        textContains: pre.textContains,
        withData,
        after,
        limit,
      });
      for (const candidate of page) {
        const { object } = candidate;
        after = object.name;
        const mustParse = !exactByIndex || candidate.check;
        if (!mustParse) {
          if (options.withData && object.data === undefined) continue;
          yield { object, data: object.data };
        } else {
          const data = object.data ?? (await this.store.getObject(collection.id, object.name, { withData: true }))?.data;
          if (data === undefined) continue;
          let parsed: ParsedCalendar;
          try {
            parsed = parseCalendarObject(data, undefined, { ...this.calendarLimits, maxBytes: Number.MAX_SAFE_INTEGER });
          } catch {
            continue; // Stored before a stricter check: not served as a match.
          }
          if (!matchesCalendarFilter(parsed, filter, options.zone ?? zoneOfCollection(collection))) continue;
          yield { object, data, parsed };
        }
        if (options.limit !== undefined && ++sent >= options.limit) return;
      }
      if (page.length < limit) return;
    }
  }

  /** Objects matching an addressbook-query filter, in name order. */
  async *addressQuery(collection: CalendarCollection, filter: CardFilter, options: { limit?: number }): AsyncGenerator<QueryHit> {
    const textContains = cardPrefilter(filter);
    let after: string | null = null;
    let sent = 0;
    const everything = filter.propFilters.length === 0;
    for (;;) {
      const page = await this.store.queryObjects(collection.id, { textContains, withData: true, after, limit: PAGE });
      for (const { object } of page) {
        after = object.name;
        if (!everything) {
          let card;
          try {
            card = parseVCard(object.data ?? '', { ...this.cardLimits, maxBytes: Number.MAX_SAFE_INTEGER });
          } catch {
            continue;
          }
          if (!matchesCardFilter(card, filter)) continue;
        }
        yield { object, data: object.data };
        if (options.limit !== undefined && ++sent >= options.limit) return;
      }
      if (page.length < PAGE) return;
    }
  }

  /** The VFREEBUSY of some calendars over a range (free-busy-query and, later, scheduling). */
  async freeBusy(collections: readonly CalendarCollection[], range: { start: number; end: number }, zone: Zone | null): Promise<string> {
    const parsed: ParsedCalendar[] = [];
    for (const collection of collections) {
      for (const component of ['VEVENT', 'VFREEBUSY'] as const) {
        if (!collection.components.includes(component)) continue;
        const filter: CompFilter = { name: 'VCALENDAR', isNotDefined: false, timeRange: null, propFilters: [], compFilters: [{ name: component, isNotDefined: false, timeRange: range, propFilters: [], compFilters: [] }] };
        for await (const hit of this.calendarQuery(collection, filter, { zone: zone ?? zoneOfCollection(collection), withData: true })) {
          try {
            parsed.push(hit.parsed ?? parseCalendarObject(hit.data!, undefined, { ...this.calendarLimits, maxBytes: Number.MAX_SAFE_INTEGER }));
          } catch {
            // Not readable: contributes no busy time.
          }
        }
      }
    }
    const now = this.clock.now().getTime();
    return freeBusyCalendar(busyPeriods(parsed, range.start, range.end, zone), range.start, range.end, now, PRODUCT_ID);
  }

  /**
   * A whole collection as one stream: an address book as its vCards one after the other (RFC 6350 §3.1),
   * a calendar as one VCALENDAR. The calendar is read twice, page by page — its time zones first, then
   * its components — so memory stays bounded however big it is.
   */
  async *exportCollection(collection: CalendarCollection): AsyncIterable<string> {
    const pages = async function* (store: CalendarStore) {
      let after: string | null = null;
      for (;;) {
        const page = await store.listObjects(collection.id, { after, limit: PAGE, withData: true });
        if (page.length) yield page;
        if (page.length < PAGE) return;
        after = page[page.length - 1]!.name;
      }
    };
    if (collection.kind === 'addressbook') {
      for await (const page of pages(this.store)) yield page.map((o) => (o.data ?? '').replace(/\r?\n?$/, '\r\n')).join('');
      return;
    }
    const zones = new Map<string, string>();
    for await (const page of pages(this.store)) {
      for (const o of page) {
        for (const [tzid, block] of splitCalendar(o.data ?? '').zones) if (!zones.has(tzid)) zones.set(tzid, block);
        // Objects stored without the VTIMEZONE of a standard zone (RFC 7809): the export carries it.
        for (const tzid of usedTzids(o.data ?? '')) if (!zones.has(tzid)) zones.set(tzid, vtimezoneFor(tzid) ?? '');
      }
    }
    const tzid = collection.timezone ? /^TZID[:;][^\r\n]*/im.exec(collection.timezone)?.[0].replace(/^TZID[^:]*:/i, '').trim() : null;
    yield exportHead({ productId: PRODUCT_ID, name: collection.displayName ?? collection.name, description: collection.description, timezoneId: tzid ?? null });
    yield [...zones.values()].join('');
    for await (const page of pages(this.store)) yield page.map((o) => splitCalendar(o.data ?? '').components.join('')).join('');
    yield EXPORT_TAIL;
  }
}

/** The zone of a CALDAV:calendar-timezone (or a query's CALDAV:timezone): a VCALENDAR with one VTIMEZONE. */
export function zoneOfTimezoneText(text: string | null): Zone | null {
  if (!text) return null;
  try {
    const root = parseICalendar(text, { ...DEFAULT_CALENDAR_LIMITS, maxBytes: 256 * 1024 });
    const vtz = root.getFirstSubcomponent('vtimezone');
    const tzid = vtz?.getFirstPropertyValue('tzid');
    if (!vtz || typeof tzid !== 'string') return null;
    return zoneForTzid(tzid) ?? vtimezoneZone(tzid, vtz);
  } catch (error) {
    if (error instanceof CalendarDataError) return null;
    throw error;
  }
}

/**
 * A CALDAV:calendar-timezone value as RFC 4791 §5.2.2 has it: an iCalendar object holding exactly one
 * VTIMEZONE and nothing else, within the object limits. It is read again by every query of the
 * calendar, so what is stored must be small and readable.
 */
export function isCalendarTimezone(text: string): boolean {
  try {
    const root = parseICalendar(text, { ...DEFAULT_CALENDAR_LIMITS, maxBytes: 256 * 1024 });
    const children = root.getAllSubcomponents();
    if (children.length !== 1 || children[0]!.name !== 'vtimezone') return false;
    const vtz = children[0]!;
    const tzid = vtz.getFirstPropertyValue('tzid');
    const observances = vtz.getAllSubcomponents();
    if (typeof tzid !== 'string' || !tzid.trim() || observances.length === 0 || observances.length > DEFAULT_CALENDAR_LIMITS.maxObservances) return false;
    if (observances.some((o) => o.name !== 'standard' && o.name !== 'daylight')) return false;
    vtimezoneZone(tzid, vtz);
    return true;
  } catch {
    return false;
  }
}

export function zoneOfCollection(collection: CalendarCollection): Zone {
  return zoneOfTimezoneText(collection.timezone) ?? UTC_ZONE;
}

/** A time-range element's bounds (RFC 4791 §9.9): UTC date-times `YYYYMMDDTHHMMSSZ`; either may be absent. */
export function parseTimeRange(start: string | undefined, end: string | undefined): TimeRange {
  const read = (v: string | undefined, what: string): number | null => {
    if (v === undefined) return null;
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v.trim());
    if (!m) throw new CalendarDataError('valid-calendar-data', `${what} must be a UTC date-time such as 20260101T000000Z`);
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
    if (Number.isNaN(ms)) throw new CalendarDataError('valid-calendar-data', `${what} is not a date`);
    return ms;
  };
  const range = { start: read(start, 'start'), end: read(end, 'end') };
  if (range.start === null && range.end === null) throw new CalendarDataError('valid-calendar-data', 'a time-range needs a start or an end');
  if (range.start !== null && range.end !== null && range.end <= range.start) throw new CalendarDataError('valid-calendar-data', 'a time-range must end after it starts');
  return range;
}
