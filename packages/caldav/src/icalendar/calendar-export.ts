import { escapeTextValue, foldLine } from '../content-lines.js';

/**
 * A whole calendar as one iCalendar stream (what Thunderbird, GNOME and Outlook subscribe to, and what
 * an export gives a user): the stored objects are cut into their top-level components on content-line
 * boundaries, without a parse — they were validated when they were stored — and every VTIMEZONE is
 * written once, before the components that use it.
 */

/** The PRODID of what Palabre writes itself (exports, free-busy answers). */
export const PRODUCT_ID = '-//Palabre//CalDAV//FR';

export interface SplitCalendar {
  /** The object's VTIMEZONE components by TZID, as text (CRLF lines, folding kept). */
  readonly zones: Map<string, string>;
  /** Its other top-level components (VEVENT, VTODO…), as text. */
  readonly components: string[];
}

/** The top-level components of one stored VCALENDAR; its own properties (VERSION, PRODID…) are left out. */
export function splitCalendar(text: string): SplitCalendar {
  const zones = new Map<string, string>();
  const components: string[] = [];
  let depth = 0;
  let current: string[] | null = null;
  let name = '';
  let tzid: string | null = null;
  // A folded line continues whatever its first line was part of.
  let keep = false;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      if (keep && current) current.push(line);
      continue;
    }
    const upper = line.slice(0, 6).toUpperCase();
    if (upper === 'BEGIN:') {
      depth++;
      if (depth === 2) {
        current = [];
        name = line.slice(6).trim().toUpperCase();
        tzid = null;
      }
    }
    keep = depth >= 2;
    if (keep && current) {
      current.push(line);
      if (depth === 2 && name === 'VTIMEZONE' && tzid === null && /^TZID[:;]/i.test(line)) tzid = line.slice(line.indexOf(':') + 1).trim();
    }
    if (line.slice(0, 4).toUpperCase() === 'END:') {
      if (depth === 2 && current) {
        const block = `${current.join('\r\n')}\r\n`;
        if (name === 'VTIMEZONE') {
          if (tzid !== null && !zones.has(tzid)) zones.set(tzid, block);
        } else components.push(block);
        current = null;
      }
      depth--;
    }
  }
  return { zones, components };
}

export interface CalendarExportHeader {
  readonly productId: string;
  readonly name?: string | null;
  readonly description?: string | null;
  readonly timezoneId?: string | null;
}

/** The VCALENDAR's own lines, with the de facto X-WR-* names clients show for a subscribed calendar. */
export function exportHead(header: CalendarExportHeader): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', `PRODID:${header.productId}`, 'CALSCALE:GREGORIAN'];
  if (header.name) lines.push(`X-WR-CALNAME:${escapeTextValue(header.name)}`);
  if (header.description) lines.push(`X-WR-CALDESC:${escapeTextValue(header.description)}`);
  if (header.timezoneId) lines.push(`X-WR-TIMEZONE:${escapeTextValue(header.timezoneId)}`);
  return `${lines.map(foldLine).join('\r\n')}\r\n`;
}

export const EXPORT_TAIL = 'END:VCALENDAR\r\n';
