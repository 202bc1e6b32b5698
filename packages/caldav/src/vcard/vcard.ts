import ICAL from 'ical.js';
import type { ObjectIndex } from '@palabre/core';
import { searchFold } from '../icalendar/calendar-index.js';
import { valuesMatch, type TextMatch } from '../icalendar/text-match.js';
import { foldLine } from '../content-lines.js';

/**
 * vCards of an address book (RFC 6352, vCard 3.0 RFC 2426 and 4.0 RFC 6350): checked, stored byte for
 * byte (Apple's `item1.X-ABLabel` groups, `type=INTERNET;type=pref`, inline base64 photos and folded
 * lines come back exactly as they were sent), converted only when a client asks for the other version.
 */

export type CardCondition = 'valid-address-data' | 'supported-address-data' | 'max-resource-size' | 'no-uid-conflict';

export class CardDataError extends Error {
  constructor(
    readonly condition: CardCondition,
    message: string,
  ) {
    super(message);
    this.name = 'CardDataError';
  }
}

export type VCardVersion = '3.0' | '4.0';

export interface CardLimits {
  readonly maxBytes: number;
  readonly maxProperties: number;
}

export const DEFAULT_CARD_LIMITS: CardLimits = { maxBytes: 1024 * 1024, maxProperties: 2000 };

export interface ParsedCard {
  readonly card: ICAL.Component;
  readonly uid: string;
  readonly version: VCardVersion;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

function fail(condition: CardCondition, message: string): never {
  throw new CardDataError(condition, message);
}

export function parseVCard(text: string, limits: CardLimits = DEFAULT_CARD_LIMITS): ParsedCard {
  if (Buffer.byteLength(text) > limits.maxBytes) fail('max-resource-size', `a vCard is at most ${limits.maxBytes} bytes`);
  const control = CONTROL.exec(text);
  if (control) fail('valid-address-data', `control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} in the data`);
  let parsed: unknown;
  try {
    parsed = ICAL.parse(text);
  } catch (error) {
    fail('valid-address-data', `not a vCard: ${String((error as Error).message).slice(0, 120)}`);
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') fail('valid-address-data', 'an address object resource holds exactly one vCard');
  const card = new ICAL.Component(parsed as unknown[]);
  if (card.name !== 'vcard') fail('valid-address-data', 'the data must be a VCARD');
  if (card.getAllSubcomponents().length) fail('valid-address-data', 'a vCard holds no components');
  if (card.getAllProperties().length > limits.maxProperties) fail('valid-address-data', `a vCard has at most ${limits.maxProperties} properties`);
  const version = String(card.getFirstPropertyValue('version') ?? '');
  if (version !== '3.0' && version !== '4.0') fail('supported-address-data', 'vCard 3.0 and 4.0 are supported');
  if (!card.hasProperty('fn')) fail('valid-address-data', 'a vCard needs an FN');
  const uidValue = card.getFirstPropertyValue('uid');
  const uid = typeof uidValue === 'string' ? uidValue.trim() : '';
  if (!uid) fail('valid-address-data', 'a vCard in an address book needs a UID (RFC 6352 §5.1)');
  if (uid.length > 1024) fail('valid-address-data', 'a UID is at most 1024 characters');
  return { card, uid, version };
}

/** A property's values as text; structured values (N, ADR, ORG) joined with ";". */
function textOf(p: ICAL.Property): string[] {
  return p.getValues().map((v) => (Array.isArray(v) ? v.map((x) => (Array.isArray(x) ? x.join(',') : String(x))).join(';') : String(v)));
}

const SEARCHED = ['fn', 'n', 'nickname', 'email', 'tel', 'org', 'title', 'adr', 'note', 'categories', 'uid'];

export function cardIndex(parsed: ParsedCard): ObjectIndex {
  const lines: string[] = [];
  for (const name of SEARCHED) for (const p of parsed.card.getAllProperties(name)) lines.push(`${name}:${searchFold(textOf(p).join(',')).slice(0, 2000)}`);
  return {
    uid: parsed.uid,
    component: 'VCARD',
    firstStart: null,
    lastEnd: null,
    floating: false,
    recurring: false,
    instances: [],
    instancesUntil: null,
    instancesFrom: null,
    exact: true,
    searchText: lines.join('\n').slice(0, 60_000) || null,
  };
}

// ------------------------------------------------------------ addressbook-query (RFC 6352 §10.5)

export interface CardParamFilter {
  readonly name: string;
  readonly isNotDefined: boolean;
  readonly textMatch: TextMatch | null;
}

export interface CardPropFilter {
  readonly name: string;
  readonly test: 'anyof' | 'allof';
  readonly isNotDefined: boolean;
  readonly textMatches: readonly TextMatch[];
  readonly paramFilters: readonly CardParamFilter[];
}

export interface CardFilter {
  readonly test: 'anyof' | 'allof';
  readonly propFilters: readonly CardPropFilter[];
}

function paramMatches(p: ICAL.Property, f: CardParamFilter): boolean {
  const raw = p.getParameter(f.name.toLowerCase());
  const values = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
  if (f.isNotDefined) return values.length === 0;
  if (values.length === 0) return false;
  return f.textMatch ? valuesMatch(values, f.textMatch) : true;
}

function propFilterMatches(card: ICAL.Component, f: CardPropFilter): boolean {
  const props = card.getAllProperties(f.name.toLowerCase());
  if (f.isNotDefined) return props.length === 0;
  if (props.length === 0) return false;
  const tests = f.textMatches.length + f.paramFilters.length;
  if (tests === 0) return true;
  return props.some((p) => {
    const results = [...f.textMatches.map((m) => valuesMatch(textOf(p), m)), ...f.paramFilters.map((pf) => paramMatches(p, pf))];
    return f.test === 'allof' ? results.every(Boolean) : results.some(Boolean);
  });
}

export function matchesCardFilter(parsed: ParsedCard, filter: CardFilter): boolean {
  if (filter.propFilters.length === 0) return true;
  const results = filter.propFilters.map((f) => propFilterMatches(parsed.card, f));
  return filter.test === 'allof' ? results.every(Boolean) : results.some(Boolean);
}

/** Substrings every matching card must contain, for the store's prefilter (only when every filter must hold). */
export function cardPrefilter(filter: CardFilter): string[] {
  const needs = filter.test === 'allof' || filter.propFilters.length === 1 ? filter.propFilters : [];
  const out: string[] = [];
  for (const f of needs) {
    if (f.isNotDefined || !SEARCHED.includes(f.name.toLowerCase())) continue;
    const positive = f.textMatches.filter((m) => !m.negate);
    if (positive.length && (f.test === 'allof' || f.textMatches.length + f.paramFilters.length === 1)) out.push(searchFold(positive[0]!.value));
  }
  return out;
}

// ------------------------------------------------------------ address-data (RFC 6352 §10.4)

export interface AddressDataRequest {
  /** Property names to return (null: all). */
  readonly props: readonly string[] | null;
  /** The version asked for (content-type/version attributes); null: as stored. */
  readonly version: VCardVersion | null;
}

const MEDIA: Readonly<Record<string, string>> = { JPEG: 'image/jpeg', JPG: 'image/jpeg', PNG: 'image/png', GIF: 'image/gif', BMP: 'image/bmp', WAV: 'audio/wav', MP3: 'audio/mpeg' };

function toV4(card: ICAL.Component): void {
  for (const name of ['photo', 'logo', 'sound']) {
    for (const p of card.getAllProperties(name)) {
      const encoding = String(p.getFirstParameter('encoding') ?? '').toLowerCase();
      if (encoding !== 'b' && encoding !== 'base64') continue;
      const type = String(p.getFirstParameter('type') ?? '').toUpperCase();
      const media = MEDIA[type] ?? (type.includes('/') ? type.toLowerCase() : 'application/octet-stream');
      const data = String(p.getFirstValue() ?? '').replace(/\s+/g, '');
      p.removeParameter('encoding');
      p.removeParameter('type');
      p.resetType('uri');
      p.setValue(`data:${media};base64,${data}`);
    }
  }
  renameProperty(card, 'x-addressbookserver-kind', 'kind');
  renameProperty(card, 'x-addressbookserver-member', 'member');
  card.updatePropertyWithValue('version', '4.0');
}

function toV3(card: ICAL.Component): void {
  for (const name of ['photo', 'logo', 'sound']) {
    for (const p of card.getAllProperties(name)) {
      const m = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(String(p.getFirstValue() ?? ''));
      if (!m || !m[2]) continue;
      const type = Object.entries(MEDIA).find(([, v]) => v === (m[1] ?? '').toLowerCase())?.[0] ?? 'JPEG';
      p.resetType('binary');
      p.setParameter('encoding', 'b');
      p.setParameter('type', type);
      p.setValue(m[3]!);
    }
  }
  renameProperty(card, 'kind', 'x-addressbookserver-kind');
  renameProperty(card, 'member', 'x-addressbookserver-member');
  if (!card.hasProperty('n')) card.addPropertyWithValue('n', String(card.getFirstPropertyValue('fn') ?? ''));
  card.updatePropertyWithValue('version', '3.0');
}

function renameProperty(card: ICAL.Component, from: string, to: string): void {
  for (const p of card.getAllProperties(from)) {
    const copy = new ICAL.Property(to, card);
    copy.setValue(String(p.getFirstValue() ?? ''));
    card.removeProperty(p);
    card.addProperty(copy);
  }
}

/** The address-data to return: the stored bytes unless another version or some properties were asked for. */
export function renderAddressData(data: string, request: AddressDataRequest, parsed?: ParsedCard): string {
  const p = parsed ?? parseVCard(data);
  const convert = request.version !== null && request.version !== p.version;
  if (!convert && request.props === null) return data;
  const card = new ICAL.Component(structuredClone(p.card.toJSON()));
  if (convert) (request.version === '4.0' ? toV4 : toV3)(card);
  if (request.props !== null) {
    // VERSION, and UID so a client can key the card, always stay (RFC 6352 §10.4.2 lets the server add them).
    const keep = new Set([...request.props.map((n) => n.toLowerCase()), 'version', 'uid']);
    for (const prop of [...card.getAllProperties()]) if (!keep.has(prop.name)) card.removeProperty(prop);
  }
  return serialize(card, convert ? request.version! : p.version);
}

/**
 * The card as text. ical.js escapes the comma of a data: URI ("base64\\,"), which vCard 4.0 does not
 * (RFC 6350 §4: URI values are not escaped) and clients then cannot read the photo: undone here, on
 * unfolded lines, before folding again at 75 octets.
 */
function serialize(card: ICAL.Component, version: VCardVersion): string {
  const design = version === '4.0' ? ICAL.design.vcard : ICAL.design.vcard3;
  const unfolded = ICAL.stringify.component(card.toJSON(), design).replace(/\r?\n[ \t]/g, '').split(/\r?\n/);
  const lines = unfolded.map((line) => (/^(?:[\w-]+\.)?(?:PHOTO|LOGO|SOUND|KEY)(?:;[^:]*)?:data:/i.test(line) ? line.replace(/\\,/g, ',') : line));
  return `${lines.filter(Boolean).map(foldLine).join('\r\n')}\r\n`;
}
