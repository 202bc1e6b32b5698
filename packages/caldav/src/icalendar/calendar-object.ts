import ICAL from 'ical.js';
import type { ComponentKind } from '@palabre/core';
import { fixedOffsetZone, zoneForTzid } from './zones.js';

/**
 * A calendar object resource (RFC 4791 §4.1) read once and checked before anything is stored: one
 * VCALENDAR, no METHOD, one kind of component (VTIMEZONEs aside), one UID shared by a master and its
 * overridden instances, and bounds on everything a hostile client could inflate (components,
 * attendees, time zone rules, dates). Refusals carry the RFC 4791 precondition a client is told.
 */

export type CalendarCondition =
  | 'valid-calendar-data'
  | 'valid-calendar-object-resource'
  | 'supported-calendar-component'
  | 'max-resource-size'
  | 'max-instances'
  | 'valid-calendar-timezone';

export class CalendarDataError extends Error {
  constructor(
    readonly condition: CalendarCondition,
    message: string,
  ) {
    super(message);
    this.name = 'CalendarDataError';
  }
}

export interface CalendarLimits {
  /** Bytes of one object (CALDAV:max-resource-size). */
  readonly maxBytes: number;
  /** Components of the object's kind (a master and its overridden instances). */
  readonly maxComponents: number;
  readonly maxAttendees: number;
  /** STANDARD/DAYLIGHT observances of one VTIMEZONE. */
  readonly maxObservances: number;
  /** RDATE and EXDATE values of one component. */
  readonly maxDates: number;
  /** Properties of one component. */
  readonly maxProperties: number;
}

export const DEFAULT_CALENDAR_LIMITS: CalendarLimits = {
  maxBytes: 2 * 1024 * 1024,
  maxComponents: 1000,
  maxAttendees: 1000,
  maxObservances: 400,
  maxDates: 2000,
  maxProperties: 3000,
};

export const CALENDAR_KINDS: readonly ComponentKind[] = ['VEVENT', 'VTODO', 'VJOURNAL', 'VFREEBUSY', 'VAVAILABILITY'];

export interface ParsedCalendar {
  readonly root: ICAL.Component;
  readonly kind: ComponentKind;
  readonly uid: string;
  /** The component without RECURRENCE-ID (null when the object holds only overridden instances). */
  readonly master: ICAL.Component | null;
  readonly overrides: readonly ICAL.Component[];
  /** VTIMEZONE components by TZID. */
  readonly timezones: ReadonlyMap<string, ICAL.Component>;
}

// C0 controls other than HTAB, LF and CR, and DEL: RFC 5545 §3.1 allows none of them in content lines.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

function fail(condition: CalendarCondition, message: string): never {
  throw new CalendarDataError(condition, message);
}

/** Parse text as iCalendar, or refuse with valid-calendar-data. */
export function parseICalendar(text: string, limits: CalendarLimits = DEFAULT_CALENDAR_LIMITS): ICAL.Component {
  if (Buffer.byteLength(text) > limits.maxBytes) fail('max-resource-size', `a calendar object is at most ${limits.maxBytes} bytes`);
  const control = CONTROL.exec(text);
  if (control) fail('valid-calendar-data', `control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} in the data`);
  let parsed: unknown;
  try {
    parsed = ICAL.parse(text);
  } catch (error) {
    fail('valid-calendar-data', `not iCalendar: ${String((error as Error).message).slice(0, 120)}`);
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') fail('valid-calendar-data', 'one VCALENDAR is expected');
  checkShape(parsed, limits);
  const root = new ICAL.Component(parsed as unknown[]);
  if (root.name !== 'vcalendar') fail('valid-calendar-data', 'the data must be a VCALENDAR');
  return root;
}

/**
 * Nesting as deep as RFC 5545 and its extensions go (VCALENDAR > VEVENT > PARTICIPANT > VLOCATION) and
 * a bounded number of components in all, read from the parsed jCal before any component is built: a
 * VEVENT holding 90,000 X-components, or X-components 40,000 deep, is refused instead of stored
 * (rendering one recurses through every level).
 */
const MAX_NESTING = 4;

function checkShape(jcal: unknown[], limits: CalendarLimits): void {
  const maxTotal = limits.maxComponents * 5;
  let total = 0;
  const stack: [unknown[], number][] = [[jcal, 1]];
  while (stack.length) {
    const [component, depth] = stack.pop()!;
    if (depth > MAX_NESTING) fail('valid-calendar-data', `components nest at most ${MAX_NESTING} deep`);
    const children = component[2];
    if (!Array.isArray(children)) continue;
    total += children.length;
    if (total > maxTotal) fail('valid-calendar-object-resource', `at most ${maxTotal} components in one object`);
    for (const c of children) if (Array.isArray(c)) stack.push([c, depth + 1]);
  }
}

/** Check every date and duration of a component can be read (ical.js reads values lazily). */
function readValues(component: ICAL.Component, names: readonly string[]): void {
  for (const name of names) {
    for (const prop of component.getAllProperties(name)) {
      try {
        for (const v of prop.getValues()) {
          if (v && typeof v === 'object' && 'toString' in v) (v as { toString(): string }).toString();
        }
      } catch (error) {
        fail('valid-calendar-data', `invalid ${name.toUpperCase()}: ${String((error as Error).message).slice(0, 80)}`);
      }
    }
  }
}

const TIME_PROPERTIES = ['dtstart', 'dtend', 'due', 'duration', 'recurrence-id', 'rdate', 'exdate', 'completed', 'created', 'rrule'];

function checkComponent(c: ICAL.Component, limits: CalendarLimits): void {
  if (c.getAllProperties('attendee').length > limits.maxAttendees) fail('valid-calendar-object-resource', `at most ${limits.maxAttendees} attendees per component`);
  if (c.getAllProperties().length > limits.maxProperties) fail('valid-calendar-object-resource', `a component has at most ${limits.maxProperties} properties`);
  let dates = 0;
  for (const p of [...c.getAllProperties('rdate'), ...c.getAllProperties('exdate')]) dates += p.getValues().length;
  if (dates > limits.maxDates) fail('valid-calendar-object-resource', `at most ${limits.maxDates} RDATE and EXDATE values per component`);
  if (c.getAllProperties('rrule').length > 4) fail('valid-calendar-object-resource', 'at most 4 RRULEs per component');
  readValues(c, TIME_PROPERTIES);
  if (c.hasProperty('dtend') && c.hasProperty('due')) fail('valid-calendar-data', 'DTEND and DUE do not go together');
  const kids = c.getAllSubcomponents();
  if (kids.length > 100) fail('valid-calendar-data', 'at most 100 alarms per component');
  for (const k of kids) {
    if (k.getAllProperties().length > limits.maxProperties) fail('valid-calendar-data', `a component has at most ${limits.maxProperties} properties`);
    if (k.getAllSubcomponents().length > 0 && k.name === 'valarm') fail('valid-calendar-data', 'an alarm holds no components');
  }
}

/**
 * Every TZID a time names is a zone: one of the object's VTIMEZONEs (RFC 5545 §3.2.19), one RFC 7809 lets
 * a client leave out (IANA, Windows names), or an offset spelled in the name. Anything else would be read
 * as floating time and land hours away from where its writer meant it.
 */
function checkTzids(c: ICAL.Component, timezones: ReadonlyMap<string, ICAL.Component>): void {
  for (const name of TIME_PROPERTIES) {
    for (const prop of c.getAllProperties(name)) {
      const tzid = prop.getFirstParameter('tzid');
      if (typeof tzid !== 'string' || !tzid) continue;
      if (timezones.has(tzid.trim()) || zoneForTzid(tzid) || fixedOffsetZone(tzid)) continue;
      fail('valid-calendar-data', `TZID ${tzid.slice(0, 60)} is no time zone: send its VTIMEZONE`);
    }
  }
}

function uidOf(c: ICAL.Component): string {
  const uid = c.getFirstPropertyValue('uid');
  return typeof uid === 'string' ? uid.trim() : '';
}

/**
 * A calendar object resource as CalDAV stores it. `allowed` is the collection's
 * supported-calendar-component-set.
 */
export function parseCalendarObject(text: string, allowed: readonly ComponentKind[] = CALENDAR_KINDS, limits: CalendarLimits = DEFAULT_CALENDAR_LIMITS): ParsedCalendar {
  const root = parseICalendar(text, limits);
  if (root.hasProperty('method')) fail('valid-calendar-object-resource', 'a stored calendar object has no METHOD (RFC 4791 §4.1)');
  const timezones = new Map<string, ICAL.Component>();
  const items: ICAL.Component[] = [];
  let kind: ComponentKind | null = null;
  const children = root.getAllSubcomponents();
  if (children.length > limits.maxComponents + 50) fail('valid-calendar-object-resource', `at most ${limits.maxComponents} components per object`);
  for (const child of children) {
    const name = child.name.toUpperCase();
    if (name === 'VTIMEZONE') {
      const tzid = child.getFirstPropertyValue('tzid');
      if (typeof tzid !== 'string' || !tzid.trim()) fail('valid-calendar-data', 'a VTIMEZONE needs a TZID');
      const observances = child.getAllSubcomponents();
      if (observances.length > limits.maxObservances) fail('valid-calendar-object-resource', `a VTIMEZONE has at most ${limits.maxObservances} observances`);
      for (const o of observances) {
        if (o.name !== 'standard' && o.name !== 'daylight') fail('valid-calendar-data', 'a VTIMEZONE holds STANDARD and DAYLIGHT observances');
        readValues(o, ['dtstart', 'rdate', 'rrule', 'tzoffsetfrom', 'tzoffsetto']);
        if (o.getAllProperties('rdate').reduce((n, p) => n + p.getValues().length, 0) > limits.maxDates) fail('valid-calendar-object-resource', 'too many RDATEs in a VTIMEZONE');
      }
      timezones.set(tzid.trim(), child);
      continue;
    }
    if (!CALENDAR_KINDS.includes(name as ComponentKind)) fail('valid-calendar-object-resource', `unexpected ${name.slice(0, 40)} component`);
    if (kind && kind !== name) fail('valid-calendar-object-resource', 'a calendar object holds one kind of component (RFC 4791 §4.1)');
    kind = name as ComponentKind;
    items.push(child);
  }
  if (!kind || items.length === 0) fail('valid-calendar-object-resource', 'the object holds no VEVENT, VTODO, VJOURNAL or VFREEBUSY');
  if (!allowed.includes(kind)) fail('supported-calendar-component', `this calendar does not accept ${kind}`);
  if (items.length > limits.maxComponents) fail('valid-calendar-object-resource', `at most ${limits.maxComponents} components per object`);
  const uid = uidOf(items[0]!);
  if (!uid) fail('valid-calendar-object-resource', 'every component needs a UID');
  let master: ICAL.Component | null = null;
  const overrides: ICAL.Component[] = [];
  const seen = new Set<string>();
  for (const c of items) {
    if (uidOf(c) !== uid) fail('valid-calendar-object-resource', 'all components of an object share one UID (RFC 4791 §4.1)');
    checkComponent(c, limits);
    checkTzids(c, timezones);
    if (kind === 'VEVENT' && !c.hasProperty('dtstart')) fail('valid-calendar-data', 'a VEVENT needs a DTSTART');
    const rid = c.getFirstProperty('recurrence-id');
    if (!rid) {
      if (master) fail('valid-calendar-object-resource', 'only one component without RECURRENCE-ID');
      master = c;
      continue;
    }
    const key = String(rid.getFirstValue());
    if (seen.has(key)) fail('valid-calendar-object-resource', 'two components override the same instance');
    seen.add(key);
    overrides.push(c);
  }
  return { root, kind, uid, master, overrides, timezones };
}
