import ICAL from 'ical.js';
import { MAX_INSTANCES, type Instance, type ObjectIndex } from '@palabre/core';
import type { ParsedCalendar } from './calendar-object.js';
import { expand, isUtc, localMs, zoneResolver } from './recurrence.js';
import { fold } from './text-match.js';

/** How far ahead of now a series is expanded into the index; queries beyond ask the rule. */
export const INDEX_HORIZON_MS = 10 * 366 * 86_400_000;
/** How far back from now a long series keeps its occurrences in the index. */
const KEPT_PAST_MS = 366 * 86_400_000;
/** Occurrences expanded when an object is written (a daily series of 55 years), of which MAX_INSTANCES are kept. */
const EXPANDED_AT_WRITE = 20_000;

const SEARCHED = ['summary', 'location', 'description', 'categories', 'organizer', 'attendee'];
const MAX_FIELD = 2000;

/** The fold of the stored search text: the widest of the collations, so a prefilter never misses a match. */
export const searchFold = (text: string): string => fold(text, 'i;unicode-casemap').replace(/[\r\n]+/g, ' ');

/** The folded text a text-match prefilters with: one `name:value` line per searched property. */
export function calendarSearchText(parsed: ParsedCalendar): string | null {
  const lines: string[] = [];
  for (const c of [parsed.master, ...parsed.overrides]) {
    if (!c) continue;
    for (const name of SEARCHED) {
      for (const prop of c.getAllProperties(name)) {
        const text = prop.getValues().map(String).join(',').slice(0, MAX_FIELD);
        if (text) lines.push(`${name}:${searchFold(text)}`);
      }
    }
    if (lines.length > 200) break;
  }
  const out = lines.join('\n');
  return out ? out.slice(0, 60_000) : null;
}

/**
 * The columns the store filters on (core ObjectIndex), computed once when an object is written: the
 * first occurrences up to MAX_INSTANCES or the horizon, exact for VEVENT and VJOURNAL (RFC 4791
 * §9.9's overlap and instant rules are what the store applies), a superset window for VTODO (whose
 * DUE/COMPLETED/CREATED rules are checked on the parsed object), and "ask me" for VAVAILABILITY.
 */
export function calendarIndex(parsed: ParsedCalendar, now: number): ObjectIndex {
  const base = { uid: parsed.uid, component: parsed.kind, searchText: calendarSearchText(parsed) };
  if (parsed.kind === 'VEVENT' || parsed.kind === 'VJOURNAL') {
    const e = expand(parsed, { until: now + INDEX_HORIZON_MS, maxOccurrences: EXPANDED_AT_WRITE, maxSteps: EXPANDED_AT_WRITE * 2 });
    const all = e.occurrences;
    // A long series keeps MAX_INSTANCES contiguous occurrences starting a year before now (earlier
    // if the series ends sooner), not its first ones: the present is what clients ask about.
    const wanted = all.findIndex((o) => o.start >= now - KEPT_PAST_MS);
    const first = all.length <= MAX_INSTANCES ? 0 : Math.max(0, Math.min(wanted < 0 ? all.length : wanted, all.length - MAX_INSTANCES));
    const kept = all.slice(first, first + MAX_INSTANCES);
    const cutAtEnd = first + MAX_INSTANCES < all.length;
    const instances: Instance[] = kept.map((o) => ({ start: o.start, end: Math.max(o.start, o.end) }));
    const complete = e.complete && !cutAtEnd;
    return {
      ...base,
      firstStart: all[0]?.start ?? null,
      lastEnd: complete ? (instances.length ? Math.max(...instances.map((i) => i.end)) : null) : null,
      floating: e.floating,
      recurring: e.recurring,
      instances,
      instancesUntil: cutAtEnd ? all[first + MAX_INSTANCES]!.start : e.complete ? null : (e.completeUntil ?? Number.MIN_SAFE_INTEGER),
      instancesFrom: first > 0 ? kept[0]!.start : null,
      exact: true,
    };
  }
  if (parsed.kind === 'VTODO') return todoIndex(parsed, now, base);
  if (parsed.kind === 'VFREEBUSY') return freeBusyIndex(parsed, base);
  // VAVAILABILITY: no instances of its own; every time-range query checks it.
  return { ...base, firstStart: null, lastEnd: null, floating: false, recurring: false, instances: [], instancesUntil: Number.MIN_SAFE_INTEGER, instancesFrom: null, exact: false };
}

function todoIndex(parsed: ParsedCalendar, now: number, base: Pick<ObjectIndex, 'uid' | 'component' | 'searchText'>): ObjectIndex {
  const resolve = zoneResolver(parsed);
  const times: number[] = [];
  let floating = false;
  for (const c of [parsed.master, ...parsed.overrides]) {
    if (!c) continue;
    for (const name of ['dtstart', 'due', 'completed', 'created']) {
      const prop = c.getFirstProperty(name);
      const v = prop?.getFirstValue();
      if (!(v instanceof ICAL.Time)) continue;
      const local = localMs(v);
      const tzid = prop!.getFirstParameter('tzid');
      const zone = !v.isDate && !isUtc(v) && typeof tzid === 'string' && tzid ? resolve(tzid) : null;
      if (v.isDate || (!isUtc(v) && !zone)) floating = true;
      times.push(zone ? zone.toUtc(local) : local);
    }
  }
  const always = { ...base, firstStart: null, lastEnd: null, floating, recurring: false, instances: [], instancesUntil: Number.MIN_SAFE_INTEGER, instancesFrom: null, exact: false };
  if (times.length === 0) return always;
  const e = expand(parsed, { until: now + INDEX_HORIZON_MS, maxOccurrences: MAX_INSTANCES, maxSteps: 20_000 });
  const ends = e.occurrences.map((o) => o.end);
  const start = Math.min(...times, ...e.occurrences.map((o) => o.start));
  const onlyCreated = times.length === 1 && !parsed.master?.hasProperty('dtstart') && !parsed.master?.hasProperty('due') && !parsed.master?.hasProperty('completed');
  const end = onlyCreated || !e.complete || e.unbounded ? Number.MAX_SAFE_INTEGER : Math.max(...times, ...ends);
  return { ...base, firstStart: start, lastEnd: end === Number.MAX_SAFE_INTEGER ? null : end, floating: floating || e.floating, recurring: e.recurring, instances: [{ start, end }], instancesUntil: null, instancesFrom: null, exact: false };
}

function freeBusyIndex(parsed: ParsedCalendar, base: Pick<ObjectIndex, 'uid' | 'component' | 'searchText'>): ObjectIndex {
  const e = expand(parsed, { maxOccurrences: MAX_INSTANCES });
  const instances: Instance[] = e.occurrences.map((o) => ({ start: o.start, end: Math.max(o.start, o.end) }));
  for (const c of [parsed.master, ...parsed.overrides]) {
    for (const prop of c?.getAllProperties('freebusy') ?? []) {
      for (const p of prop.getValues()) {
        if (!(p instanceof ICAL.Period) || instances.length >= MAX_INSTANCES) continue;
        const start = p.start.toUnixTime() * 1000;
        const end = p.end ? p.end.toUnixTime() * 1000 : p.duration ? start + p.duration.toSeconds() * 1000 : start;
        instances.push({ start, end: Math.max(start, end) });
      }
    }
  }
  instances.sort((a, b) => a.start - b.start);
  return {
    ...base,
    firstStart: instances[0]?.start ?? null,
    lastEnd: instances.length ? Math.max(...instances.map((i) => i.end)) : null,
    floating: e.floating,
    recurring: false,
    instances,
    instancesUntil: null,
    instancesFrom: null,
    exact: true,
  };
}
