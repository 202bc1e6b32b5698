import ICAL from 'ical.js';
import type { TimeRange } from '@palabre/core';
import { CalendarDataError, parseCalendarObject, type ParsedCalendar } from './calendar-object.js';
import { expand, type Occurrence } from './recurrence.js';
import type { Zone } from './zones.js';

/**
 * What a client asked of CALDAV:calendar-data (RFC 4791 §9.6): the object as stored unless it asked
 * for a part of it (comp/prop), its instances in a range as separate components (expand), or only the
 * components that touch a range (limit-recurrence-set).
 */
export interface CompSelection {
  readonly name: string;
  /** null: every property. */
  readonly props: readonly string[] | null;
  /** null: every component. */
  readonly comps: readonly CompSelection[] | null;
}

export interface CalendarDataRequest {
  readonly select: CompSelection | null;
  readonly expand: TimeRange | null;
  readonly limitRecurrenceSet: TimeRange | null;
}

export const WHOLE_OBJECT: CalendarDataRequest = { select: null, expand: null, limitRecurrenceSet: null };

export function wantsWholeObject(r: CalendarDataRequest): boolean {
  return !r.select && !r.expand && !r.limitRecurrenceSet;
}

const utcTime = (ms: number, isDate: boolean): ICAL.Time => {
  const d = new Date(ms);
  if (isDate) return new ICAL.Time({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), isDate: true }, ICAL.Timezone.localTimezone);
  return new ICAL.Time(
    { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), isDate: false },
    ICAL.Timezone.utcTimezone,
  );
};

function setTime(c: ICAL.Component, name: string, ms: number, isDate: boolean): void {
  c.removeAllProperties(name);
  const prop = new ICAL.Property(name, c);
  prop.setValue(utcTime(ms, isDate));
  c.addProperty(prop);
}

/**
 * Bytes of instances one expanded object may come to. A 1 MB event repeating daily, expanded over 30
 * years, would be 10 GB of components built in memory: refused with CALDAV:max-instances once its
 * instances pass this, before they are built.
 */
export const MAX_EXPANDED_BYTES = 16 * 1024 * 1024;
/** Bytes of expanded instances one request may come to, over all its objects. */
export const MAX_EXPANDED_BYTES_PER_REQUEST = 64 * 1024 * 1024;

/** What is left of a request's expansion bytes (shared by the objects of one report). */
export interface ExpansionBudget {
  left: number;
}

/**
 * Instances overlapping the range as components of their own: DTSTART/DTEND in UTC (dates stay dates),
 * RECURRENCE-ID on each, no RRULE/RDATE/EXDATE, no VTIMEZONE (RFC 4791 §9.6.5). Floating times are
 * read in `zone` first.
 */
function expanded(parsed: ParsedCalendar, range: TimeRange, zone: Zone | null, budget: ExpansionBudget | undefined): ICAL.Component {
  const start = range.start ?? Number.MIN_SAFE_INTEGER;
  const end = range.end ?? Number.MAX_SAFE_INTEGER;
  const e = expand(parsed, { floatingZone: zone, until: end, from: range.start ?? undefined, maxSteps: 50_000, maxOccurrences: 10_000 });
  const out = new ICAL.Component(['vcalendar', [], []]);
  for (const prop of parsed.root.getAllProperties()) out.addProperty(ICAL.Property.fromString(prop.toICALString()));
  const overlaps = (o: Occurrence) => (o.end > o.start ? o.start < end && o.end > start : start <= o.start && o.start < end);
  const wanted = e.occurrences.filter(overlaps);
  const sizes = new Map<ICAL.Component, number>();
  let bytes = 0;
  for (const o of wanted) {
    let size = sizes.get(o.component);
    if (size === undefined) sizes.set(o.component, (size = o.component.toString().length));
    bytes += size;
    if (bytes > MAX_EXPANDED_BYTES) throw new CalendarDataError('max-instances', `the instances of this object in the range pass ${MAX_EXPANDED_BYTES} bytes: ask for a shorter range`);
    if (budget && bytes > budget.left) throw new CalendarDataError('max-instances', 'the instances of this report pass what one response holds: ask for a shorter range or fewer objects');
  }
  if (budget) budget.left -= bytes;
  for (const o of wanted) {
    const c = new ICAL.Component(structuredClone(o.component.toJSON()));
    for (const name of ['rrule', 'rdate', 'exdate', 'duration', 'dtend', 'due']) c.removeAllProperties(name);
    if (parsed.kind === 'VTODO' && !o.component.hasProperty('dtstart')) {
      setTime(c, 'due', o.start, o.isDate);
    } else {
      setTime(c, 'dtstart', o.start, o.isDate);
      if (o.component.hasProperty('due')) setTime(c, 'due', o.end, o.isDate);
      else if (o.end !== o.start || o.component.hasProperty('dtend') || o.component.hasProperty('duration')) setTime(c, parsed.kind === 'VTODO' ? 'due' : 'dtend', o.end, o.isDate);
    }
    if (o.recurrenceId !== null && e.recurring) setTime(c, 'recurrence-id', o.recurrenceId, o.isDate);
    out.addSubcomponent(c);
  }
  return out;
}

/** The master and the overridden instances that touch the range (RFC 4791 §9.6.6). */
function limited(parsed: ParsedCalendar, range: TimeRange, zone: Zone | null): ICAL.Component {
  const start = range.start ?? Number.MIN_SAFE_INTEGER;
  const end = range.end ?? Number.MAX_SAFE_INTEGER;
  const e = expand(parsed, { floatingZone: zone, until: end, maxSteps: 50_000, maxOccurrences: 10_000 });
  const keep = new Set<ICAL.Component>();
  if (parsed.master) keep.add(parsed.master);
  for (const o of e.occurrences) if (o.component !== parsed.master && o.end >= start && o.start < end) keep.add(o.component);
  const out = new ICAL.Component(structuredClone(parsed.root.toJSON()));
  for (const c of out.getAllSubcomponents()) out.removeSubcomponent(c);
  for (const c of parsed.root.getAllSubcomponents()) if (c.name === 'vtimezone' || keep.has(c)) out.addSubcomponent(new ICAL.Component(structuredClone(c.toJSON())));
  return out;
}

function select(c: ICAL.Component, s: CompSelection): ICAL.Component {
  const out = new ICAL.Component([c.name, [], []]);
  for (const p of c.getAllProperties()) {
    if (s.props === null || s.props.includes(p.name.toUpperCase())) out.addProperty(ICAL.Property.fromString(p.toICALString()));
  }
  for (const k of c.getAllSubcomponents()) {
    const sub = s.comps === null ? { name: k.name.toUpperCase(), props: null, comps: null } : s.comps.find((x) => x.name === k.name.toUpperCase());
    if (sub) out.addSubcomponent(select(k, sub));
  }
  return out;
}

/** The calendar-data to return for one object. `data` is the stored text, returned untouched when nothing else is asked. */
export function renderCalendarData(data: string, request: CalendarDataRequest, zone: Zone | null, parsed?: ParsedCalendar, budget?: ExpansionBudget): string {
  if (wantsWholeObject(request)) return data;
  const p = parsed ?? parseCalendarObject(data);
  let root = request.expand ? expanded(p, request.expand, zone, budget) : request.limitRecurrenceSet ? limited(p, request.limitRecurrenceSet, zone) : p.root;
  if (request.select) root = select(root, request.select);
  return root.toString().replace(/\r?\n/g, '\r\n').replace(/(\r\n)?$/, '\r\n');
}
