/**
 * RFC 5322 §3.3 date-time, with the obsolete forms still seen (two-digit years, named zones, missing
 * seconds or weekday). Returns milliseconds since the epoch, or null when nothing sensible is there.
 */
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const ZONES: Record<string, number> = { ut: 0, utc: 0, gmt: 0, z: 0, edt: -4, est: -5, cdt: -5, cst: -6, mdt: -6, mst: -7, pdt: -7, pst: -8 };

export function parseMessageDate(value: string | null): number | null {
  return parseMessageDateParts(value)?.utc ?? null;
}

/**
 * The instant (`utc`, ms) and the date and time as written, read as if in UTC (`written`, ms): SENTON
 * and its kin compare the date as written, "disregarding time and timezone" (RFC 9051 §6.4.4), so a
 * message dated 23:30 -0500 is sent on that day, not on the next UTC one.
 */
export function parseMessageDateParts(value: string | null): { readonly utc: number; readonly written: number } | null {
  if (!value) return null;
  const text = value.replace(/\([^)]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  const m = /^(?:[A-Za-z]{3},?\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?/.exec(text);
  if (!m) {
    const fallback = Date.parse(text);
    return Number.isFinite(fallback) ? { utc: fallback, written: fallback } : null;
  }
  const day = Number(m[1]);
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6] ?? 0);
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offsetMinutes = 0;
  const zone = m[7];
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const sign = zone[0] === '-' ? -1 : 1;
    offsetMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
  } else if (zone) offsetMinutes = (ZONES[zone.toLowerCase()] ?? 0) * 60;
  const written = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  return Number.isFinite(written) ? { utc: written - offsetMinutes * 60_000, written } : null;
}
