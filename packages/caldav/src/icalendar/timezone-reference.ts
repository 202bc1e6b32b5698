import { fixedOffsetZone, zoneForTzid, type Zone } from './zones.js';

/**
 * Time zones by reference (RFC 7809). A client that sees `calendar-no-timezone` in the DAV header may
 * send objects without the VTIMEZONE of a standard zone; they are stored as sent. A client that sends
 * `CalDAV-Timezones: F` wants none back either; every other client (RFC 4791 §4.1: a TZID needs its
 * VTIMEZONE) gets the missing ones added on the way out, written from the IANA database Node carries —
 * the same one recurrence and time ranges use, so what a client is told is what queries computed.
 * A TZID nobody knows still needs its VTIMEZONE on PUT (403 valid-calendar-data, calendar-object.ts).
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** The span written out: from 1970 (what clients' own definitions start at) to 2037. */
const FIRST = Date.UTC(1970, 0, 1);
const LAST = Date.UTC(2038, 0, 1);

interface Transition {
  /** The instant the new offset starts. */
  readonly at: number;
  readonly from: number;
  readonly to: number;
}

const offsetAt = (zone: Zone, t: number) => zone.toLocal(t) - t;

/** Every change of offset between 1970 and 2037, to the minute: weekly probes, then bisection. */
function transitions(zone: Zone): Transition[] {
  const out: Transition[] = [];
  let t = FIRST;
  let offset = offsetAt(zone, t);
  while (t < LAST) {
    const next = t + WEEK;
    const o = offsetAt(zone, next);
    if (o !== offset) {
      let lo = t;
      let hi = next;
      while (hi - lo > MINUTE) {
        const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE || lo + MINUTE;
        if (offsetAt(zone, mid) === offset) lo = mid;
        else hi = mid;
      }
      const to = offsetAt(zone, hi);
      out.push({ at: hi, from: offset, to });
      offset = to;
      // Two changes within one week (rare, historical) are found from the one just found.
      t = hi;
      continue;
    }
    t = next;
  }
  return out;
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
const DAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

function offsetText(ms: number): string {
  const minutes = Math.round(ms / MINUTE);
  const sign = minutes < 0 ? '-' : '+';
  const m = Math.abs(minutes);
  return `${sign}${pad(Math.floor(m / 60))}${pad(m % 60)}`;
}

/** A wall-clock time (as if UTC) in iCalendar's local DATE-TIME form. */
function localText(local: number): string {
  const d = new Date(local);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

function utcText(t: number): string {
  return `${localText(t)}Z`;
}

/** How a transition recurs yearly, in the forms RRULE can say: the nth weekday of its month, or the last. */
function yearlyRules(localBefore: number): { key: string; rule: string }[] {
  const d = new Date(localBefore);
  const month = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  const weekday = DAYS[d.getUTCDay()]!;
  const time = localBefore % DAY;
  const length = new Date(Date.UTC(d.getUTCFullYear(), month, 0)).getUTCDate();
  const rules = [{ key: `${month}/${Math.ceil(day / 7)}${weekday}/${time}`, rule: `FREQ=YEARLY;BYMONTH=${month};BYDAY=${Math.ceil(day / 7)}${weekday}` }];
  if (day + 7 > length) rules.push({ key: `${month}/-1${weekday}/${time}`, rule: `FREQ=YEARLY;BYMONTH=${month};BYDAY=-1${weekday}` });
  return rules;
}

interface Observance {
  readonly kind: 'STANDARD' | 'DAYLIGHT';
  readonly first: Transition;
  readonly last: Transition;
  readonly rule: string | null;
}

/** Runs of yearly transitions with one rule and the same offsets become one RRULE; the rest stand alone. */
function observances(list: readonly Transition[]): Observance[] {
  const out: Observance[] = [];
  // Consecutive years alternate between two kinds of change (spring and autumn): group each kind apart.
  const open = new Map<string, { first: Transition; last: Transition; keys: Map<string, string>; count: number }>();
  const close = (sig: string) => {
    const run = open.get(sig);
    if (!run) return;
    open.delete(sig);
    const kind = run.first.to > run.first.from ? 'DAYLIGHT' : 'STANDARD';
    out.push({ kind, first: run.first, last: run.last, rule: run.count > 1 ? [...run.keys.values()][0]! : null });
  };
  for (const t of list) {
    const sig = `${t.from}>${t.to}`;
    const rules = yearlyRules(t.at + t.from);
    const run = open.get(sig);
    if (run) {
      const sameYearStep = new Date(t.at).getUTCFullYear() === new Date(run.last.at).getUTCFullYear() + 1;
      const keys = new Map([...run.keys].filter(([k]) => rules.some((r) => r.key === k)));
      if (sameYearStep && keys.size) {
        open.set(sig, { first: run.first, last: t, keys, count: run.count + 1 });
        continue;
      }
      close(sig);
    }
    open.set(sig, { first: t, last: t, keys: new Map(rules.map((r) => [r.key, r.rule])), count: 1 });
  }
  for (const sig of [...open.keys()]) close(sig);
  return out.sort((a, b) => a.first.at - b.first.at);
}

const generated = new Map<string, string[]>();

/** The observance lines of a zone (without BEGIN/END:VTIMEZONE and TZID), cached per zone. */
function observanceLines(zone: Zone): string[] {
  let lines = generated.get(zone.id);
  if (lines) return lines;
  const list = transitions(zone);
  // What held from 1970 to the first change (or for ever, in a zone without any).
  const initial = offsetText(offsetAt(zone, FIRST));
  lines = ['BEGIN:STANDARD', `DTSTART:${localText(FIRST)}`, `TZOFFSETFROM:${initial}`, `TZOFFSETTO:${initial}`, 'END:STANDARD'];
  if (list.length) {
    const lastYear = new Date(list[list.length - 1]!.at).getUTCFullYear();
    for (const o of observances(list)) {
      lines.push(`BEGIN:${o.kind}`, `DTSTART:${localText(o.first.at + o.first.from)}`, `TZOFFSETFROM:${offsetText(o.first.from)}`, `TZOFFSETTO:${offsetText(o.first.to)}`);
      // A rule still in force at the end of the span goes on (no UNTIL), as the zone's current rule does.
      if (o.rule) lines.push(new Date(o.last.at).getUTCFullYear() >= lastYear - 1 ? `RRULE:${o.rule}` : `RRULE:${o.rule};UNTIL=${utcText(o.last.at)}`);
      lines.push(`END:${o.kind}`);
    }
  }
  if (generated.size > 500) generated.clear();
  generated.set(zone.id, lines);
  return lines;
}

/** The VTIMEZONE of a TZID this server knows (IANA, Windows and other spellings, fixed offsets), named as the object names it; null otherwise. */
export function vtimezoneFor(tzid: string): string | null {
  const zone = zoneForTzid(tzid) ?? fixedOffsetZone(tzid);
  if (!zone) return null;
  return `${['BEGIN:VTIMEZONE', `TZID:${tzid}`, ...observanceLines(zone), 'END:VTIMEZONE'].join('\r\n')}\r\n`;
}

/** TZIDs the object's properties name (folded lines read whole; a `\\;` inside a TEXT value is no parameter). */
export function usedTzids(text: string): Set<string> {
  const out = new Set<string>();
  if (!/TZID=/i.test(text)) return out;
  const unfolded = /\n[ \t]/.test(text) ? text.replace(/\r?\n[ \t]/g, '') : text;
  for (const m of unfolded.matchAll(/(?<!\\);TZID=(?:"([^"\r\n]*)"|([^;:\r\n]*))/gi)) out.add((m[1] ?? m[2]!).trim());
  return out;
}

/** TZIDs the object's VTIMEZONEs define (the TZID property exists nowhere else). */
function definedTzids(text: string): Set<string> {
  return new Set([...text.matchAll(/^TZID(?:;[^:\r\n]*)?:([^\r\n]*)/gim)].map((m) => m[1]!.trim()));
}

/** The object with a VTIMEZONE for every TZID it names and does not define (RFC 4791 §4.1 again, for clients that did not opt out). */
export function withTimezones(text: string): string {
  const used = usedTzids(text);
  if (used.size === 0) return text;
  const defined = definedTzids(text);
  let add = '';
  for (const tzid of used) if (!defined.has(tzid)) add += vtimezoneFor(tzid) ?? '';
  if (!add) return text;
  // Right after the VCALENDAR's own lines, before its first component.
  const m = /\r?\nBEGIN:/i.exec(text);
  if (!m) return text;
  return `${text.slice(0, m.index)}\r\n${add.replace(/\r\n$/, '')}${text.slice(m.index)}`;
}

/** The object without the VTIMEZONEs of zones this server knows (for `CalDAV-Timezones: F`). */
export function withoutKnownTimezones(text: string): string {
  if (!/BEGIN:VTIMEZONE/i.test(text)) return text;
  const out: string[] = [];
  let skipping = false;
  let block: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!skipping && /^BEGIN:VTIMEZONE\s*$/i.test(line)) {
      skipping = true;
      block = [line];
      continue;
    }
    if (skipping) {
      block.push(line);
      if (/^END:VTIMEZONE\s*$/i.test(line)) {
        skipping = false;
        const tzid = /^TZID(?:;[^:\n]*)?:([^\n]*)/im.exec(block.join('\n').replace(/\n[ \t]/g, ''))?.[1]?.trim();
        if (!tzid || !(zoneForTzid(tzid) ?? fixedOffsetZone(tzid))) out.push(...block);
      }
      continue;
    }
    out.push(line);
  }
  if (skipping) out.push(...block);
  return out.join('\r\n');
}

/** RFC 7809's `CalDAV-Timezones` request header: `F` asks for no VTIMEZONE of a standard zone; `T` or nothing for all of them. */
export function timezonesWanted(header: string | string[] | undefined): boolean {
  const value = (Array.isArray(header) ? header[0] : header)?.trim().toUpperCase();
  return value !== 'F';
}

/** Calendar data as this request wants it. */
export function timezonesAsAsked(text: string, header: string | string[] | undefined): string {
  return timezonesWanted(header) ? withTimezones(text) : withoutKnownTimezones(text);
}

/** The TZID of a CALDAV:calendar-timezone (a VCALENDAR with one VTIMEZONE), or null. */
export function timezoneIdOf(calendarTimezone: string | null): string | null {
  if (!calendarTimezone) return null;
  return /^TZID(?:;[^:\r\n]*)?:([^\r\n]*)/im.exec(calendarTimezone)?.[1]?.trim() || null;
}

/** A CALDAV:calendar-timezone for a calendar-timezone-id (RFC 7809 §5.2), or null for a zone this server does not know. */
export function calendarTimezoneFor(tzid: string, productId: string): string | null {
  const id = tzid.trim();
  const vtimezone = id && zoneForTzid(id) ? vtimezoneFor(id) : null;
  return vtimezone ? `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:${productId}\r\n${vtimezone}END:VCALENDAR\r\n` : null;
}
