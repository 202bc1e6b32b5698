import type { Account, CalendarStore, DirectoryStore, UsageStore } from '@palabre/core';
import {
  DAV,
  DavError,
  XmlStream,
  child,
  davPath,
  depthOf,
  elements,
  extendedMkcol,
  hrefXml,
  preferMinimal,
  propRequestOf,
  renderResponseList,
  statusResponse,
  textOf,
  type DavBackend,
  type DavContext,
  type DavPlugin,
  type DavResource,
  type PropRequest,
  type XmlElement,
} from '@palabre/webdav';
import { CalendarObjects, parseTimeRange, zoneOfCollection, zoneOfTimezoneText } from '../calendar-objects.js';
import { MAX_EXPANDED_BYTES_PER_REQUEST, renderCalendarData, wantsWholeObject, type ExpansionBudget } from '../icalendar/calendar-data.js';
import { CalendarDataError, parseCalendarObject } from '../icalendar/calendar-object.js';
import { zoneForTzid, type Zone } from '../icalendar/zones.js';
import { timezoneIdOf, timezonesAsAsked } from '../icalendar/timezone-reference.js';
import { renderAddressData } from '../vcard/vcard.js';
import { parseAddressDataRequest, parseCalendarDataRequest, parseCalendarFilter, parseCardFilter } from './filters.js';
import { GroupwareBackend, MEMO_WANTS_DATA, type GroupwareData, type ListedObject } from './groupware-backend.js';
import { HomeFiles } from './home-files.js';
import { exportOnGet, objectOnGet } from './collection-export.js';
import { setupSharing } from './sharing.js';
import { setupCalendarProxy } from './calendar-proxy.js';
import { ADDRESSBOOKS, APPLE_ICAL, CALDAV, CALENDARS, CARDDAV, CS, NOTIFICATIONS, READ_FREE_BUSY, TIMEZONES, cal, card, cs } from './names.js';
import { TimezoneService } from './timezone-service.js';

export interface CaldavPluginOptions {
  readonly store: CalendarStore;
  readonly directory: DirectoryStore;
  readonly objects?: CalendarObjects;
  readonly usage?: UsageStore;
  /** The drive backend, mounted at `files`: the homes' plain collections and files are kept in it. */
  readonly drive?: DavBackend;
}

/** Hidden folders of a drive home holding the plain members of its calendar and address-book homes. */
export const CALENDAR_HOME_FOLDER = '.calendar-home';
export const ADDRESSBOOK_HOME_FOLDER = '.addressbook-home';

/** A sync-token (RFC 6578 §4): a URI naming the collection and its change counter, valid on every node. */
const SYNC_PREFIX = 'https://palabre.org/ns/sync/';
export const syncToken = (collectionId: string, seq: number): string => `${SYNC_PREFIX}${collectionId}/${seq}`;

function parseSyncToken(token: string): { collectionId: string; seq: number } | null {
  if (!token.startsWith(SYNC_PREFIX)) return null;
  const m = /^([0-9a-f-]{36})\/(\d{1,15})$/.exec(token.slice(SYNC_PREFIX.length));
  return m ? { collectionId: m[1]!, seq: Number(m[2]) } : null;
}

const MEMO_ZONE = Symbol('caldav.query-zone');
const MEMO_EXPANSION = Symbol('caldav.expansion-budget');
/** Stored bytes of the objects rendered together into one string of a multistatus. */
const BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Resources in runs of at most `count` and, by their stored size, about `bytes`: a batch of 500 objects of
 * 2 MiB each would be rendered as one 1 GB string, past what V8 holds.
 */
function* sizedBatches<T extends DavResource>(list: readonly T[], count = BATCH, bytes = BATCH_BYTES): Generator<T[]> {
  let run: T[] = [];
  let size = 0;
  for (const r of list) {
    if (run.length && (run.length >= count || size + (r.contentLength ?? 0) > bytes)) {
      yield run;
      run = [];
      size = 0;
    }
    run.push(r);
    size += r.contentLength ?? 0;
  }
  if (run.length) yield run;
}
/** Responses rendered per batch of a report. */
const BATCH = 500;
/** Hrefs of one multiget. */
const MAX_HREFS = 5000;

/**
 * CalDAV (RFC 4791) and CardDAV (RFC 6352) on the DAV engine: calendar and address-book homes as two
 * mounts, MKCALENDAR, the reports (calendar-query, calendar-multiget, free-busy-query,
 * addressbook-query, addressbook-multiget, sync-collection), and the properties clients discover
 * homes and collections by — all through the engine's extension points, nothing of the engine copied.
 */
export function caldavPlugin(options: CaldavPluginOptions): DavPlugin & { readonly calendars: GroupwareBackend; readonly addressBooks: GroupwareBackend } {
  const objects = options.objects ?? new CalendarObjects({ store: options.store });
  const calendars = new GroupwareBackend({ kind: 'calendar', store: options.store, objects, directory: options.directory, usage: options.usage });
  const addressBooks = new GroupwareBackend({ kind: 'addressbook', store: options.store, objects, directory: options.directory, usage: options.usage });
  if (options.drive) {
    calendars.files = new HomeFiles(options.drive, 'files', CALENDARS, CALENDAR_HOME_FOLDER, (ctx, home, name, o) => calendars.makeTypedInHome(ctx, home, name, o));
    addressBooks.files = new HomeFiles(options.drive, 'files', ADDRESSBOOKS, ADDRESSBOOK_HOME_FOLDER, (ctx, home, name, o) => addressBooks.makeTypedInHome(ctx, home, name, o));
  }
  const ours = (r: DavResource) => r.backend === calendars || r.backend === addressBooks;
  const dataOf = (r: DavResource) => (ours(r) ? (r.data as GroupwareData) : null);
  const collectionOf = (r: DavResource) => {
    const d = dataOf(r);
    return d?.kind === 'collection' ? d : null;
  };
  const isCalendar = (r: DavResource) => r.backend === calendars && collectionOf(r) !== null;
  const isBook = (r: DavResource) => r.backend === addressBooks && collectionOf(r) !== null;
  const isObject = (r: DavResource) => dataOf(r)?.kind === 'object';
  const accountOf = (r: DavResource) => (r.path.segments[0] === 'principals' ? ((r.data as { account?: Account } | undefined)?.account ?? null) : null);

  return {
    name: 'caldav',
    calendars,
    addressBooks,
    setup(host) {
      host.mount(CALENDARS, calendars);
      host.mount(ADDRESSBOOKS, addressBooks);
      host.mount(TIMEZONES, new TimezoneService());
      host.addNamespace('C', CALDAV);
      host.addNamespace('CR', CARDDAV);
      host.addNamespace('CS', CS);
      host.addNamespace('ICAL', APPLE_ICAL);
      host.addPrivilege({ name: READ_FREE_BUSY, parent: 'read', description: 'Read free/busy time' });
      host.addCompliance('calendar-access', { mount: CALENDARS });
      // RFC 7809: objects may come without the VTIMEZONE of a standard zone.
      host.addCompliance('calendar-no-timezone', { mount: CALENDARS });
      host.addCompliance('addressbook', { mount: ADDRESSBOOKS });
      // The folders keeping the homes' files are the homes' business, not something to show in the drive.
      host.on('filterMembers', (_ctx, collection, members) =>
        collection.path.segments[0] === 'files' && collection.path.segments.length === 2
          ? members.filter((m) => m.path.segments.length !== 3 || (m.path.segments[2] !== CALENDAR_HOME_FOLDER && m.path.segments[2] !== ADDRESSBOOK_HOME_FOLDER))
          : members,
      );

      for (const mount of [CALENDARS, ADDRESSBOOKS]) {
        for (const method of ['GET', 'HEAD']) host.addMethod(method, (ctx, next) => exportOnGet(ctx, next, objects, ours), { mount });
      }
      for (const method of ['GET', 'HEAD']) host.addMethod(method, (ctx, next) => objectOnGet(ctx, next, calendars), { mount: CALENDARS });
      setupCalendarProxy(host, { store: options.store, directory: options.directory });
      setupSharing(host, { store: options.store, directory: options.directory, backends: [calendars, addressBooks] });
      host.addMethod('MKCALENDAR', (ctx) => extendedMkcol(ctx, { root: cal('mkcalendar'), responseRoot: cal('mkcalendar-response'), resourceTypes: [cal('calendar')] }), { mount: CALENDARS });

      // ------------------------------------------------------------ principals: where the homes are
      host.addProperty({
        name: cal('calendar-home-set'),
        appliesTo: (r) => accountOf(r) !== null,
        get: (ctx, r) => ({ xml: hrefXml(ctx.dav.href(davPath([CALENDARS, accountOf(r)!.address]), true)) }),
      });
      host.addProperty({
        name: cs('notification-URL'),
        appliesTo: (r) => accountOf(r) !== null,
        // Only the user's own: a colleague has no business knowing where someone's invitations are.
        get: (ctx, r) => (accountOf(r)!.id === ctx.principal.accountId ? { xml: hrefXml(ctx.dav.href(davPath([NOTIFICATIONS, accountOf(r)!.address]), true)) } : undefined),
      });
      host.addProperty({
        name: card('addressbook-home-set'),
        appliesTo: (r) => accountOf(r) !== null,
        get: (ctx, r) => ({ xml: hrefXml(ctx.dav.href(davPath([ADDRESSBOOKS, accountOf(r)!.address]), true)) }),
      });
      host.addProperty({
        name: cal('calendar-user-address-set'),
        appliesTo: (r) => accountOf(r) !== null,
        get: async (ctx, r) => {
          const account = accountOf(r)!;
          const aliases = await options.directory.listAliases(account.id).catch(() => []);
          const addresses = [account.address, ...aliases.map((a) => a.address)];
          return { xml: [...addresses.map((a) => hrefXml(`mailto:${a}`)), hrefXml(ctx.dav.hrefOf(r))].join('') };
        },
      });
      host.addPrincipalExtension({
        searchProperties: [
          { name: cal('calendar-user-address-set'), field: 'address', description: 'Calendar user address' },
          { name: cs('email-address-set'), field: 'address', description: 'Email address' },
        ],
      });
      host.addProperty({ name: cal('calendar-user-type'), appliesTo: (r) => accountOf(r) !== null, get: () => 'INDIVIDUAL' });
      host.addProperty({
        name: cs('email-address-set'),
        appliesTo: (r) => accountOf(r) !== null,
        get: (_c, r) => ({ xml: `<CS:email-address>${accountOf(r)!.address}</CS:email-address>` }),
      });

      // ------------------------------------------------------------ collections
      host.addProperty({
        name: cal('supported-calendar-component-set'),
        appliesTo: isCalendar,
        get: (_c, r) => ({ xml: collectionOf(r)!.collection.components.map((c) => `<C:comp name="${c}"/>`).join('') }),
      });
      host.addProperty({ name: cal('supported-calendar-data'), appliesTo: isCalendar, get: () => ({ xml: '<C:calendar-data content-type="text/calendar" version="2.0"/>' }) });
      host.addProperty({ name: cal('max-resource-size'), appliesTo: isCalendar, get: () => String(objects.calendarLimits.maxBytes) });
      host.addProperty({ name: cal('calendar-description'), appliesTo: isCalendar, get: (_c, r) => collectionOf(r)!.collection.description ?? undefined });
      host.addProperty({ name: cal('calendar-timezone'), appliesTo: isCalendar, get: (_c, r) => collectionOf(r)!.collection.timezone ?? undefined });
      // RFC 7809 §5.2: the calendar's zone by name (set either, the other follows).
      host.addProperty({ name: cal('calendar-timezone-id'), appliesTo: isCalendar, get: (_c, r) => timezoneIdOf(collectionOf(r)!.collection.timezone) ?? undefined });
      // RFC 7809 §5.1: where a client may fetch the zones it left out; this server's own (RFC 7808 `zones`).
      host.addProperty({
        name: cal('timezone-service-set'),
        appliesTo: (r) => r.backend === calendars && dataOf(r)?.kind === 'home',
        get: (ctx) => ({ xml: hrefXml(ctx.dav.href(davPath([TIMEZONES]), true)) }),
      });
      host.addProperty({ name: cal('supported-collation-set'), appliesTo: isCalendar, get: () => ({ xml: '<C:supported-collation>i;ascii-casemap</C:supported-collation><C:supported-collation>i;octet</C:supported-collation><C:supported-collation>i;unicode-casemap</C:supported-collation>' }) });
      host.addProperty({ name: card('supported-address-data'), appliesTo: isBook, get: () => ({ xml: '<CR:address-data-type content-type="text/vcard" version="3.0"/><CR:address-data-type content-type="text/vcard" version="4.0"/>' }) });
      host.addProperty({ name: card('max-resource-size'), appliesTo: isBook, get: () => String(objects.cardLimits.maxBytes) });
      host.addProperty({ name: card('addressbook-description'), appliesTo: isBook, get: (_c, r) => collectionOf(r)!.collection.description ?? undefined });
      host.addProperty({ name: cs('getctag'), appliesTo: (r) => collectionOf(r) !== null, get: (_c, r) => `"${collectionOf(r)!.collection.seq}"` });
      host.addProperty({ name: `{${DAV}}sync-token`, appliesTo: (r) => collectionOf(r) !== null, get: (_c, r) => syncToken(collectionOf(r)!.collection.id, collectionOf(r)!.collection.seq) });

      // ------------------------------------------------------------ objects: their data as asked
      host.addProperty<Map<string, string>>({
        name: cal('calendar-data'),
        appliesTo: (r) => r.backend === calendars && isObject(r),
        prepare: (_ctx, resources) => dataFor(options.store, resources),
        get: (ctx, r, data, requested) => {
          const d = dataOf(r) as Extract<GroupwareData, { kind: 'object' }>;
          const stored = d.object.data ?? data.get(r.path.key);
          if (stored === undefined) return undefined;
          const request = parseCalendarDataRequest(requested);
          // RFC 7809: the VTIMEZONEs a client left out, added back unless this client asks for none.
          const text = timezonesAsAsked(stored, ctx.req.headers['caldav-timezones']);
          if (wantsWholeObject(request)) return text;
          const zone = (ctx.memo.get(MEMO_ZONE) as Zone | undefined) ?? zoneOfCollection(d.collection);
          let budget = ctx.memo.get(MEMO_EXPANSION) as ExpansionBudget | undefined;
          if (!budget) ctx.memo.set(MEMO_EXPANSION, (budget = { left: MAX_EXPANDED_BYTES_PER_REQUEST }));
          try {
            return renderCalendarData(text, request, zone, parseCalendarObject(text, undefined, { ...objects.calendarLimits, maxBytes: Number.MAX_SAFE_INTEGER }), budget);
          } catch (error) {
            // This object's part of the answer only: a 403 propstat with the precondition.
            if (error instanceof CalendarDataError) throw new DavError(403, error.message, { condition: cal(error.condition) });
            throw error;
          }
        },
      });
      host.addProperty<Map<string, string>>({
        name: card('address-data'),
        appliesTo: (r) => r.backend === addressBooks && isObject(r),
        prepare: (_ctx, resources) => dataFor(options.store, resources),
        get: (_ctx, r, data, requested) => {
          const d = dataOf(r) as Extract<GroupwareData, { kind: 'object' }>;
          const text = d.object.data ?? data.get(r.path.key);
          return text === undefined ? undefined : renderAddressData(text, parseAddressDataRequest(requested));
        },
      });

      // ------------------------------------------------------------ reports
      host.addReport({
        name: cal('calendar-multiget'),
        appliesTo: (r) => r.backend === calendars,
        handler: (ctx, _resource, body) => multiget(ctx, body, CALDAV),
      });
      host.addReport({
        name: card('addressbook-multiget'),
        appliesTo: (r) => r.backend === addressBooks,
        handler: (ctx, _resource, body) => multiget(ctx, body, CARDDAV),
      });
      host.addReport({
        name: cal('calendar-query'),
        appliesTo: (r) => r.backend === calendars && (isCalendar(r) || isObject(r)),
        handler: async (ctx, resource, body) => {
          const request = propsOf(body);
          const filter = parseCalendarFilter(child(body, CALDAV, 'filter'));
          const tz = child(body, CALDAV, 'timezone');
          const tzid = child(body, CALDAV, 'timezone-id');
          const collectionResource = isObject(resource) ? (await ctx.dav.lookup(ctx, davPath(resource.path.segments.slice(0, -1)))).resource! : resource;
          const coll = collectionOf(collectionResource)!;
          // RFC 4791 §7.8 and RFC 7809 §5.2: a query time zone that is none is refused, not silently replaced.
          const asked = tz ? zoneOfTimezoneText(textOf(tz)) : tzid ? zoneForTzid(textOf(tzid).trim()) : null;
          if (tz && !asked) throw new DavError(403, 'CALDAV:timezone must be a VCALENDAR holding one VTIMEZONE', { condition: cal('valid-calendar-data') });
          if (tzid && !asked) throw new DavError(403, 'CALDAV:timezone-id names no time zone this server knows', { condition: cal('valid-timezone') });
          const zone = asked ?? zoneOfCollection(coll.collection);
          ctx.memo.set(MEMO_ZONE, zone);
          const wantsData = request.mode === 'prop' && request.names.includes(cal('calendar-data'));
          // Depth 0 on the calendar itself (Windows 10 Calendar, MSFT-*) is read as Depth 1.
          depthOf(ctx, ['0', '1', 'infinity'], '0');
          const hits = objects.calendarQuery(coll.collection, filter, { zone, withData: wantsData });
          const only = isObject(resource) ? (resource.data as Extract<GroupwareData, { kind: 'object' }>).object.name : null;
          await streamResponses(ctx, request, (async function* () {
            for await (const hit of hits) {
              if (only !== null && hit.object.name !== only) continue;
              yield calendars.objectResource(collectionResource, hit.data !== undefined ? { ...hit.object, data: hit.data } : hit.object);
            }
          })());
        },
      });
      host.addReport({
        name: card('addressbook-query'),
        appliesTo: (r) => r.backend === addressBooks && (isBook(r) || isObject(r)),
        handler: async (ctx, resource, body) => {
          const request = propsOf(body);
          const filter = parseCardFilter(child(body, CARDDAV, 'filter'));
          const limitEl = child(body, CARDDAV, 'limit');
          const nresults = limitEl ? Number(textOf(child(limitEl, CARDDAV, 'nresults') ?? limitEl).trim()) : undefined;
          if (nresults !== undefined && (!Number.isSafeInteger(nresults) || nresults < 1)) throw new DavError(400, 'nresults is a positive whole number');
          const coll = collectionOf(resource);
          if (!coll) throw new DavError(403, 'an addressbook-query goes to an address book', { condition: `{${DAV}}supported-report` });
          depthOf(ctx, ['0', '1', 'infinity'], '0');
          let count = 0;
          let truncated = false;
          await streamResponses(
            ctx,
            request,
            (async function* () {
              for await (const hit of objects.addressQuery(coll.collection, filter, {})) {
                if (nresults !== undefined && count >= nresults) {
                  truncated = true;
                  return;
                }
                count++;
                yield addressBooks.objectResource(resource, { ...hit.object, data: hit.data });
              }
            })(),
            () => (truncated ? statusResponse(ctx.href(resource.path, true), 507) : ''),
          );
        },
      });
      host.addReport({
        name: cal('free-busy-query'),
        privilege: READ_FREE_BUSY,
        appliesTo: (r) => r.backend === calendars && (isCalendar(r) || dataOf(r)?.kind === 'home'),
        handler: async (ctx, resource, body) => {
          const range = child(body, CALDAV, 'time-range');
          if (!range) throw new DavError(400, 'a free-busy-query needs a time-range');
          const tr = parseTimeRange(range.attributes.find((a) => a.name === 'start')?.value, range.attributes.find((a) => a.name === 'end')?.value);
          if (tr.start === null || tr.end === null) throw new DavError(400, 'a free-busy time-range has a start and an end');
          const d = dataOf(resource)!;
          const collections = d.kind === 'collection' ? [d.collection] : d.kind === 'home' ? await options.store.listCollections(d.owner.id, 'calendar') : [];
          const text = await objects.freeBusy(collections, { start: tr.start, end: tr.end }, null);
          ctx.res.statusCode = 200;
          ctx.res.setHeader('content-type', 'text/calendar; charset=utf-8');
          ctx.res.setHeader('content-length', Buffer.byteLength(text));
          ctx.res.end(text);
        },
      });
      host.addReport({
        name: `{${DAV}}sync-collection`,
        appliesTo: (r) => collectionOf(r) !== null,
        handler: async (ctx, resource, body) => syncCollection(ctx, resource, body),
      });

      // ------------------------------------------------------------ report bodies
      function propsOf(body: XmlElement): PropRequest {
        const prop = child(body, DAV, 'prop');
        if (prop) return propRequestOf(prop);
        if (child(body, DAV, 'propname')) return { mode: 'propname' };
        return { mode: 'allprop', include: [] };
      }

      async function streamResponses(ctx: DavContext, request: PropRequest, resources: AsyncIterable<DavResource>, trailer: () => string = () => ''): Promise<void> {
        const minimal = preferMinimal(ctx);
        const out = new XmlStream(ctx.res, ctx.dav.namespaces);
        let batch: DavResource[] = [];
        let bytes = 0;
        let started = false;
        const flush = async () => {
          const xml = await renderResponseList(ctx, batch, request, { minimal });
          batch = [];
          bytes = 0;
          if (!started) {
            out.begin(207);
            started = true;
          }
          await out.writeEach(xml);
        };
        for await (const r of resources) {
          batch.push(r);
          bytes += r.contentLength ?? 0;
          if (batch.length >= BATCH || bytes >= BATCH_BYTES) await flush();
        }
        await flush();
        await out.write(trailer());
        await out.end();
      }

      async function multiget(ctx: DavContext, body: XmlElement, ns: string): Promise<void> {
        const request = propsOf(body);
        const hrefs = elements(body).filter((e) => e.ns === DAV && e.name === 'href').map((e) => textOf(e).trim());
        if (hrefs.length === 0) throw new DavError(400, 'a multiget names at least one href');
        if (hrefs.length > MAX_HREFS) throw new DavError(403, `at most ${MAX_HREFS} hrefs per multiget`, { condition: `{${ns}}max-hrefs` });
        const paths = hrefs.map((h) => {
          try {
            return ctx.dav.pathOf(h);
          } catch {
            return null;
          }
        });
        if (request.mode === 'prop' && request.names.includes(`{${ns}}${ns === CALDAV ? 'calendar-data' : 'address-data'}`)) ctx.memo.set(MEMO_WANTS_DATA, true);
        const found = await ctx.dav.lookupMany(ctx, paths.filter((p): p is NonNullable<typeof p> => p !== null));
        ctx.memo.delete(MEMO_WANTS_DATA);
        const minimal = preferMinimal(ctx);
        const out = new XmlStream(ctx.res, ctx.dav.namespaces);
        out.begin(207);
        for (let i = 0; i < hrefs.length; i += BATCH) {
          const readable: DavResource[] = [];
          let missing = '';
          for (let k = i; k < Math.min(hrefs.length, i + BATCH); k++) {
            const r = paths[k] ? found.get(paths[k]!.key) : undefined;
            if (!r) missing += statusResponse(hrefs[k]!, 404);
            else if (!r.privileges.has('read') && !r.privileges.has('all')) missing += statusResponse(hrefs[k]!, 403);
            else readable.push(r);
          }
          for (const run of sizedBatches(readable)) await out.writeEach(await renderResponseList(ctx, run, request, { minimal }));
          await out.write(missing);
        }
        await out.end();
      }

      /**
       * sync-collection (RFC 6578): what changed since the client's token, as responses with the asked
       * properties (or 404 for what went away), and the new token. No token: everything there is. A
       * limit (DAV:limit/DAV:nresults) cuts the answer at a change counter: the request-URI is answered
       * 507 and the token leads on to the rest.
       */
      async function syncCollection(ctx: DavContext, resource: DavResource, body: XmlElement): Promise<void> {
        const coll = collectionOf(resource)!;
        // RFC 6578 asks for Depth 0; python-caldav and others send 1: the answer is the same.
        depthOf(ctx, ['0', '1', 'infinity'], '0');
        const tokenEl = child(body, DAV, 'sync-token');
        const token = tokenEl ? textOf(tokenEl).trim() : '';
        const level = child(body, DAV, 'sync-level');
        if (level && textOf(level).trim() !== '1') throw new DavError(403, 'only sync-level 1 is supported', { condition: `{${DAV}}supported-sync-level` });
        const limitEl = child(body, DAV, 'limit');
        const nresultsEl = limitEl ? child(limitEl, DAV, 'nresults') : undefined;
        const limit = nresultsEl ? Number(textOf(nresultsEl).trim()) : undefined;
        if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new DavError(400, 'nresults is a positive whole number');
        const request = propsOf(body);
        let since = 0;
        if (token) {
          const parsed = parseSyncToken(token);
          if (!parsed || parsed.collectionId !== coll.collection.id) throw new DavError(403, 'this sync-token is not one of this collection', { condition: `{${DAV}}valid-sync-token` });
          since = parsed.seq;
        }
        // The initial sync of a whole collection is its listing (keyset pages of the objects), not its change
        // log (every change since it was made, then each page of names looked up again).
        if (!token && limit === undefined) return initialListing(ctx, resource, request, undefined);
        const changes = await options.store.changesSince(coll.collection.id, since, limit ?? 100_000);
        if (changes === 'expired') {
          if (token) throw new DavError(403, 'this sync-token is too old or not yet valid: start again without one', { condition: `{${DAV}}valid-sync-token` });
          // The log of a long-lived collection was pruned: the initial listing comes from the collection itself.
          return initialListing(ctx, resource, request, limit);
        }
        const minimal = preferMinimal(ctx);
        const out = new XmlStream(ctx.res, ctx.dav.namespaces);
        out.begin(207);
        const list = token ? changes.changes : changes.changes.filter((c) => c.kind === 'put');
        for (let i = 0; i < list.length; i += BATCH) {
          const part = list.slice(i, i + BATCH);
          const puts = part.filter((c) => c.kind === 'put').map((c) => davPath([...resource.path.segments, c.name]));
          const found = await ctx.dav.lookupMany(ctx, puts);
          const present: DavResource[] = [];
          let gone = '';
          for (const c of part) {
            const r = c.kind === 'put' ? found.get(davPath([...resource.path.segments, c.name]).key) : undefined;
            if (r) present.push(r);
            else if (token) gone += statusResponse(ctx.href(davPath([...resource.path.segments, c.name]), false), 404);
          }
          for (const run of sizedBatches(present)) await out.writeEach(await renderResponseList(ctx, run, request, { minimal }));
          await out.write(gone);
        }
        if (changes.truncated) await out.write(statusResponse(ctx.href(resource.path, true), 507));
        await out.write(`<d:sync-token>${syncToken(coll.collection.id, changes.seq)}</d:sync-token>`);
        await out.end();
      }

      async function initialListing(ctx: DavContext, resource: DavResource, request: PropRequest, limit: number | undefined): Promise<void> {
        const coll = collectionOf(resource)!;
        const fresh = await options.store.getCollection(coll.collection.id);
        const seq = fresh?.seq ?? coll.collection.seq;
        let count = 0;
        let over = false;
        const members = (async function* () {
          for await (const page of ctx.dav.memberPages(ctx, resource)) {
            for (const m of page) {
              if (limit !== undefined && ++count > limit) {
                over = true;
                return;
              }
              yield m;
            }
          }
        })();
        const minimal = preferMinimal(ctx);
        const out = new XmlStream(ctx.res, ctx.dav.namespaces);
        let batch: DavResource[] = [];
        out.begin(207);
        let bytes = 0;
        for await (const m of members) {
          batch.push(m);
          bytes += m.contentLength ?? 0;
          if (batch.length >= BATCH || bytes >= BATCH_BYTES) {
            await out.writeEach(await renderResponseList(ctx, batch, request, { minimal }));
            batch = [];
            bytes = 0;
          }
        }
        await out.writeEach(await renderResponseList(ctx, batch, request, { minimal }));
        if (over) {
          // Without a change log to continue from, a cut listing could not be resumed: the client is told to ask for more.
          await out.write(`<d:response>${hrefXml(ctx.href(resource.path, true))}<d:status>HTTP/1.1 507 Insufficient Storage</d:status><d:error><d:number-of-matches-within-limits/></d:error></d:response>`);
        }
        await out.write(`<d:sync-token>${syncToken(coll.collection.id, seq)}</d:sync-token>`);
        await out.end();
      }
    },
  };
}

/** The stored text of objects a response needs and does not have yet, one query per collection. */
async function dataFor(store: CalendarStore, resources: readonly DavResource[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const byCollection = new Map<string, { r: DavResource; object: ListedObject }[]>();
  for (const r of resources) {
    const d = r.data as Extract<GroupwareData, { kind: 'object' }>;
    if (d?.kind !== 'object' || d.object.data !== undefined) continue;
    const list = byCollection.get(d.collection.id) ?? [];
    list.push({ r, object: d.object });
    byCollection.set(d.collection.id, list);
  }
  for (const [collectionId, list] of byCollection) {
    const byName = new Map(list.map((x) => [x.object.name, x.r]));
    for (const o of await store.getObjects(collectionId, [...byName.keys()])) if (o.data !== undefined) out.set(byName.get(o.name)!.path.key, o.data);
  }
  return out;
}

