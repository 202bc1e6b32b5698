import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { calendarTimezoneFor, timezonesAsAsked, usedTzids, vtimezoneFor, withTimezones, withoutKnownTimezones } from './timezone-reference.js';

/** The offset ical.js computes from a generated VTIMEZONE, against Node's own database (Intl). */
function icalZone(vtimezone: string, tzid: string): ICAL.Timezone {
  const comp = new ICAL.Component(ICAL.parse(`BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n${vtimezone}END:VCALENDAR\r\n`) as unknown[]);
  return new ICAL.Timezone({ component: comp.getFirstSubcomponent('vtimezone')!, tzid });
}

/** The offset ical.js gives an instant once converted to the zone (wall clock minus UTC). */
function icalOffsetMinutes(zone: ICAL.Timezone, utcMs: number): number {
  const local = ICAL.Time.fromJSDate(new Date(utcMs), true).convertToZone(zone);
  return Math.round((Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second) - utcMs) / 60_000);
}

function intlOffsetMinutes(zone: string, utcMs: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(utcMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return Math.round((Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - utcMs) / 60_000);
}

const EVENT = (tzid: string, extra = '') =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', extra, 'BEGIN:VEVENT', 'UID:u1', 'DTSTAMP:20260101T000000Z', `DTSTART;TZID=${tzid}:20260701T100000`, `DTEND;TZID=${tzid}:20260701T110000`, 'SUMMARY:x', 'END:VEVENT', 'END:VCALENDAR', '']
    .filter((l, i, a) => l !== '' || i === a.length - 1)
    .join('\r\n');

describe('VTIMEZONEs written from the IANA database (RFC 7809)', () => {
  it.each(['Europe/Paris', 'America/New_York', 'Africa/Lome', 'Australia/Sydney', 'America/Sao_Paulo', 'Asia/Tehran', 'Pacific/Chatham', 'Europe/Dublin'])(
    '%s gives the offsets of Node\u2019s database at every probed instant, 1971–2037',
    (zone) => {
      const vt = vtimezoneFor(zone)!;
      expect(vt).toMatch(new RegExp(`^BEGIN:VTIMEZONE\\r\\nTZID:${zone}\\r\\n`));
      // Compact: rules, not one observance per transition.
      expect(vt.split('BEGIN:STANDARD').length + vt.split('BEGIN:DAYLIGHT').length).toBeLessThan(80);
      const ical = icalZone(vt, zone);
      const mismatches: string[] = [];
      for (let t = Date.UTC(1971, 0, 1); t < Date.UTC(2037, 11, 1); t += 6 * 86_400_000 + 3_600_000 * 5) {
        const want = intlOffsetMinutes(zone, t);
        // ical.js reads a change a few hours off on its own day (it compares wall-clock times): the days of change are not probed.
        if (intlOffsetMinutes(zone, t - 86_400_000) !== want || intlOffsetMinutes(zone, t + 86_400_000) !== want) continue;
        const got = icalOffsetMinutes(ical, t);
        if (want !== got) mismatches.push(`${new Date(t).toISOString()} want ${want} got ${got}`);
      }
      expect(mismatches.slice(0, 5)).toEqual([]);
    },
  );

  it('names the zone as the object does (Windows names too) and knows none for an unknown TZID', () => {
    expect(vtimezoneFor('Romance Standard Time')).toContain('TZID:Romance Standard Time\r\n');
    expect(vtimezoneFor('Mars/Olympus_Mons')).toBeNull();
    expect(calendarTimezoneFor('Mars/Olympus_Mons', 'p')).toBeNull();
    expect(calendarTimezoneFor('Africa/Lome', 'p')).toMatch(/^BEGIN:VCALENDAR\r\n[\s\S]*TZOFFSETTO:\+0000\r\n[\s\S]*END:VCALENDAR\r\n$/);
  });

  it('adds the missing VTIMEZONE before the first component, once per TZID, and leaves complete objects byte for byte', () => {
    const bare = EVENT('Europe/Paris');
    expect(usedTzids(bare)).toEqual(new Set(['Europe/Paris']));
    const full = withTimezones(bare);
    expect(full.match(/BEGIN:VTIMEZONE/g)).toHaveLength(1);
    expect(full.indexOf('BEGIN:VTIMEZONE')).toBeLessThan(full.indexOf('BEGIN:VEVENT'));
    const parsed = new ICAL.Component(ICAL.parse(full) as unknown[]);
    expect(parsed.getFirstSubcomponent('vtimezone')!.getFirstPropertyValue('tzid')).toBe('Europe/Paris');
    expect(withTimezones(full)).toBe(full);
    expect(withoutKnownTimezones(full).replace(/\r\n$/, '')).toBe(bare.replace(/\r\n$/, ''));
    expect(timezonesAsAsked(bare, 'F')).toBe(bare);
    expect(timezonesAsAsked(bare, undefined)).toBe(full);
    // A TZID nobody knows keeps the object's own definition, even for `F`.
    const own = EVENT('Custom Zone', 'BEGIN:VTIMEZONE\r\nTZID:Custom Zone\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE');
    expect(withoutKnownTimezones(own)).toContain('TZID:Custom Zone');
    // An escaped semicolon in a TEXT value is no parameter.
    expect(usedTzids('DESCRIPTION:see\\;TZID=Europe/Paris\r\n')).toEqual(new Set());
  });
});
