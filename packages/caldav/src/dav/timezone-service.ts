import { DavError, READ_ONLY, davPath, virtualCollection, type DavBackend, type DavContext, type DavLookup, type DavPath, type DavResource } from '@palabre/webdav';
import { PRODUCT_ID } from '../icalendar/calendar-export.js';
import { calendarTimezoneFor } from '../icalendar/timezone-reference.js';
import { zoneForTzid } from '../icalendar/zones.js';
import { TIMEZONES } from './names.js';

/**
 * The time-zone service the calendar home's CALDAV:timezone-service-set names (RFC 7809 §5.1): the
 * `zones/{tzid}` resource of RFC 7808 (TZDIST), each zone one VCALENDAR with its VTIMEZONE, written
 * from the same database the server computes with. Only that: no capabilities, listing or changes.
 */
export class TimezoneService implements DavBackend {
  readonly mount = TIMEZONES;

  async lookup(_ctx: DavContext, path: DavPath): Promise<DavLookup> {
    const [, zones, ...tzid] = path.segments;
    if (zones === undefined) return { resource: virtualCollection(davPath([TIMEZONES]), this), parent: null };
    if (zones !== 'zones') return { resource: null, parent: null };
    const root = virtualCollection(davPath([TIMEZONES, 'zones']), this);
    if (!tzid.length) return { resource: root, parent: null };
    const id = tzid.join('/');
    const zone = id.length <= 256 ? zoneForTzid(id) : null;
    const text = zone ? calendarTimezoneFor(id, PRODUCT_ID) : null;
    if (!zone || !text) return { resource: null, parent: root };
    const body = Buffer.from(text);
    return {
      resource: {
        path,
        collection: false,
        etag: `"${zone.id}"`,
        lastModified: null,
        createdAt: null,
        contentLength: body.length,
        contentType: 'text/calendar; charset=utf-8',
        displayName: zone.id,
        privileges: READ_ONLY,
        backend: this,
        data: body,
      },
      parent: root,
    };
  }

  async members(): Promise<DavResource[]> {
    return [];
  }

  async read(_ctx: DavContext, resource: DavResource): Promise<Buffer> {
    if (!Buffer.isBuffer(resource.data)) throw new DavError(404, 'no such time zone');
    return resource.data;
  }
}
