import { DAVClient, type DAVCalendar, type DAVObject } from 'tsdav';
import {
  CALENDAR_COMPONENTS,
  isPalabreError,
  objectEtag,
  type CalendarCollection,
  type CalendarStore,
  type CollectionKind,
  type ComponentKind,
  type DirectoryStore,
} from '@palabre/core';
import { CalendarDataError, CardDataError, isReservedCollectionName, type CalendarObjects } from '@palabre/caldav';
import { attribute, child, elements, escapeText, textOf, type XmlElement } from '@palabre/webdav';
import type { LegacyLogin } from '../migrate-mail/copy-account.js';
import type { DavSource } from './dav-source.js';
import { LegacyError, legacyFetch, memberName, sameOrigin } from './legacy-http.js';
import { listMembers, type MemberListing } from './propfind-members.js';

export interface DavMigrationDeps {
  readonly directory: DirectoryStore;
  readonly calendars: CalendarStore;
  /** The CalDAV PUT's own path: validation, then the store with the index it computed. */
  readonly objects: CalendarObjects;
}

export interface DavCopyOptions {
  readonly source: DavSource;
  /** Largest legacy answer read (a calendar's objects come in one multiget). */
  readonly maxResponseBytes: number;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** After every object stored or found already there. */
  readonly onObject?: (address: string, event: 'copied' | 'updated' | 'skipped') => void;
}

export interface CollectionReport {
  readonly kind: CollectionKind;
  /** The legacy collection's path. */
  readonly legacy: string;
  /** Its name in Palabre (the last segment of the legacy path). */
  readonly target: string;
  copied: number;
  updated: number;
  skipped: number;
  error?: string;
}

export interface DavAccountReport {
  readonly address: string;
  readonly line?: number;
  status: 'ok' | 'failed';
  collections: CollectionReport[];
  copied: number;
  /** Objects an earlier run copied that changed on the legacy side since. */
  updated: number;
  skipped: number;
  /** Objects Palabre refused or that the legacy server listed wrongly: the account is not finished. */
  objectErrors: string[];
  /** What was not there to copy (a server without CardDAV). */
  notes: string[];
  errors: string[];
}

const MAX_REPORTED_OBJECT_ERRORS = 100;
/** Objects asked for per multiget. */
const MULTIGET_BATCH = 200;
const APPLE_ICAL = 'http://apple.com/ns/ical/';
const COLOR = `{${APPLE_ICAL}}calendar-color`;

export function emptyDavReport(address: string, line?: number): DavAccountReport {
  return { address, line, status: 'ok', collections: [], copied: 0, updated: 0, skipped: 0, objectErrors: [], notes: [], errors: [] };
}

const describe = (error: unknown): string => (error instanceof LegacyError ? error.message : ((error as Error)?.message ?? String(error)).split('\n')[0]!.slice(0, 300));

/** tsdav hands calendar data as a string, or a `{ _cdata }` / `{ _text }` object, depending on the server's XML. */
function dataOf(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as { _cdata?: unknown; _text?: unknown };
    if (typeof v._cdata === 'string') return v._cdata;
    if (typeof v._text === 'string') return v._text;
  }
  return null;
}

/**
 * Copy one agent's calendars and address books from the legacy CalDAV/CardDAV server: discovery of
 * the principal's homes (tsdav), each collection made here with its name, display name, colour,
 * description, components and time zone, then every object written through the CalDAV PUT's path
 * (validated, indexed) under its legacy name, so its UID and bytes stay. Resumable without a cursor:
 * an object whose bytes are already here is skipped, one that changed is replaced, so a re-run copies
 * only what changed and never makes a duplicate (the store refuses a second object with a UID). Never
 * throws for a problem of this account: it is in the report.
 */
export async function copyDavAccount(deps: DavMigrationDeps, who: LegacyLogin, options: DavCopyOptions): Promise<DavAccountReport> {
  const report = emptyDavReport(who.address, who.line);
  const fail = (why: string) => {
    report.status = 'failed';
    if (!report.errors.includes(why)) report.errors.push(why);
    return report;
  };
  const account = await deps.directory.findAccount(who.address);
  if (!account) return fail(`no Palabre account ${who.address}: create it first (palabre user add or palabre user import)`);
  const origin = options.source.url;
  const http = { origin, maxResponseBytes: options.maxResponseBytes, timeoutMs: options.timeoutMs, signal: options.signal };
  const fetch = legacyFetch(http);
  const objectError = (text: string) => {
    report.status = 'failed';
    if (report.objectErrors.length < MAX_REPORTED_OBJECT_ERRORS) report.objectErrors.push(text);
  };

  for (const kind of ['calendar', 'addressbook'] as const) {
    let client: DAVClient;
    let listed: MemberListing;
    let home: URL;
    try {
      client = new DAVClient({
        serverUrl: origin.href,
        credentials: { username: who.login, password: who.password },
        authMethod: 'Basic',
        defaultAccountType: kind === 'calendar' ? 'caldav' : 'carddav',
        fetch,
      });
      try {
        await client.login();
      } catch (error) {
        // A server without CardDAV (or CalDAV) has no home of that kind: nothing of it to copy.
        if (!(error instanceof LegacyError) && /cannot find (homeUrl|principalUrl)/.test((error as Error).message ?? '')) {
          report.notes.push(`no ${kind === 'calendar' ? 'calendar' : 'address book'} home on the legacy server`);
          continue;
        }
        throw error;
      }
      home = sameOrigin(origin, client.account?.homeUrl ?? origin.href);
      // The home's members with their properties, by our own PROPFIND Depth 1: tsdav's fetchCalendars
      // asks every calendar for its reports, so one refused calendar would fail them all.
      listed = await listMembers(http, home, { user: who.login, password: who.password }, kind === 'calendar' ? CALENDAR_PROPS : BOOK_PROPS);
    } catch (error) {
      if (error instanceof LegacyError && error.reason === 'login') return fail(error.message);
      return fail(`${kind === 'calendar' ? 'calendars' : 'address books'}: ${describe(error)}`);
    }
    for (const href of listed.outside) fail(`the legacy server listed ${JSON.stringify(href)} outside the home ${home.pathname}: not followed`);
    const wanted = kind === 'calendar' ? 'calendar' : 'addressbook';
    for (const member of listed.members) {
      const type = member.prop && child(member.prop, DAV, 'resourcetype');
      if (!member.collection || !type || !child(type, kind === 'calendar' ? CALDAV : CARDDAV, wanted)) continue;
      const url = member.url;
      // A legacy name that stands for something else here (`shared.…`, the directory's book) gets a prefix.
      const name = isReservedCollectionName(member.name) ? `legacy-${member.name}` : member.name;
      const collectionReport: CollectionReport = { kind, legacy: url.pathname, target: name, copied: 0, updated: 0, skipped: 0 };
      report.collections.push(collectionReport);
      const legacy = { url: url.href };
      try {
        const target = await ensureCollection(deps, account.id, kind, name, propertiesOf(kind, member.prop!));
        // The members by PROPFIND Depth 1 (calendar-query and addressbook-query are where legacy servers
        // differ and break: Xandikos 0.2.8 answers 500 to tsdav's addressbook-query), their data by
        // multiget, a batch at a time.
        const listed = await listMembers(http, url, { user: who.login, password: who.password });
        for (const href of listed.outside) objectError(`${url.pathname}: the legacy server listed ${JSON.stringify(href)} outside the collection: not followed`);
        const hrefs = listed.members.filter((m) => !m.collection).map((m) => m.url.pathname);
        const here = await objectsHere(deps, target);
        const seen = new Set<string>();
        for (let i = 0; i < hrefs.length; i += MULTIGET_BATCH) {
          const objectUrls = hrefs.slice(i, i + MULTIGET_BATCH);
          const objects =
            kind === 'calendar'
              ? await client.fetchCalendarObjects({ calendar: legacy as DAVCalendar, objectUrls, urlFilter: () => true })
              : await client.fetchVCards({ addressBook: legacy, objectUrls, urlFilter: () => true });
          await copyObjects(deps, target, url, objects, { here, seen }, collectionReport, report, options, objectError);
        }
      } catch (error) {
        collectionReport.error = describe(error);
        fail(`${url.pathname}: ${collectionReport.error}`);
        if (error instanceof LegacyError && (error.reason === 'lost' || error.reason === 'login')) return report;
        if (isPalabreError(error, 'quota')) return fail('the account is over its Palabre quota');
      }
    }
  }
  return report;
}

interface LegacyProperties {
  readonly displayName: string | null;
  readonly description: string | null;
  readonly timezone: string | null;
  readonly color: string | null;
  readonly components: ComponentKind[];
}

const CALDAV = 'urn:ietf:params:xml:ns:caldav';
const CARDDAV = 'urn:ietf:params:xml:ns:carddav';
const DAV = 'DAV:';
const CALENDAR_PROPS = [
  { ns: DAV, name: 'displayname' },
  { ns: CALDAV, name: 'calendar-description' },
  { ns: CALDAV, name: 'calendar-timezone' },
  { ns: CALDAV, name: 'supported-calendar-component-set' },
  { ns: APPLE_ICAL, name: 'calendar-color' },
];
const BOOK_PROPS = [
  { ns: DAV, name: 'displayname' },
  { ns: CARDDAV, name: 'addressbook-description' },
];

function propertiesOf(kind: CollectionKind, prop: XmlElement): LegacyProperties {
  const text = (ns: string, name: string) => {
    const el = child(prop, ns, name);
    return el ? textOf(el).trim() || null : null;
  };
  const set = child(prop, CALDAV, 'supported-calendar-component-set');
  const components = set
    ? elements(set)
        .filter((c) => c.ns === CALDAV && c.name === 'comp')
        .map((c) => (attribute(c, '', 'name') ?? '').toUpperCase())
        .filter((c): c is ComponentKind => (CALENDAR_COMPONENTS as readonly string[]).includes(c))
    : [];
  return kind === 'calendar'
    ? { displayName: text(DAV, 'displayname'), description: text(CALDAV, 'calendar-description'), timezone: text(CALDAV, 'calendar-timezone'), color: text(APPLE_ICAL, 'calendar-color'), components }
    : { displayName: text(DAV, 'displayname'), description: text(CARDDAV, 'addressbook-description'), timezone: null, color: null, components: [] };
}

/** The Palabre collection for a legacy one: found by name (a re-run) or made with its properties. */
async function ensureCollection(deps: DavMigrationDeps, accountId: string, kind: CollectionKind, name: string, legacy: LegacyProperties): Promise<CalendarCollection> {
  const { displayName, description, timezone, components } = legacy;
  let target = await deps.calendars.findCollection(accountId, name);
  if (target && target.kind !== kind) throw new Error(`a Palabre ${target.kind} is already named ${name}`);
  if (!target) {
    target = await deps.calendars.createCollection(accountId, {
      kind,
      name,
      displayName,
      description,
      timezone,
      ...(components.length ? { components } : {}),
    });
  } else if (target.displayName !== displayName || target.description !== description || (kind === 'calendar' && target.timezone !== timezone)) {
    target = await deps.calendars.updateCollection(target.id, { displayName, description, ...(kind === 'calendar' ? { timezone } : {}) });
  }
  const color = legacy.color;
  if (color) {
    const value = `<calendar-color xmlns="${APPLE_ICAL}">${escapeText(color)}</calendar-color>`;
    const current = (await deps.calendars.collectionProperties([target.id])).get(target.id)?.find((p) => p.name === COLOR);
    if (current?.value !== value) await deps.calendars.patchCollectionProperties(target.id, [{ op: 'set', name: COLOR, value }]);
  }
  return target;
}

/**
 * What is in a collection already, name → ETag, a page at a time (one query per page, not per object).
 * Our ETags are a hash of the bytes, so comparing them compares the bytes without reading them.
 */
async function objectsHere(deps: DavMigrationDeps, target: CalendarCollection): Promise<Map<string, string>> {
  const here = new Map<string, string>();
  for (let after: string | null = null; ;) {
    const page = await deps.calendars.listObjects(target.id, { after, limit: 1000 });
    for (const o of page) here.set(o.name, o.etag);
    if (page.length < 1000) return here;
    after = page.at(-1)!.name;
  }
}

/** One multiget's objects: each written unless its bytes are here already. */
async function copyObjects(
  deps: DavMigrationDeps,
  target: CalendarCollection,
  collectionUrl: URL,
  objects: readonly DAVObject[],
  { here, seen }: { here: Map<string, string>; seen: Set<string> },
  collectionReport: CollectionReport,
  report: DavAccountReport,
  options: DavCopyOptions,
  objectError: (text: string) => void,
): Promise<void> {
  const origin = options.source.url;
  for (const o of objects) {
    const name = memberName(origin, collectionUrl, o.url);
    if (!name) {
      objectError(`${collectionUrl.pathname}: the legacy server listed ${JSON.stringify(o.url.slice(0, 200))} outside the collection: not followed`);
      continue;
    }
    if (seen.has(name)) continue;
    seen.add(name);
    const data = dataOf(o.data);
    if (!data) {
      objectError(`${collectionUrl.pathname}${name}: the legacy server sent no data`);
      continue;
    }
    const existing = here.get(name);
    const etag = objectEtag(data);
    if (existing === etag) {
      collectionReport.skipped++;
      report.skipped++;
      options.onObject?.(report.address, 'skipped');
      continue;
    }
    try {
      await deps.objects.put(target, name, data);
    } catch (error) {
      if (error instanceof CalendarDataError || error instanceof CardDataError) {
        objectError(`${collectionUrl.pathname}${name}: refused by Palabre (${error.message})`);
        continue;
      }
      if (isPalabreError(error, 'conflict') && (error.detail as { reason?: string } | undefined)?.reason === 'uid-conflict') {
        objectError(`${collectionUrl.pathname}${name}: its UID is already used by ${(error.detail as { name?: string }).name ?? 'another object'} in ${target.name}`);
        continue;
      }
      if (isPalabreError(error, 'invalid') || isPalabreError(error, 'too-large')) {
        objectError(`${collectionUrl.pathname}${name}: refused by Palabre (${error.message})`);
        continue;
      }
      throw error;
    }
    const event = existing === undefined ? 'copied' : 'updated';
    collectionReport[event]++;
    report[event]++;
    here.set(name, etag);
    options.onObject?.(report.address, event);
  }
}
