import ICAL from 'ical.js';
import { WINDOWS_ZONES } from './windows-zones.js';

/**
 * Time zones for recurrence and time ranges. Times are handled as milliseconds: an instant (UTC) or a
 * wall-clock time read as if it were UTC ("local"). A Zone turns one into the other.
 *
 * TZIDs are resolved through the IANA database that Node carries (Intl), after undoing what clients do
 * to zone names: Outlook's trailing spaces and Windows ids ("Romance Standard Time") or display names
 * ("(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"), Mozilla's and libical's prefixes
 * ("/mozilla.org/20070129_1/Europe/Paris"). Only a TZID the database does not know falls back to the
 * object's own VTIMEZONE. The database is preferred even when a VTIMEZONE is given: clients send
 * truncated definitions (a few years of rules), and an unbounded hostile one costs nothing this way.
 */
export interface Zone {
  readonly id: string;
  /** Wall-clock time → instant. A time in a spring-forward gap takes the offset before the gap (RFC 5545 §3.3.5); in a fall-back overlap, the first. */
  toUtc(local: number): number;
  /** Instant → wall-clock time. */
  toLocal(utc: number): number;
}

export const UTC_ZONE: Zone = { id: 'UTC', toUtc: (t) => t, toLocal: (t) => t };

const MINUTE = 60_000;
const HOUR = 3600_000;
const DAY_MS = 24 * HOUR;
const formatters = new Map<string, Intl.DateTimeFormat | null>();

function formatter(zone: string): Intl.DateTimeFormat | null {
  let f = formatters.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      f = null;
    }
    if (formatters.size > 2000) formatters.clear();
    formatters.set(zone, f);
  }
  return f;
}

class IanaZone implements Zone {
  /**
   * Spans of time with one offset, found by bisecting for the transitions around what was asked: a
   * series of thousands of occurrences costs a few dozen Intl calls per DST period, not several per
   * occurrence. Transitions fall on whole minutes, so spans are exact to the millisecond.
   */
  private spans: { start: number; end: number; offset: number }[] = [];

  constructor(
    readonly id: string,
    private readonly format: Intl.DateTimeFormat,
  ) {}

  offsetAt(utc: number): number {
    const spans = this.spans;
    let lo = 0;
    let hi = spans.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = spans[mid]!;
      if (utc < s.start) hi = mid - 1;
      else if (utc >= s.end) lo = mid + 1;
      else return s.offset;
    }
    const t = Math.floor(utc / MINUTE) * MINUTE;
    const offset = this.exact(t);
    const span = { start: this.edge(t, offset, -1), end: this.edge(t, offset, 1), offset };
    if (spans.length > 10_000) spans.length = 0;
    spans.splice(lo, 0, span);
    return offset;
  }

  /**
   * The first instant past `t` (dir 1) or the earliest instant (dir -1) that still has `offset`, within
   * about 1.4 years. Probes double up to 16 days and then go 16 days at a time: doubling further would
   * step over a short span of another offset (New York's winter of 1973–74, Casablanca's Ramadan months)
   * and take the two sides for one span.
   */
  private edge(t: number, offset: number, dir: 1 | -1): number {
    let good = t;
    for (let step = DAY_MS; step <= 512 * DAY_MS; step = step < 16 * DAY_MS ? step * 2 : step + 16 * DAY_MS) {
      const probe = t + dir * step;
      if (this.exact(probe) !== offset) {
        let bad = probe;
        while (Math.abs(bad - good) > MINUTE) {
          const mid = Math.floor((good + bad) / 2 / MINUTE) * MINUTE;
          if (this.exact(mid) === offset) good = mid;
          else bad = mid;
        }
        return Math.max(good, bad);
      }
      good = probe;
    }
    return dir === 1 ? good + 1 : good;
  }

  /** The zone's offset at an instant, from Intl. */
  private exact(at: number): number {
    const parts: Record<string, number> = {};
    for (const p of this.format.formatToParts(new Date(at))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    const year = parts.year!;
    const asUtc = Date.UTC(year, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
    // Years before 100 are taken by Date.UTC as 1900+: fix them.
    const local = year < 100 ? new Date(asUtc).setUTCFullYear(year) : asUtc;
    return local - Math.floor(at / 1000) * 1000;
  }

  toLocal(utc: number): number {
    return utc + this.offsetAt(utc);
  }

  toUtc(local: number): number {
    const before = this.offsetAt(local - 26 * HOUR);
    const after = this.offsetAt(local + 26 * HOUR);
    const early = local - before;
    const late = local - after;
    const earlyOk = this.offsetAt(early) === before;
    const lateOk = this.offsetAt(late) === after;
    if (earlyOk && lateOk) return Math.min(early, late);
    if (earlyOk) return early;
    if (lateOk) return late;
    // In the gap: the offset before it (the time is moved forward by the gap's length).
    return early;
  }
}

const zones = new Map<string, IanaZone | null>();

/** An IANA zone by exact name, or null. */
export function ianaZone(name: string): Zone | null {
  let z = zones.get(name);
  if (z === undefined) {
    const f = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name) ? formatter(name) : null;
    z = f ? new IanaZone(f.resolvedOptions().timeZone, f) : null;
    if (zones.size > 2000) zones.clear();
    zones.set(name, z);
  }
  return z;
}

let cities: Map<string, string> | null = null;

/** Last segment of every canonical IANA zone, lower-cased, spaces for underscores ("new york" → America/New_York). */
function cityIndex(): Map<string, string> {
  if (!cities) {
    cities = new Map();
    for (const id of Intl.supportedValuesOf('timeZone')) {
      const city = id.slice(id.lastIndexOf('/') + 1).replace(/_/g, ' ').toLowerCase();
      if (!cities.has(city)) cities.set(city, id);
    }
  }
  return cities;
}

/** Outlook display names that name no city. */
const DISPLAY_NAMES: Readonly<Record<string, string>> = {
  'eastern time (us & canada)': 'America/New_York',
  'central time (us & canada)': 'America/Chicago',
  'mountain time (us & canada)': 'America/Denver',
  'pacific time (us & canada)': 'America/Los_Angeles',
  'atlantic time (canada)': 'America/Halifax',
  'coordinated universal time': 'UTC',
  'dublin, edinburgh, lisbon, london': 'Europe/London',
};

/** The IANA zone a client's TZID means, or null when it names none. */
export function zoneForTzid(raw: string): Zone | null {
  const tzid = raw.trim().replace(/^"|"$/g, '').trim();
  if (tzid.length === 0 || tzid.length > 256) return null;
  const direct = ianaZone(tzid);
  if (direct) return direct;
  const windows = WINDOWS_ZONES[tzid];
  if (windows) return ianaZone(windows);
  // "/mozilla.org/20070129_1/Europe/Paris", "/freeassociation.sourceforge.net/Tzfile/Europe/Paris".
  if (tzid.startsWith('/')) {
    const segments = tzid.split('/').filter(Boolean);
    for (let i = 0; i < segments.length - 1; i++) {
      const candidate = ianaZone(segments.slice(i).join('/'));
      if (candidate) return candidate;
    }
  }
  const display = /^\(?(?:UTC|GMT)\s*([+-]\d{1,2}:?\d{2})?\)?\s*(.*)$/i.exec(tzid);
  if (display) {
    const rest = display[2]!.trim().toLowerCase();
    const named = DISPLAY_NAMES[rest];
    if (named) return ianaZone(named);
    for (const part of rest.split(/\s*[,;]\s*|\s+-\s+/)) {
      const id = cityIndex().get(part.trim());
      if (id) return ianaZone(id);
    }
    if (!rest && !display[1]) return UTC_ZONE;
  }
  return null;
}

/** A zone defined only by an object's VTIMEZONE, through ical.js (bounded by the parser's limits). */
export function vtimezoneZone(tzid: string, vtimezone: ICAL.Component): Zone {
  const tz = new ICAL.Timezone({ component: vtimezone, tzid });
  const fields = (t: number) => {
    const d = new Date(t);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
  };
  return {
    id: tzid,
    toUtc(local) {
      const time = new ICAL.Time(fields(local), tz);
      return local - tz.utcOffset(time) * 1000;
    },
    toLocal(utc) {
      const time = new ICAL.Time(fields(utc), ICAL.Timezone.utcTimezone);
      const converted = ICAL.Timezone.convert_time(time, ICAL.Timezone.utcTimezone, tz) ?? time;
      return Date.UTC(converted.year, converted.month - 1, converted.day, converted.hour, converted.minute, converted.second);
    },
  };
}

/** A fixed offset from an Outlook display name when nothing better is known ("(UTC+01:00) …"). */
export function fixedOffsetZone(tzid: string): Zone | null {
  const m = /^\(?(?:UTC|GMT)\s*([+-])(\d{1,2}):?(\d{2})\)?/i.exec(tzid.trim());
  if (!m) return null;
  const offset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * HOUR + Number(m[3]) * 60_000);
  if (Math.abs(offset) > 14 * HOUR) return null;
  return { id: tzid, toUtc: (t) => t - offset, toLocal: (t) => t + offset };
}
