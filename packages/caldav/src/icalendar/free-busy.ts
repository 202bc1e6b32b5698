import ICAL from 'ical.js';
import type { ParsedCalendar } from './calendar-object.js';
import { expand } from './recurrence.js';
import type { Zone } from './zones.js';

export type BusyType = 'BUSY' | 'BUSY-TENTATIVE' | 'BUSY-UNAVAILABLE';

export interface BusyPeriod {
  readonly start: number;
  readonly end: number;
  readonly type: BusyType;
}

/**
 * Busy time of some calendar objects inside [start, end) (RFC 4791 §7.10): opaque events that are not
 * cancelled (tentative ones as BUSY-TENTATIVE), and the periods of stored VFREEBUSY components,
 * clipped to the range and merged per busy type.
 */
export function busyPeriods(objects: readonly ParsedCalendar[], start: number, end: number, zone: Zone | null): BusyPeriod[] {
  const periods: BusyPeriod[] = [];
  for (const parsed of objects) {
    if (parsed.kind === 'VEVENT') {
      const e = expand(parsed, { floatingZone: zone, until: end, from: start, maxSteps: 50_000, maxOccurrences: 100_000 });
      for (const o of e.occurrences) {
        const c = o.component;
        if (String(c.getFirstPropertyValue('transp') ?? 'OPAQUE').toUpperCase() === 'TRANSPARENT') continue;
        const status = String(c.getFirstPropertyValue('status') ?? '').toUpperCase();
        if (status === 'CANCELLED') continue;
        if (o.end <= o.start || o.end <= start || o.start >= end) continue;
        periods.push({ start: Math.max(start, o.start), end: Math.min(end, o.end), type: status === 'TENTATIVE' ? 'BUSY-TENTATIVE' : 'BUSY' });
      }
    } else if (parsed.kind === 'VFREEBUSY') {
      for (const c of [parsed.master, ...parsed.overrides]) {
        for (const prop of c?.getAllProperties('freebusy') ?? []) {
          const raw = String(prop.getFirstParameter('fbtype') ?? 'BUSY').toUpperCase();
          if (raw === 'FREE') continue;
          const type: BusyType = raw === 'BUSY-TENTATIVE' || raw === 'BUSY-UNAVAILABLE' ? raw : 'BUSY';
          for (const p of prop.getValues()) {
            if (!(p instanceof ICAL.Period)) continue;
            const s = p.start.toUnixTime() * 1000;
            const e = p.end ? p.end.toUnixTime() * 1000 : p.duration ? s + p.duration.toSeconds() * 1000 : s;
            if (e > start && s < end) periods.push({ start: Math.max(start, s), end: Math.min(end, e), type });
          }
        }
      }
    }
  }
  return merge(periods);
}

function merge(periods: BusyPeriod[]): BusyPeriod[] {
  const out: BusyPeriod[] = [];
  for (const type of ['BUSY', 'BUSY-TENTATIVE', 'BUSY-UNAVAILABLE'] as const) {
    const list = periods.filter((p) => p.type === type).sort((a, b) => a.start - b.start);
    let current: { start: number; end: number } | null = null;
    for (const p of list) {
      if (current && p.start <= current.end) current.end = Math.max(current.end, p.end);
      else {
        if (current) out.push({ ...current, type });
        current = { start: p.start, end: p.end };
      }
    }
    if (current) out.push({ ...current, type });
  }
  return out.sort((a, b) => a.start - b.start || (a.type < b.type ? -1 : 1));
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** The VCALENDAR a free-busy-query answers with. */
export function freeBusyCalendar(periods: readonly BusyPeriod[], start: number, end: number, now: number, productId: string): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', `PRODID:${productId}`, 'BEGIN:VFREEBUSY', `DTSTAMP:${stamp(now)}`, `DTSTART:${stamp(start)}`, `DTEND:${stamp(end)}`];
  for (const p of periods) lines.push(`FREEBUSY${p.type === 'BUSY' ? '' : `;FBTYPE=${p.type}`}:${stamp(p.start)}/${stamp(p.end)}`);
  lines.push('END:VFREEBUSY', 'END:VCALENDAR', '');
  return lines.join('\r\n');
}
