import ICAL from 'ical.js';
import { instanceOverlaps, type ComponentKind, type TimeRange } from '@palabre/core';
import type { ParsedCalendar } from './calendar-object.js';
import { DAY, expand, isUtc, localMs, zoneResolver, type Occurrence } from './recurrence.js';
import { searchFold } from './calendar-index.js';
import { valuesMatch, type TextMatch } from './text-match.js';
import type { Zone } from './zones.js';

/**
 * The filter of a calendar-query (RFC 4791 §9.7), evaluated on a parsed object. Time ranges follow
 * §9.9: recurring components match when one of their instances does, floating times are read in the
 * query's zone, VTODOs by their DTSTART/DUE/DURATION/COMPLETED/CREATED table, VALARMs by their trigger.
 */

export interface ParamFilter {
  readonly name: string;
  readonly isNotDefined: boolean;
  readonly textMatch: TextMatch | null;
}

export interface PropFilter {
  readonly name: string;
  readonly isNotDefined: boolean;
  readonly timeRange: TimeRange | null;
  readonly textMatch: TextMatch | null;
  readonly paramFilters: readonly ParamFilter[];
}

export interface CompFilter {
  readonly name: string;
  readonly isNotDefined: boolean;
  readonly timeRange: TimeRange | null;
  readonly propFilters: readonly PropFilter[];
  readonly compFilters: readonly CompFilter[];
}

/** Steps an object's expansion may take when a query asks its rule (a bounded CPU per object). */
const CHECK_STEPS = 50_000;

interface Context {
  readonly parsed: ParsedCalendar;
  readonly zone: Zone | null;
  occurrences?: Occurrence[];
  complete?: boolean;
  /** The `from` the occurrences were expanded with (undefined: from DTSTART). */
  from?: number;
}

const lo = (r: TimeRange) => r.start ?? Number.MIN_SAFE_INTEGER;
const hi = (r: TimeRange) => r.end ?? Number.MAX_SAFE_INTEGER;

/** Whether the object matches the filter, whose root is a comp-filter on VCALENDAR. */
export function matchesCalendarFilter(parsed: ParsedCalendar, filter: CompFilter, zone: Zone | null): boolean {
  if (filter.name !== 'VCALENDAR') return false;
  const ctx: Context = { parsed, zone };
  return compMatches(ctx, [parsed.root], filter);
}

function compMatches(ctx: Context, candidates: readonly ICAL.Component[], filter: CompFilter): boolean {
  const named = candidates.filter((c) => c.name.toUpperCase() === filter.name);
  if (filter.isNotDefined) return named.length === 0;
  return named.some((c) => {
    if (filter.timeRange && !componentInRange(ctx, c, filter.timeRange)) return false;
    if (!filter.propFilters.every((p) => propMatches(ctx, c, p))) return false;
    const kids = c.getAllSubcomponents();
    return filter.compFilters.every((f) => compMatches(ctx, kids, f));
  });
}

function propMatches(ctx: Context, c: ICAL.Component, filter: PropFilter): boolean {
  const props = c.getAllProperties(filter.name.toLowerCase());
  if (filter.isNotDefined) return props.length === 0;
  if (props.length === 0) return false;
  return props.some((p) => {
    if (filter.timeRange && !propertyInRange(ctx, p, filter.timeRange)) return false;
    if (filter.textMatch && !valuesMatch(textValues(p), filter.textMatch)) return false;
    return filter.paramFilters.every((f) => paramMatches(p, f));
  });
}

function paramMatches(p: ICAL.Property, filter: ParamFilter): boolean {
  const raw = p.getParameter(filter.name.toLowerCase());
  const values = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
  if (filter.isNotDefined) return values.length === 0;
  if (values.length === 0) return false;
  return filter.textMatch ? valuesMatch(values, filter.textMatch) : true;
}

/** A property's values as text, as a client wrote them (structured values joined as in iCalendar). */
export function textValues(p: ICAL.Property): string[] {
  return p.getValues().map((v) => (Array.isArray(v) ? v.join(';') : String(v)));
}

function occurrencesOf(ctx: Context, until: number, from?: number): Occurrence[] {
  // Expanded once per object for its first range; a later range starting earlier expands again.
  if (!ctx.occurrences || (ctx.from !== undefined && (from === undefined || from < ctx.from))) {
    ctx.from = from;
    const e = expand(ctx.parsed, { floatingZone: ctx.zone, until, from, maxSteps: CHECK_STEPS, maxOccurrences: 1_000_000 });
    ctx.occurrences = e.occurrences;
    ctx.complete = e.complete || (e.completeUntil !== null && e.completeUntil >= until);
  }
  return ctx.occurrences;
}

function componentInRange(ctx: Context, c: ICAL.Component, range: TimeRange): boolean {
  const name = c.name.toUpperCase();
  if (name === 'VALARM') return alarmInRange(ctx, c, range);
  if (name !== 'VEVENT' && name !== 'VTODO' && name !== 'VJOURNAL' && name !== 'VFREEBUSY' && name !== 'VAVAILABILITY') return true;
  const until = hi(range) === Number.MAX_SAFE_INTEGER ? hi(range) : hi(range) + 1;
  const from = lo(range) === Number.MIN_SAFE_INTEGER ? undefined : lo(range);
  const occurrences = occurrencesOf(ctx, until, from).filter((o) => o.component === c);
  if (name === 'VTODO') {
    if (todoWithoutDates(c)) return true;
    if (!c.hasProperty('dtstart') && !c.hasProperty('due')) return todoByCompletion(ctx, c, range);
    return occurrences.some((o) => todoMatches(o, range));
  }
  if (name === 'VJOURNAL' && !c.hasProperty('dtstart')) return false;
  if (name === 'VFREEBUSY') return freeBusyInRange(c, range) || occurrences.some((o) => instanceOverlaps(o, lo(range), hi(range)));
  if (name === 'VAVAILABILITY') return true;
  const hit = occurrences.some((o) => instanceOverlaps(o, lo(range), hi(range)));
  // A rule the budget could not expand up to the range: an extra object rather than a missing one.
  return hit || (ctx.complete === false && c === ctx.parsed.master);
}

function todoWithoutDates(c: ICAL.Component): boolean {
  return !['dtstart', 'due', 'completed', 'created'].some((n) => c.hasProperty(n));
}

function instant(ctx: Context, c: ICAL.Component, name: string): number | null {
  const prop = c.getFirstProperty(name);
  const v = prop?.getFirstValue();
  if (!(v instanceof ICAL.Time)) return null;
  const local = localMs(v);
  if (isUtc(v)) return local;
  const tzid = prop!.getFirstParameter('tzid');
  const zone = !v.isDate && typeof tzid === 'string' && tzid ? zoneResolver(ctx.parsed)(tzid) : null;
  if (zone) return zone.toUtc(local);
  return ctx.zone ? ctx.zone.toUtc(local) : local;
}

/** RFC 4791 §9.9's VTODO table, for one instance. */
function todoMatches(o: Occurrence, range: TimeRange): boolean {
  const c = o.component;
  const start = lo(range);
  const end = hi(range);
  const hasStart = c.hasProperty('dtstart');
  const hasDue = c.hasProperty('due');
  if (hasStart && c.hasProperty('duration')) return start <= o.end && (end > o.start || end >= o.end);
  if (hasStart && hasDue) return (start < o.end || start <= o.start) && (end > o.start || end >= o.end);
  if (hasStart) return start <= o.start && end > o.start;
  if (hasDue) return start < o.start && end >= o.start;
  return true;
}

/** The rows of RFC 4791 §9.9's VTODO table for a task with neither DTSTART nor DUE. */
function todoByCompletion(ctx: Context, c: ICAL.Component, range: TimeRange): boolean {
  const completed = instant(ctx, c, 'completed');
  const created = instant(ctx, c, 'created');
  const start = lo(range);
  const end = hi(range);
  if (completed !== null && created !== null) return (start <= created || start <= completed) && (end >= created || end >= completed);
  if (completed !== null) return start <= completed && end >= completed;
  if (created !== null) return end > created;
  return true;
}

function freeBusyInRange(c: ICAL.Component, range: TimeRange): boolean {
  for (const prop of c.getAllProperties('freebusy')) {
    for (const p of prop.getValues()) {
      if (!(p instanceof ICAL.Period)) continue;
      const s = p.start.toUnixTime() * 1000;
      const e = p.end ? p.end.toUnixTime() * 1000 : p.duration ? s + p.duration.toSeconds() * 1000 : s;
      if (instanceOverlaps({ start: s, end: e }, lo(range), hi(range))) return true;
    }
  }
  return false;
}

/** An alarm's trigger times (RFC 4791 §9.9: the alarm, with its repetitions, for every instance of its parent). */
function alarmInRange(ctx: Context, alarm: ICAL.Component, range: TimeRange): boolean {
  const parent = alarm.parent;
  const trigger = alarm.getFirstProperty('trigger');
  if (!parent || !trigger) return false;
  const value = trigger.getFirstValue();
  const repeat = Number(alarm.getFirstPropertyValue('repeat') ?? 0);
  const every = alarm.getFirstPropertyValue('duration');
  const times: number[] = [];
  const add = (t: number) => {
    times.push(t);
    if (every instanceof ICAL.Duration) for (let i = 1; i <= Math.min(repeat, 100); i++) times.push(t + every.toSeconds() * 1000 * i);
  };
  if (value instanceof ICAL.Time) {
    add(value.toUnixTime() * 1000);
  } else if (value instanceof ICAL.Duration) {
    const offset = value.toSeconds() * 1000;
    const related = String(trigger.getFirstParameter('related') ?? 'START').toUpperCase();
    const until = hi(range) === Number.MAX_SAFE_INTEGER ? hi(range) : hi(range) + Math.abs(offset) + 366 * DAY;
    for (const o of occurrencesOf(ctx, until).filter((x) => x.component === parent)) add((related === 'END' ? o.end : o.start) + offset);
  }
  return times.some((t) => lo(range) <= t && t < hi(range));
}

function propertyInRange(ctx: Context, p: ICAL.Property, range: TimeRange): boolean {
  const parent = p.parent;
  if (!parent) return false;
  const t = instant(ctx, parent, p.name);
  return t !== null && lo(range) <= t && t < hi(range);
}

/**
 * What the store can narrow a query down to before anything is parsed: the component under
 * VCALENDAR, its time range, and substrings every match must contain (positive text-matches on the
 * searched properties).
 */
export function prefilterOf(filter: CompFilter): { component?: ComponentKind; timeRange?: TimeRange; textContains: string[] } {
  const out: { component?: ComponentKind; timeRange?: TimeRange; textContains: string[] } = { textContains: [] };
  if (filter.name !== 'VCALENDAR' || filter.isNotDefined) return out;
  const inner = filter.compFilters.filter((f) => !f.isNotDefined);
  if (inner.length !== 1) return out;
  const comp = inner[0]!;
  out.component = comp.name as ComponentKind;
  if (comp.timeRange) out.timeRange = comp.timeRange;
  for (const p of comp.propFilters) {
    if (p.isNotDefined || !p.textMatch || p.textMatch.negate) continue;
    const name = p.name.toLowerCase();
    if (!['summary', 'location', 'description', 'categories', 'organizer', 'attendee'].includes(name)) continue;
    out.textContains.push(searchFold(p.textMatch.value));
  }
  return out;
}

/** Whether the filter is only what the store answers exactly: VCALENDAR > one component > an optional time-range. */
export function indexAnswers(filter: CompFilter): boolean {
  if (filter.name !== 'VCALENDAR' || filter.isNotDefined || filter.timeRange || filter.propFilters.length) return false;
  if (filter.compFilters.length === 0) return true;
  if (filter.compFilters.length !== 1) return false;
  const c = filter.compFilters[0]!;
  return !c.isNotDefined && c.propFilters.length === 0 && c.compFilters.length === 0;
}
