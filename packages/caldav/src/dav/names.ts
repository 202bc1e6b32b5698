/** Namespaces of CalDAV (RFC 4791), CardDAV (RFC 6352) and of the extensions clients speak. */
export const CALDAV = 'urn:ietf:params:xml:ns:caldav';
export const CARDDAV = 'urn:ietf:params:xml:ns:carddav';
/** Apple's CalendarServer extensions (getctag, sharing, proxies). */
export const CS = 'http://calendarserver.org/ns/';
/** Apple iCal's properties (calendar-color, calendar-order). */
export const APPLE_ICAL = 'http://apple.com/ns/ical/';
/** Palabre's own preconditions, where no RFC names one (a limit of this server). */
export const PALABRE = 'https://palabre.org/ns/';

/** The mounts of the DAV namespace: `/calendars/<address>/` and `/addressbooks/<address>/` are the homes. */
export const CALENDARS = 'calendars';
export const ADDRESSBOOKS = 'addressbooks';
/** CalendarServer's notification collections (CS:notification-URL): `/notifications/<address>/`. */
export const NOTIFICATIONS = 'notifications';
/** The time-zone service of RFC 7809's timezone-service-set: `/timezones/zones/<tzid>`. */
export const TIMEZONES = 'timezones';

export const cal = (name: string): string => `{${CALDAV}}${name}`;
export const card = (name: string): string => `{${CARDDAV}}${name}`;
export const cs = (name: string): string => `{${CS}}${name}`;
export const dav = (name: string): string => `{DAV:}${name}`;

/** CALDAV:read-free-busy (RFC 4791 §6.1.1): what a free-busy-query needs, aggregated under DAV:read. */
export const READ_FREE_BUSY = `{${CALDAV}}read-free-busy` as const;

/** DAV:share (draft-pot-webdav-resource-sharing §5.3): sharing a collection, which only its owner may. */
export const SHARE = '{DAV:}share' as const;

/** The name under which a domain's address list appears in every address-book home. */
export const DIRECTORY_BOOK = 'annuaire';

/** Prefix of a shared collection's segment in the sharee's home: `shared.<collection id>`. */
export const SHARED_PREFIX = 'shared.';

/** Names no one may give a collection of their own: they stand for shared collections and the directory's book. */
export function isReservedCollectionName(name: string, directoryBook: string = DIRECTORY_BOOK): boolean {
  return name.startsWith(SHARED_PREFIX) || name === directoryBook;
}
