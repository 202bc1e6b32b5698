import { DavError, attribute, child, elements, textOf, type XmlElement } from '@palabre/webdav';
import { parseTimeRange } from '../calendar-objects.js';
import type { CompFilter, ParamFilter, PropFilter } from '../icalendar/calendar-filter.js';
import { CalendarDataError } from '../icalendar/calendar-object.js';
import type { CalendarDataRequest, CompSelection } from '../icalendar/calendar-data.js';
import { COLLATIONS, type Collation, type MatchType, type TextMatch } from '../icalendar/text-match.js';
import type { AddressDataRequest, CardFilter, CardParamFilter, CardPropFilter, VCardVersion } from '../vcard/vcard.js';
import { CALDAV, CARDDAV, cal, card } from './names.js';

/**
 * The XML of calendar-query and addressbook-query filters (RFC 4791 §9.7, RFC 6352 §10.5) and of the
 * calendar-data / address-data elements, read strictly: an element or value we would have to guess at
 * is refused with the precondition the RFCs name (valid-filter, supported-collation, supported-filter).
 */

const MAX_DEPTH = 8;
const MAX_FILTERS = 200;

function invalid(ns: string, message: string, condition = 'valid-filter'): DavError {
  return new DavError(403, message, { condition: `{${ns}}${condition}` });
}

function timeRangeOf(el: XmlElement, ns: string) {
  try {
    return parseTimeRange(attribute(el, '', 'start'), attribute(el, '', 'end'));
  } catch (error) {
    if (error instanceof CalendarDataError) throw invalid(ns, error.message);
    throw error;
  }
}

function textMatchOf(el: XmlElement, ns: string, defaultCollation: Collation, withMatchType: boolean): TextMatch {
  const collation = (attribute(el, '', 'collation') ?? defaultCollation) as Collation;
  if (!COLLATIONS.includes(collation)) throw invalid(ns, `unsupported collation ${collation.slice(0, 40)}`, 'supported-collation');
  const negate = attribute(el, '', 'negate-condition') ?? 'no';
  if (negate !== 'yes' && negate !== 'no') throw invalid(ns, 'negate-condition is yes or no');
  const matchType = (withMatchType ? (attribute(el, '', 'match-type') ?? 'contains') : 'contains') as MatchType;
  if (!['equals', 'contains', 'starts-with', 'ends-with'].includes(matchType)) throw invalid(ns, 'unsupported match-type');
  const value = textOf(el);
  if (value.length > 4096) throw invalid(ns, 'a text-match is at most 4096 characters');
  return { value, collation, matchType, negate: negate === 'yes' };
}

/** CALDAV:filter → the comp-filter at its root (VCALENDAR). */
export function parseCalendarFilter(filter: XmlElement | undefined): CompFilter {
  if (!filter) throw invalid(CALDAV, 'a calendar-query needs a filter');
  const roots = elements(filter);
  if (roots.length !== 1 || roots[0]!.ns !== CALDAV || roots[0]!.name !== 'comp-filter') throw invalid(CALDAV, 'the filter holds one comp-filter');
  let count = 0;
  const comp = (el: XmlElement, depth: number): CompFilter => {
    if (++count > MAX_FILTERS || depth > MAX_DEPTH) throw invalid(CALDAV, 'the filter is too large');
    const name = (attribute(el, '', 'name') ?? '').toUpperCase();
    if (!/^[A-Z][A-Z0-9-]{0,40}$/.test(name)) throw invalid(CALDAV, 'a comp-filter needs a name');
    const out = { name, isNotDefined: false, timeRange: null as CompFilter['timeRange'], propFilters: [] as PropFilter[], compFilters: [] as CompFilter[] };
    for (const kid of elements(el)) {
      if (kid.ns !== CALDAV) throw invalid(CALDAV, `unexpected ${kid.name} in a comp-filter`);
      if (kid.name === 'is-not-defined') out.isNotDefined = true;
      else if (kid.name === 'time-range') out.timeRange = timeRangeOf(kid, CALDAV);
      else if (kid.name === 'prop-filter') out.propFilters.push(prop(kid));
      else if (kid.name === 'comp-filter') out.compFilters.push(comp(kid, depth + 1));
      else throw invalid(CALDAV, `unexpected ${kid.name} in a comp-filter`);
    }
    return out;
  };
  const prop = (el: XmlElement): PropFilter => {
    if (++count > MAX_FILTERS) throw invalid(CALDAV, 'the filter is too large');
    const name = (attribute(el, '', 'name') ?? '').toUpperCase();
    if (!/^[A-Z][A-Z0-9-]{0,60}$/.test(name)) throw invalid(CALDAV, 'a prop-filter needs a name');
    const out = { name, isNotDefined: false, timeRange: null as PropFilter['timeRange'], textMatch: null as TextMatch | null, paramFilters: [] as ParamFilter[] };
    for (const kid of elements(el)) {
      if (kid.ns !== CALDAV) throw invalid(CALDAV, `unexpected ${kid.name} in a prop-filter`);
      if (kid.name === 'is-not-defined') out.isNotDefined = true;
      else if (kid.name === 'time-range') out.timeRange = timeRangeOf(kid, CALDAV);
      else if (kid.name === 'text-match') out.textMatch = textMatchOf(kid, CALDAV, 'i;ascii-casemap', false);
      else if (kid.name === 'param-filter') out.paramFilters.push(param(kid));
      else throw invalid(CALDAV, `unexpected ${kid.name} in a prop-filter`);
    }
    return out;
  };
  const param = (el: XmlElement): ParamFilter => {
    if (++count > MAX_FILTERS) throw invalid(CALDAV, 'the filter is too large');
    const name = (attribute(el, '', 'name') ?? '').toUpperCase();
    if (!/^[A-Z][A-Z0-9-]{0,60}$/.test(name)) throw invalid(CALDAV, 'a param-filter needs a name');
    const notDefined = child(el, CALDAV, 'is-not-defined');
    const text = child(el, CALDAV, 'text-match');
    return { name, isNotDefined: Boolean(notDefined), textMatch: text ? textMatchOf(text, CALDAV, 'i;ascii-casemap', false) : null };
  };
  const root = comp(roots[0]!, 0);
  if (root.name !== 'VCALENDAR') throw invalid(CALDAV, 'the filter starts with VCALENDAR');
  return root;
}

/** CARDDAV:filter (RFC 6352 §10.5). */
export function parseCardFilter(filter: XmlElement | undefined): CardFilter {
  if (!filter) return { test: 'anyof', propFilters: [] };
  const test = attribute(filter, '', 'test') ?? 'anyof';
  if (test !== 'anyof' && test !== 'allof') throw invalid(CARDDAV, 'test is anyof or allof');
  const kids = elements(filter);
  if (kids.length > MAX_FILTERS) throw invalid(CARDDAV, 'the filter is too large');
  const propFilters = kids.map((el): CardPropFilter => {
    if (el.ns !== CARDDAV || el.name !== 'prop-filter') throw invalid(CARDDAV, `unexpected ${el.name} in a filter`);
    const name = (attribute(el, '', 'name') ?? '').toUpperCase();
    if (!/^[A-Z][A-Z0-9-]{0,60}$/.test(name)) throw invalid(CARDDAV, 'a prop-filter needs a name');
    const t = attribute(el, '', 'test') ?? 'anyof';
    if (t !== 'anyof' && t !== 'allof') throw invalid(CARDDAV, 'test is anyof or allof');
    const out = { name, test: t as 'anyof' | 'allof', isNotDefined: false, textMatches: [] as TextMatch[], paramFilters: [] as CardParamFilter[] };
    for (const kid of elements(el)) {
      if (kid.ns !== CARDDAV) throw invalid(CARDDAV, `unexpected ${kid.name} in a prop-filter`);
      if (kid.name === 'is-not-defined') out.isNotDefined = true;
      else if (kid.name === 'text-match') out.textMatches.push(textMatchOf(kid, CARDDAV, 'i;unicode-casemap', true));
      else if (kid.name === 'param-filter') {
        const pname = (attribute(kid, '', 'name') ?? '').toUpperCase();
        if (!/^[A-Z][A-Z0-9-]{0,60}$/.test(pname)) throw invalid(CARDDAV, 'a param-filter needs a name');
        const text = child(kid, CARDDAV, 'text-match');
        out.paramFilters.push({ name: pname, isNotDefined: Boolean(child(kid, CARDDAV, 'is-not-defined')), textMatch: text ? textMatchOf(text, CARDDAV, 'i;unicode-casemap', true) : null });
      } else throw invalid(CARDDAV, `unexpected ${kid.name} in a prop-filter`);
    }
    return out;
  });
  return { test, propFilters };
}

/** CALDAV:calendar-data as a property request: comp/prop selection, expand, limit-recurrence-set. */
export function parseCalendarDataRequest(el: XmlElement | null): CalendarDataRequest {
  if (!el) return { select: null, expand: null, limitRecurrenceSet: null };
  const type = attribute(el, '', 'content-type');
  if (type && type !== 'text/calendar') throw new DavError(403, 'only text/calendar is offered', { condition: cal('supported-calendar-data') });
  const version = attribute(el, '', 'version');
  if (version && version !== '2.0') throw new DavError(403, 'only iCalendar 2.0 is offered', { condition: cal('supported-calendar-data') });
  const range = (name: string) => {
    const found = child(el, CALDAV, name);
    return found ? timeRangeOf(found, CALDAV) : null;
  };
  const selection = (c: XmlElement): CompSelection => {
    const kids = elements(c);
    const allprop = kids.some((k) => k.ns === CALDAV && k.name === 'allprop');
    const allcomp = kids.some((k) => k.ns === CALDAV && k.name === 'allcomp');
    return {
      name: (attribute(c, '', 'name') ?? '').toUpperCase(),
      props: allprop ? null : kids.filter((k) => k.ns === CALDAV && k.name === 'prop').map((p) => (attribute(p, '', 'name') ?? '').toUpperCase()),
      comps: allcomp ? null : kids.filter((k) => k.ns === CALDAV && k.name === 'comp').map(selection),
    };
  };
  const comp = child(el, CALDAV, 'comp');
  return { select: comp ? selection(comp) : null, expand: range('expand'), limitRecurrenceSet: range('limit-recurrence-set') };
}

/** CARDDAV:address-data as a property request: some properties, another vCard version. */
export function parseAddressDataRequest(el: XmlElement | null): AddressDataRequest {
  if (!el) return { props: null, version: null };
  const type = attribute(el, '', 'content-type');
  if (type && type !== 'text/vcard' && type !== 'text/x-vcard') throw new DavError(403, 'only text/vcard is offered', { condition: card('supported-address-data') });
  const version = attribute(el, '', 'version') ?? null;
  if (version !== null && version !== '3.0' && version !== '4.0') throw new DavError(403, 'vCard 3.0 and 4.0 are offered', { condition: card('supported-address-data-conversion') });
  const allprop = child(el, CARDDAV, 'allprop');
  const props = elements(el).filter((k) => k.ns === CARDDAV && k.name === 'prop');
  return { props: allprop || props.length === 0 ? null : props.map((p) => (attribute(p, '', 'name') ?? '').toUpperCase()), version: version as VCardVersion | null };
}
