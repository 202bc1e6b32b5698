import { answeredNotModified, DavError, USER_CONTENT_CSP, type DavContext, type DavResource } from '@palabre/webdav';
import type { CalendarObjects } from '../calendar-objects.js';
import { timezonesAsAsked } from '../icalendar/timezone-reference.js';
import type { GroupwareBackend, GroupwareData } from './groupware-backend.js';

/**
 * GET (and HEAD) of a calendar or an address book: the whole collection as one file, for the clients
 * that subscribe to a calendar by URL (Thunderbird, GNOME, Outlook's "internet calendar") and for a user
 * saving a copy. A home and everything else keep the engine's own GET.
 */
export async function exportOnGet(ctx: DavContext, next: () => Promise<void>, objects: CalendarObjects, ours: (r: DavResource) => boolean): Promise<void> {
  const { resource } = await ctx.dav.lookup(ctx, ctx.path);
  const data = resource && ours(resource) ? (resource.data as GroupwareData) : null;
  if (!resource || data?.kind !== 'collection') return next();
  // A colleague's calendar is there for free-busy only: its content is as absent as a calendar that is not.
  if (!resource.privileges.has('read') && !resource.privileges.has('all')) throw new DavError(404, 'no such resource');
  const res = ctx.res;
  if (answeredNotModified(ctx, resource)) return;
  const calendar = data.collection.kind === 'calendar';
  const file = `${(data.collection.displayName ?? data.collection.name).replace(/[^\p{L}\p{N} ._-]+/gu, '_').slice(0, 100) || 'export'}.${calendar ? 'ics' : 'vcf'}`;
  res.statusCode = 200;
  res.setHeader('content-type', calendar ? 'text/calendar; charset=utf-8' : 'text/vcard; charset=utf-8');
  res.setHeader('content-security-policy', USER_CONTENT_CSP);
  // RFC 6266: the ASCII fallback and the UTF-8 name.
  res.setHeader('content-disposition', `attachment; filename="${file.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(file)}`);
  if (ctx.method === 'HEAD') {
    res.end();
    return;
  }
  for await (const chunk of objects.exportCollection(data.collection)) {
    if (chunk && !res.write(chunk)) await drained(res);
    if (res.destroyed) return;
  }
  res.end();
}

/**
 * GET (and HEAD) of a calendar object whose VTIMEZONEs this request wants otherwise than stored (RFC 7809:
 * added back, or taken out for `CalDAV-Timezones: F`). The same ETag either way: it names the stored
 * object, which the representation only completes. A Range asks for the representation whole (RFC 9110
 * lets a server ignore it). An object already as asked keeps the engine's own GET.
 */
export async function objectOnGet(ctx: DavContext, next: () => Promise<void>, calendars: GroupwareBackend): Promise<void> {
  const { resource } = await ctx.dav.lookup(ctx, ctx.path);
  if (!resource || resource.backend !== calendars || (resource.data as GroupwareData).kind !== 'object') return next();
  if (!resource.privileges.has('read') && !resource.privileges.has('all')) return next();
  const stored = await calendars.storedText(resource);
  const text = timezonesAsAsked(stored, ctx.req.headers['caldav-timezones']);
  const res = ctx.res;
  res.setHeader('vary', 'CalDAV-Timezones');
  if (text === stored) return next();
  if (answeredNotModified(ctx, resource)) return;
  const body = Buffer.from(text);
  res.statusCode = 200;
  res.setHeader('content-type', resource.contentType ?? 'text/calendar; charset=utf-8');
  res.setHeader('content-security-policy', USER_CONTENT_CSP);
  res.setHeader('content-length', body.length);
  res.end(ctx.method === 'HEAD' ? undefined : body);
}

/** Back-pressure: wait for the socket to take more, or fail when the client went away. */
function drained(res: DavContext['res']): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    // A download the client cut short is an expected event (499, logged at info), not a failure.
    const onClose = () => done(new DavError(499, 'the download was interrupted'));
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
