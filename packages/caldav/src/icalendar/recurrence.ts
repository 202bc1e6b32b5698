import ICAL from 'ical.js';
import { CalendarDataError, type ParsedCalendar } from './calendar-object.js';
import { fixedOffsetZone, vtimezoneZone, zoneForTzid, type Zone } from './zones.js';

/**
 * Occurrences of a calendar object (RFC 5545 §3.8.5): the master's DTSTART, RRULE and RDATE, minus
 * EXDATE, with overridden instances (RECURRENCE-ID) in place of the ones they replace. Rules are
 * expanded in the wall-clock time of DTSTART's zone (a 09:00 meeting stays at 09:00 across DST), and
 * instances are compared by instant, never by the text of their values (clients write RECURRENCE-ID
 * and EXDATE in other zones or as dates).
 *
 * Times are milliseconds: instants (UTC) for zoned times, wall-clock read as UTC for floating times
 * and dates, unless a zone for floating times is given, which turns everything into instants.
 */

export const DAY = 86_400_000;

export interface Occurrence {
  readonly start: number;
  readonly end: number;
  readonly floating: boolean;
  readonly isDate: boolean;
  /** The instance's original start in the same frame, for a recurring object; null otherwise. */
  readonly recurrenceId: number | null;
  /** The master, or the override that replaced this instance. */
  readonly component: ICAL.Component;
}

export interface ExpandOptions {
  /** Stop after occurrences starting at or after this (exclusive bound, in the occurrences' frame). */
  readonly until?: number;
  readonly maxOccurrences?: number;
  /** RRULE steps at most (each is bounded: rules that can never match are refused first). */
  readonly maxSteps?: number;
  /** ical.js iterator work at most (see boundedIterator): rules that match once in decades cost one step each. */
  readonly maxWork?: number;
  /** The zone floating times and dates are read in (the calendar's or the query's), making every time an instant. */
  readonly floatingZone?: Zone | null;
  /**
   * Occurrences wanted from here on (a query's window start): simple open-ended rules (see skipAhead)
   * start iterating near it instead of at DTSTART; instances starting more than SKIP_MARGIN_MS before
   * it may then be missing.
   */
  readonly from?: number;
}

/** How far before `from` a skipped-ahead daily or weekly series starts again: covers alarms and instances up to a year long. */
export const SKIP_MARGIN_MS = 400 * DAY;

export interface Expansion {
  readonly occurrences: Occurrence[];
  /** Every occurrence of the object is in `occurrences`. */
  readonly complete: boolean;
  /** When incomplete: the occurrences are complete before this instant. */
  readonly completeUntil: number | null;
  /** The rule has neither COUNT nor UNTIL. */
  readonly unbounded: boolean;
  readonly recurring: boolean;
  /** Some time of the object is floating or a date. */
  readonly floating: boolean;
}

interface TimeValue {
  readonly ms: number;
  readonly floating: boolean;
  readonly isDate: boolean;
}

/** A time written in UTC ("Z"). ical.js keeps the written zone name in an untyped field. */
export const isUtc = (t: ICAL.Time): boolean => t.zone === ICAL.Timezone.utcTimezone || (t as unknown as { timezone?: string }).timezone === 'Z';

export const localMs = (t: ICAL.Time): number => {
  const ms = Date.UTC(t.year, t.month - 1, t.day, t.isDate ? 0 : t.hour, t.isDate ? 0 : t.minute, t.isDate ? 0 : t.second);
  return t.year < 100 && t.year >= 0 ? new Date(ms).setUTCFullYear(t.year) : ms;
};

/** Resolves TZIDs once per object: IANA (after clients' spellings), then the object's VTIMEZONE, then an offset. */
export function zoneResolver(parsed: Pick<ParsedCalendar, 'timezones'>): (tzid: string) => Zone | null {
  const cache = new Map<string, Zone | null>();
  return (tzid) => {
    let zone = cache.get(tzid);
    if (zone === undefined) {
      zone = zoneForTzid(tzid);
      if (!zone) {
        const vtz = parsed.timezones.get(tzid.trim());
        if (vtz) {
          try {
            zone = vtimezoneZone(tzid.trim(), vtz);
          } catch {
            zone = null;
          }
        }
      }
      zone ??= fixedOffsetZone(tzid);
      cache.set(tzid, zone);
    }
    return zone;
  };
}

class Frame {
  constructor(
    private readonly resolve: (tzid: string) => Zone | null,
    readonly floatingZone: Zone | null,
  ) {}

  /** A DATE or DATE-TIME value of a property, with the property's TZID. */
  value(time: ICAL.Time, tzid: string | null): TimeValue {
    const local = localMs(time);
    if (time.isDate) return this.floatingValue(local, true);
    if (isUtc(time)) return { ms: local, floating: false, isDate: false };
    const zone = tzid ? this.resolve(tzid) : null;
    if (zone) return { ms: zone.toUtc(local), floating: false, isDate: false };
    return this.floatingValue(local, false);
  }

  private floatingValue(local: number, isDate: boolean): TimeValue {
    if (this.floatingZone) return { ms: this.floatingZone.toUtc(local), floating: false, isDate };
    return { ms: local, floating: true, isDate };
  }

  zoneOf(tzid: string | null, time: ICAL.Time): Zone | null {
    if (time.isDate || isUtc(time)) return null;
    return tzid ? this.resolve(tzid) : null;
  }
}

const tzidOf = (prop: ICAL.Property): string | null => {
  const p = prop.getFirstParameter('tzid');
  return typeof p === 'string' && p ? p : null;
};

function propTime(c: ICAL.Component, name: string): { time: ICAL.Time; tzid: string | null } | null {
  const prop = c.getFirstProperty(name);
  if (!prop) return null;
  const v = prop.getFirstValue();
  return v instanceof ICAL.Time ? { time: v, tzid: tzidOf(prop) } : null;
}

/** Nominal days (wall clock) and exact milliseconds. */
interface Span {
  readonly days: number;
  readonly ms: number;
}

function durationSpan(d: ICAL.Duration): Span {
  if (d.isNegative) return { days: 0, ms: 0 };
  return { days: d.weeks * 7 + d.days, ms: ((d.hours * 60 + d.minutes) * 60 + d.seconds) * 1000 };
}

/** The span of one instance: DTEND (or DUE for a VTODO) as an exact difference, DURATION as written, else a day for dates and nothing for times. */
function spanOf(c: ICAL.Component, frame: Frame, start: TimeValue): Span {
  const endProp = propTime(c, c.name === 'vtodo' ? 'due' : 'dtend');
  if (endProp) {
    const end = frame.value(endProp.time, endProp.tzid);
    if (start.isDate && end.isDate) return { days: Math.max(0, Math.round((end.ms - start.ms) / DAY)), ms: 0 };
    return { days: 0, ms: Math.max(0, end.ms - start.ms) };
  }
  const duration = c.getFirstPropertyValue('duration');
  if (duration instanceof ICAL.Duration) return durationSpan(duration);
  return start.isDate && c.name !== 'vtodo' ? { days: 1, ms: 0 } : { days: 0, ms: 0 };
}

function endOf(start: number, local: number, span: Span, zone: Zone | null, frame: Frame, isDate: boolean): number {
  if (span.days === 0) return start + span.ms;
  const endLocal = local + span.days * DAY;
  if (zone) return zone.toUtc(endLocal) + span.ms;
  if (frame.floatingZone && isDate) return frame.floatingZone.toUtc(endLocal) + span.ms;
  if (frame.floatingZone) return frame.floatingZone.toUtc(endLocal) + span.ms;
  return endLocal + span.ms;
}

const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Refuse what RFC 5545 forbids or what cannot be expanded in bounded time: FREQ=SECONDLY, MINUTELY
 * without COUNT, BYYEARDAY and BYWEEKNO outside YEARLY, BYMONTHDAY with WEEKLY. Returns false when the
 * rule can never match (BYMONTH=2;BYMONTHDAY=30): the series is then its DTSTART alone.
 */
export function checkRule(rule: ICAL.Recur): boolean {
  const freq = rule.freq;
  const parts = rule.parts as Record<string, unknown[] | undefined>;
  const has = (name: string) => Array.isArray(parts[name]) && parts[name]!.length > 0;
  if (!freq) throw new CalendarDataError('valid-calendar-data', 'an RRULE needs a FREQ');
  if (freq === 'SECONDLY') throw new CalendarDataError('valid-calendar-object-resource', 'FREQ=SECONDLY is not supported');
  if (freq === 'MINUTELY' && (!rule.count || rule.count > 5000 || has('BYDAY') || has('BYMONTHDAY') || has('BYMONTH') || has('BYYEARDAY') || has('BYWEEKNO'))) {
    throw new CalendarDataError('valid-calendar-object-resource', 'FREQ=MINUTELY is supported with a COUNT of at most 5000 and no day or month rules');
  }
  if ((has('BYYEARDAY') || has('BYWEEKNO')) && freq !== 'YEARLY') throw new CalendarDataError('valid-calendar-data', 'BYYEARDAY and BYWEEKNO go with FREQ=YEARLY');
  if (has('BYMONTHDAY') && freq === 'WEEKLY') throw new CalendarDataError('valid-calendar-data', 'BYMONTHDAY does not go with FREQ=WEEKLY');
  if (rule.interval !== undefined && (!Number.isInteger(rule.interval) || rule.interval < 1 || rule.interval > 10_000)) {
    throw new CalendarDataError('valid-calendar-data', 'INTERVAL must be a positive whole number');
  }
  if (has('BYMONTHDAY')) {
    const months = has('BYMONTH') ? (parts.BYMONTH as number[]) : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const days = parts.BYMONTHDAY as number[];
    const possible = months.some((m) => days.some((d) => Number.isInteger(d) && d !== 0 && Math.abs(d) <= (MONTH_DAYS[m - 1] ?? 0)));
    if (!possible) return false;
  }
  return true;
}

/**
 * A YEARLY rule without day parts recurs on DTSTART's month and day (RFC 5545 §3.3.10). ical.js rolls a
 * 29 February over to 1 March in other years instead of skipping them: spelling the implied parts out
 * makes it skip invalid dates as the RFC says.
 */
function withImpliedParts(rule: ICAL.Recur, start: ICAL.Time): ICAL.Recur {
  if (rule.freq !== 'YEARLY') return rule;
  const parts = rule.parts as Record<string, unknown[] | undefined>;
  const has = (name: string) => Array.isArray(parts[name]) && parts[name]!.length > 0;
  if (has('BYMONTHDAY') || has('BYDAY') || has('BYYEARDAY') || has('BYWEEKNO')) return rule;
  const copy = rule.clone();
  if (!has('BYMONTH')) copy.setComponent('BYMONTH', [start.month]);
  copy.setComponent('BYMONTHDAY', [start.day]);
  return copy;
}

/** ical.js ran out of the work an expansion may take. */
class RuleWorkExceeded extends Error {}

/** Work units of an expansion: a daily series of some 70 years, a monthly one of 60. */
export const DEFAULT_RULE_WORK = 25_000;

/**
 * An ical.js iterator whose inner loops are counted. One `next()` of a rule that matches rarely or
 * never (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO, a BYSETPOS past the set) walks day by day or year
 * by year for up to 18,000 years, seconds of CPU in one call: every elementary step takes from the
 * budget what it walks (`next_second`, under every frequency, one unit; a month's or a year's set of
 * days, a unit per day), and the walk stops with RuleWorkExceeded when it is spent.
 */
const RULE_STEP_COST: Readonly<Record<string, number>> = { next_second: 1, next_month: 31, expand_year_days: 366 };

function boundedIterator(rule: ICAL.Recur, seed: ICAL.Time, budget: { left: number }): ICAL.RecurIterator {
  const iterator = new ICAL.RecurIterator({ rule, dtstart: seed, initialized: true } as ConstructorParameters<typeof ICAL.RecurIterator>[0]);
  const counted = iterator as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [name, cost] of Object.entries(RULE_STEP_COST)) {
    const inner = counted[name]!;
    counted[name] = function (this: unknown, ...args: unknown[]) {
      if ((budget.left -= cost) < 0) throw new RuleWorkExceeded();
      return inner.apply(this, args);
    };
  }
  try {
    (iterator as unknown as { init(): void }).init();
  } catch (error) {
    // ical.js's own "no instance can ever match": an iterator that yields nothing (as its constructor does).
    if ((error as Error)?.constructor?.name !== 'InvalidRecurrenceRuleError') throw error;
    (iterator as unknown as { completed: boolean }).completed = true;
  }
  return iterator;
}

/**
 * Whole periods a rule may skip to reach `fromLocal`: only for rules whose instances repeat every
 * period in wall-clock time whatever the date (FREQ=HOURLY/DAILY without BY parts, WEEKLY with plain
 * BYDAY days including DTSTART's), without COUNT (the count needs every instance). A daily series from
 * 2020 asked about 2090 would otherwise walk 25,000 days per object per query.
 */
function skipAhead(rule: ICAL.Recur, start: ICAL.Time, fromLocal: number, startLocal: number): { days: number; hours: number } | null {
  if (rule.count) return null;
  const parts = rule.parts as Record<string, unknown[] | undefined>;
  const used = Object.keys(parts).filter((k) => Array.isArray(parts[k]) && parts[k]!.length > 0);
  const interval = rule.interval || 1;
  let periodHours: number;
  if (rule.freq === 'HOURLY' && used.length === 0) periodHours = interval;
  else if (rule.freq === 'DAILY' && used.length === 0) periodHours = 24 * interval;
  else if (rule.freq === 'WEEKLY' && used.every((k) => k === 'BYDAY')) {
    const days = (parts.BYDAY ?? []) as string[];
    const names = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];
    if (days.some((d) => !names.includes(d))) return null;
    if (days.length && !days.includes(names[start.dayOfWeek() - 1]!)) return null;
    periodHours = 24 * 7 * interval;
  } else return null;
  // Hourly series restart a week before (a 400-day margin would be thousands of instances).
  const margin = rule.freq === 'HOURLY' ? 7 * DAY : SKIP_MARGIN_MS;
  const k = Math.floor((fromLocal - margin - startLocal) / (periodHours * 3600_000));
  if (k <= 0) return null;
  const hours = k * periodHours;
  return { days: Math.floor(hours / 24), hours: hours % 24 };
}

interface Candidate {
  readonly local: number;
  readonly start: number;
}

/**
 * Every occurrence up to the bounds. The caller decides what the bounds are: the index stores the
 * first ones, a query asks for those before its range ends.
 */
export function expand(parsed: ParsedCalendar, options: ExpandOptions = {}): Expansion {
  const maxOccurrences = options.maxOccurrences ?? 1000;
  const maxSteps = options.maxSteps ?? 20_000;
  const work = { left: options.maxWork ?? DEFAULT_RULE_WORK };
  const until = options.until ?? Number.MAX_SAFE_INTEGER;
  const frame = new Frame(zoneResolver(parsed), options.floatingZone ?? null);
  const master = parsed.master;
  const overrides = new Map<number, ICAL.Component>();
  let floating = false;
  const out: Occurrence[] = [];

  const single = (c: ICAL.Component, recurrenceId: number | null): Occurrence | null => {
    const s = propTime(c, 'dtstart') ?? (c.name === 'vtodo' ? propTime(c, 'due') : null);
    if (!s) return null;
    const start = frame.value(s.time, s.tzid);
    floating ||= start.floating;
    const zone = frame.zoneOf(s.tzid, s.time);
    const span = propTime(c, 'dtstart') ? spanOf(c, frame, start) : { days: 0, ms: 0 };
    return { start: start.ms, end: endOf(start.ms, localMs(s.time), span, zone, frame, start.isDate), floating: start.floating, isDate: start.isDate, recurrenceId, component: c };
  };

  // RECURRENCE-ID, EXDATE and RDATE written without a TZID are read in DTSTART's zone (clients drop it).
  const masterStart = master ? (propTime(master, 'dtstart') ?? (master.name === 'vtodo' ? propTime(master, 'due') : null)) : null;
  const defaultTzid = masterStart?.tzid ?? null;
  for (const o of parsed.overrides) {
    const rid = propTime(o, 'recurrence-id');
    if (!rid) continue;
    const value = frame.value(rid.time, rid.tzid ?? defaultTzid);
    overrides.set(value.ms, o);
  }

  const recurring = Boolean(master && (master.hasProperty('rrule') || master.hasProperty('rdate'))) || parsed.overrides.length > 0;
  if (!master) {
    // Only overridden instances (an invitation to one occurrence): each is an occurrence of its own.
    for (const [rid, o] of overrides) {
      const occ = single(o, rid);
      if (occ) out.push(occ);
    }
    out.sort((a, b) => a.start - b.start);
    return { occurrences: out, complete: true, completeUntil: null, unbounded: false, recurring, floating };
  }

  const dtstart = masterStart;
  if (!dtstart || !recurring) {
    const occ = single(master, null);
    return { occurrences: occ ? [occ] : [], complete: true, completeUntil: null, unbounded: false, recurring: false, floating };
  }

  const first = frame.value(dtstart.time, dtstart.tzid);
  floating ||= first.floating;
  const zone = frame.zoneOf(dtstart.tzid, dtstart.time);
  const span = propTime(master, 'dtstart') ? spanOf(master, frame, first) : { days: 0, ms: 0 };
  const toStart = (local: number): number => (zone ? zone.toUtc(local) : frame.floatingZone ? frame.floatingZone.toUtc(local) : local);
  // Bounds in wall-clock time for the iterator, with room for any offset.
  const untilLocal = until === Number.MAX_SAFE_INTEGER ? until : until + 15 * 3600_000;

  const excluded = new Set<number>();
  const excludedDays = new Set<number>();
  for (const prop of master.getAllProperties('exdate')) {
    for (const v of prop.getValues()) {
      if (!(v instanceof ICAL.Time)) continue;
      if (v.isDate && !first.isDate) excludedDays.add(localMs(v));
      else excluded.add(frame.value(v, tzidOf(prop) ?? defaultTzid).ms);
    }
  }

  const candidates: Candidate[] = [];
  let complete = true;
  let unbounded = false;
  let stoppedAt: number | null = null;
  const startLocal = localMs(dtstart.time);
  const seed = new ICAL.Time(
    { year: dtstart.time.year, month: dtstart.time.month, day: dtstart.time.day, hour: dtstart.time.hour, minute: dtstart.time.minute, second: dtstart.time.second, isDate: dtstart.time.isDate },
    ICAL.Timezone.localTimezone,
  );
  const rules = master.getAllProperties('rrule').map((p) => p.getFirstValue()).filter((r): r is ICAL.Recur => r instanceof ICAL.Recur);
  if (rules.length === 0) candidates.push({ local: startLocal, start: first.ms });
  let steps = 0;
  for (const rule of rules) {
    if (!rule.count && !rule.until) unbounded = true;
    if (!checkRule(rule)) {
      candidates.push({ local: startLocal, start: first.ms });
      continue;
    }
    let ruleSeed = seed;
    const skip = options.from !== undefined ? skipAhead(rule, dtstart.time, options.from + 15 * 3600_000, startLocal) : null;
    if (skip) {
      // Wall-clock periods: the seed moves by whole days and hours of local time, so DST does not shift it.
      ruleSeed = seed.clone();
      ruleSeed.adjust(skip.days, skip.hours, 0, 0);
    }
    let iterator: ICAL.RecurIterator;
    try {
      iterator = boundedIterator(withImpliedParts(rule, dtstart.time), ruleSeed, work);
    } catch (error) {
      if (error instanceof RuleWorkExceeded) {
        // Not even the first instance after DTSTART within the budget: the series is known up to DTSTART.
        candidates.push({ local: startLocal, start: first.ms });
        complete = false;
        stoppedAt = stoppedAt === null ? startLocal + 1 : Math.min(stoppedAt, startLocal + 1);
        continue;
      }
      throw new CalendarDataError('valid-calendar-data', 'an RRULE that cannot be expanded');
    }
    let count = 0;
    let ruleLast = startLocal;
    for (;;) {
      if (++steps > maxSteps) {
        complete = false;
        break;
      }
      let next: ICAL.Time | null;
      try {
        next = iterator.next();
      } catch (error) {
        if (error instanceof RuleWorkExceeded) {
          // The rule's next instance is further than the work allowed: known up to the last one found.
          complete = false;
          stoppedAt = stoppedAt === null ? ruleLast + 1 : Math.min(stoppedAt, ruleLast + 1);
          break;
        }
        throw new CalendarDataError('valid-calendar-data', 'an RRULE that cannot be expanded');
      }
      if (!next) break;
      const local = localMs(next);
      if (local >= untilLocal || count >= maxOccurrences + overrides.size + excluded.size + 1) {
        complete = false;
        stoppedAt = stoppedAt === null ? local : Math.min(stoppedAt, local);
        break;
      }
      candidates.push({ local, start: toStart(local) });
      ruleLast = local;
      count++;
    }
  }
  for (const prop of master.getAllProperties('rdate')) {
    for (const v of prop.getValues()) {
      if (v instanceof ICAL.Time) {
        const value = frame.value(v, tzidOf(prop) ?? defaultTzid);
        candidates.push({ local: localMs(v), start: value.ms });
      } else if (v instanceof ICAL.Period) {
        const value = frame.value(v.start, tzidOf(prop) ?? defaultTzid);
        const end = v.end ? frame.value(v.end, tzidOf(prop) ?? defaultTzid).ms : v.duration ? value.ms + durationSpan(v.duration).ms + durationSpan(v.duration).days * DAY : value.ms;
        out.push({ start: value.ms, end, floating: value.floating, isDate: false, recurrenceId: value.ms, component: master });
        excluded.add(value.ms); // Its own period: not the master's span again.
      }
    }
  }

  const seen = new Set<number>();
  for (const c of candidates.sort((a, b) => a.start - b.start)) {
    if (seen.has(c.start)) continue;
    seen.add(c.start);
    if (excluded.has(c.start) || (excludedDays.size > 0 && excludedDays.has(Math.floor(c.local / DAY) * DAY))) continue;
    const override = overrides.get(c.start);
    if (override) {
      const occ = single(override, c.start);
      if (occ) out.push(occ);
      overrides.delete(c.start);
      continue;
    }
    out.push({ start: c.start, end: endOf(c.start, c.local, span, zone, frame, first.isDate), floating: first.floating, isDate: first.isDate, recurrenceId: c.start, component: master });
  }
  // Overrides whose instance the rule did not produce (moved out of the set, or past the bounds).
  for (const [rid, o] of overrides) {
    if (!complete && stoppedAt !== null && rid >= toStart(stoppedAt)) continue;
    const occ = single(o, rid);
    if (occ) out.push(occ);
  }
  out.sort((a, b) => a.start - b.start || a.end - b.end);
  let kept = out;
  let completeUntil: number | null = complete ? null : stoppedAt !== null ? toStart(stoppedAt) : null;
  if (until !== Number.MAX_SAFE_INTEGER && (out.some((o) => o.start >= until) || !complete)) {
    // The iterator ran in wall-clock time with room for any offset: cut at the bound exactly.
    kept = out.filter((o) => o.start < until);
    if (kept.length < out.length || !complete) {
      complete = false;
      completeUntil = completeUntil === null ? until : Math.min(completeUntil, until);
    }
  }
  if (kept.length > maxOccurrences) {
    const next = kept[maxOccurrences]!.start;
    kept = kept.slice(0, maxOccurrences);
    completeUntil = completeUntil === null ? next : Math.min(completeUntil, next);
    complete = false;
  }
  if (!complete && completeUntil === null) completeUntil = kept.length ? kept[kept.length - 1]!.start + 1 : first.ms;
  return { occurrences: kept, complete, completeUntil, unbounded, recurring: true, floating };
}
