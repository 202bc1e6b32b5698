import { createHash } from 'node:crypto';
import { checkNodeName } from '../drive/drive-rules.js';
import { ConflictError, InvalidInputError, TooLargeError } from '../errors.js';
import {
  CALENDAR_COMPONENTS,
  type CollectionKind,
  type CollectionPropertyPatch,
  type ComponentKind,
  type Instance,
  type InviteStatus,
  type NewCollection,
  type ObjectIndex,
  type ObjectQuery,
  type ShareAccess,
  type ShareGrantee,
  type ShareInvite,
} from './calendar-store.js';

/** Largest object a store keeps (the protocol package advertises its own, smaller, max-resource-size). */
export const MAX_CALENDAR_OBJECT_BYTES = 8 * 1024 * 1024;
/** Occurrences kept per object; beyond them a query asks the rule (ObjectIndex.instancesUntil). */
export const MAX_INSTANCES = 1000;
/** Outlook writes UIDs of 232 characters and more; store generously, refuse absurd ones. */
export const MAX_UID_LENGTH = 1024;
export const MAX_COLLECTION_PROPERTIES = 200;
export const MAX_PROPERTY_BYTES = 64 * 1024;
export const MAX_SEARCH_TEXT = 64 * 1024;
/** Widest UTC offset a floating time can take (Pacific/Kiritimati +14, Etc/GMT+12 −12). */
export const DEFAULT_FLOATING_SLACK_MS = 14 * 3600 * 1000;
/**
 * Largest page of queryObjects. Each page of a time-range query reads the window's instances again, so
 * a page without the objects' text (rows of a few hundred bytes) holds a month of a busy calendar whole.
 */
export const MAX_QUERY_LIMIT = 5000;

const ALL_COMPONENTS: readonly ComponentKind[] = [...CALENDAR_COMPONENTS, 'VCARD'];
const MAX_TIMEZONE_BYTES = 256 * 1024;
const MAX_TEXT = 4096;

/** A collection or object name: one URL segment, as the drive accepts it. */
export function checkCalendarName(name: unknown): string {
  return checkNodeName(name);
}

export function checkKind(kind: unknown): CollectionKind {
  if (kind !== 'calendar' && kind !== 'addressbook') throw new InvalidInputError('a collection is a calendar or an address book');
  return kind;
}

export function checkComponents(kind: CollectionKind, components: readonly unknown[] | undefined): ComponentKind[] {
  if (kind === 'addressbook') return [];
  const list = components === undefined ? (['VEVENT', 'VTODO'] as ComponentKind[]) : [...new Set(components)];
  if (list.length === 0) throw new InvalidInputError('a calendar must accept at least one component');
  for (const c of list) if (!CALENDAR_COMPONENTS.includes(c as ComponentKind)) throw new InvalidInputError(`unsupported calendar component ${String(c).slice(0, 40)}`);
  return list as ComponentKind[];
}

export function checkOptionalText(value: unknown, what: string, max = MAX_TEXT): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new InvalidInputError(`${what} must be text`);
  if (value.length > max) throw new TooLargeError(`${what} is longer than ${max} characters`);
  return value;
}

export function checkNewCollection(c: NewCollection): { kind: CollectionKind; name: string; displayName: string | null; description: string | null; timezone: string | null; components: ComponentKind[] } {
  const kind = checkKind(c.kind);
  return {
    kind,
    name: checkCalendarName(c.name),
    displayName: checkOptionalText(c.displayName, 'a display name'),
    description: checkOptionalText(c.description, 'a description'),
    timezone: checkOptionalText(c.timezone, 'a calendar time zone', MAX_TIMEZONE_BYTES),
    components: checkComponents(kind, c.components),
  };
}

export function checkTimezone(value: unknown): string | null {
  return checkOptionalText(value, 'a calendar time zone', MAX_TIMEZONE_BYTES);
}

const isTime = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n);

/** Validated copy of what the protocol package computed: bounded, ordered, finite. */
export function checkIndex(index: ObjectIndex, kind: CollectionKind): ObjectIndex {
  if (typeof index.uid !== 'string' || index.uid.length === 0) throw new InvalidInputError('an object needs a UID');
  if (index.uid.length > MAX_UID_LENGTH) throw new TooLargeError(`a UID is at most ${MAX_UID_LENGTH} characters`);
  if (!ALL_COMPONENTS.includes(index.component)) throw new InvalidInputError('unknown component');
  if ((kind === 'addressbook') !== (index.component === 'VCARD')) throw new InvalidInputError(kind === 'addressbook' ? 'an address book holds vCards' : 'a calendar holds iCalendar objects');
  if (index.firstStart !== null && !isTime(index.firstStart)) throw new InvalidInputError('invalid first start');
  if (index.lastEnd !== null && !isTime(index.lastEnd)) throw new InvalidInputError('invalid last end');
  if (index.instancesUntil !== null && !isTime(index.instancesUntil)) throw new InvalidInputError('invalid instance horizon');
  if (index.instancesFrom !== null && index.instancesFrom !== undefined && !isTime(index.instancesFrom)) throw new InvalidInputError('invalid instance horizon');
  if (!Array.isArray(index.instances)) throw new InvalidInputError('instances must be a list');
  if (index.instances.length > MAX_INSTANCES) throw new TooLargeError(`at most ${MAX_INSTANCES} instances are kept per object`);
  let previous = -Infinity;
  const instances: Instance[] = [];
  for (const i of index.instances) {
    if (!isTime(i.start) || !isTime(i.end) || i.end < i.start) throw new InvalidInputError('an instance is a start and an end at or after it');
    if (i.start < previous) throw new InvalidInputError('instances must be in order');
    previous = i.start;
    instances.push({ start: i.start, end: i.end });
  }
  if (index.searchText !== null && (typeof index.searchText !== 'string' || index.searchText.length > MAX_SEARCH_TEXT)) throw new InvalidInputError('invalid search text');
  return {
    uid: index.uid,
    component: index.component,
    firstStart: index.firstStart,
    lastEnd: index.lastEnd,
    floating: Boolean(index.floating),
    recurring: Boolean(index.recurring),
    instances,
    instancesUntil: index.instancesUntil,
    instancesFrom: index.instancesFrom ?? null,
    exact: Boolean(index.exact),
    searchText: index.searchText,
  };
}

export function checkObjectData(data: unknown): string {
  if (typeof data !== 'string') throw new InvalidInputError('object data must be text');
  if (Buffer.byteLength(data) > MAX_CALENDAR_OBJECT_BYTES) throw new TooLargeError(`an object is at most ${MAX_CALENDAR_OBJECT_BYTES} bytes`);
  return data;
}

/** Strong ETag of an object's bytes: the same bytes always give the same tag, any change another. */
export function objectEtag(data: string): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 32);
}

export function checkPropertyPatch(patch: readonly CollectionPropertyPatch[]): void {
  if (!Array.isArray(patch) || patch.length > MAX_COLLECTION_PROPERTIES) throw new TooLargeError('too many properties in one change');
  for (const p of patch) {
    if (typeof p.name !== 'string' || !/^\{[^}]*\}[^\s{}]{1,256}$/.test(p.name) || p.name.length > 512) throw new InvalidInputError('a property name is in Clark notation');
    if (p.op === 'set' && (typeof p.value !== 'string' || p.value.length > MAX_PROPERTY_BYTES)) throw new TooLargeError(`a property value is at most ${MAX_PROPERTY_BYTES} characters`);
    if (p.op !== 'set' && p.op !== 'remove') throw new InvalidInputError('a property change is set or remove');
  }
}

export function checkGrantee(grantee: ShareGrantee): ShareGrantee {
  if (!grantee || (grantee.kind !== 'account' && grantee.kind !== 'group') || typeof grantee.id !== 'string' || grantee.id.length === 0 || grantee.id.length > 64) {
    throw new InvalidInputError('a share goes to an account or a group');
  }
  return { kind: grantee.kind, id: grantee.id };
}

export function checkAccess(access: unknown): ShareAccess {
  if (access !== 'read' && access !== 'read-write') throw new InvalidInputError('access is read or read-write');
  return access;
}

export const widerAccess = (a: ShareAccess, b: ShareAccess): ShareAccess => (a === 'read-write' || b === 'read-write' ? 'read-write' : 'read');

/**
 * A share's status and notice after the owner shares (again): a new share with an account, or one it
 * had declined, is a new invitation (pending, a notice posted); a change of access is news too (a notice)
 * but keeps the answer given; the same share again changes nothing. Groups never answer: accepted.
 */
export function sharedAgain(
  kind: ShareGrantee['kind'],
  had: { readonly status: InviteStatus; readonly access: ShareAccess; readonly notice: boolean; readonly replyNotice: boolean } | null,
  access: ShareAccess,
): { status: InviteStatus; notice: boolean; replyNotice: boolean; changed: boolean } {
  if (kind === 'group') return { status: 'accepted', notice: false, replyNotice: false, changed: !had || had.access !== access };
  // A new invitation: the owner's notice of the old answer is stale.
  if (!had || had.status === 'declined') return { status: 'pending', notice: true, replyNotice: false, changed: true };
  if (had.access !== access) return { status: had.status, notice: true, replyNotice: had.replyNotice, changed: true };
  return { status: had.status, notice: had.notice, replyNotice: had.replyNotice, changed: false };
}

/** Invitation replies in a stable order: by collection, then by sharee. */
export const byCollectionThenSharee = (a: ShareInvite, b: ShareInvite): number =>
  a.collection.id < b.collection.id ? -1 : a.collection.id > b.collection.id ? 1 : a.share.grantee.id < b.share.grantee.id ? -1 : a.share.grantee.id > b.share.grantee.id ? 1 : 0;

export function checkReply(status: unknown): 'accepted' | 'declined' {
  if (status !== 'accepted' && status !== 'declined') throw new InvalidInputError('a reply accepts or declines');
  return status;
}

export function uidConflict(existingName: string): ConflictError {
  return new ConflictError('another object in this collection has the same UID', { detail: { reason: 'uid-conflict', name: existingName } });
}

export function preconditionFailed(): ConflictError {
  return new ConflictError('the object changed (or does not exist as expected)', { detail: { reason: 'precondition' } });
}

export interface QueryWindow {
  readonly start: number;
  readonly end: number;
  readonly slack: number;
}

/** The query's range with open sides closed at the far past and future. */
export function queryWindow(query: ObjectQuery): QueryWindow | null {
  const range = query.timeRange;
  if (!range) return null;
  const start = range.start ?? Number.MIN_SAFE_INTEGER;
  const end = range.end ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw new InvalidInputError('invalid time range');
  const slack = query.floatingSlackMs ?? DEFAULT_FLOATING_SLACK_MS;
  if (!Number.isSafeInteger(slack) || slack < 0 || slack > 48 * 3600 * 1000) throw new InvalidInputError('invalid floating slack');
  return { start, end, slack };
}

/** RFC 4791 §9.9 for one instance: a span overlaps, an instant must fall inside. */
export function instanceOverlaps(i: Instance, start: number, end: number): boolean {
  if (i.end > i.start) return i.start < end && i.end > start;
  return start <= i.start && i.start < end;
}

/**
 * Whether a stored instance is a candidate for the window: floating instances are compared with the
 * window moved out by the slack (their zone is the query's), inexact ones (VTODO) as closed intervals.
 */
export function instanceMatches(i: Instance, floating: boolean, exact: boolean, w: QueryWindow): boolean {
  const { start, end } = floating ? widen(w) : w;
  return exact ? instanceOverlaps(i, start, end) : i.start <= end && i.end >= start;
}

/** Whether the query's window reaches past what the stored instances cover (the rule must be asked). */
export function beyondInstances(index: Pick<ObjectIndex, 'instancesUntil' | 'instancesFrom' | 'firstStart' | 'lastEnd'>, wide: { start: number; end: number }): boolean {
  if (index.instancesUntil !== null && index.instancesUntil < wide.end && (index.lastEnd === null || index.lastEnd > wide.start)) return true;
  return index.instancesFrom !== null && index.instancesFrom > wide.start && (index.firstStart === null || index.firstStart < wide.end);
}

/** Bounds moved out by the slack, without leaving the safe integers. */
export function widen(w: QueryWindow): { start: number; end: number } {
  return { start: Math.max(Number.MIN_SAFE_INTEGER, w.start - w.slack), end: Math.min(Number.MAX_SAFE_INTEGER, w.end + w.slack) };
}

export function checkQueryLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_QUERY_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidInputError('a limit is a positive whole number');
  return Math.min(limit, MAX_QUERY_LIMIT);
}

/** Notifier topic of a collection: published after every committed change (push, other nodes). */
export function calendarTopic(collectionId: string): string {
  return `calendar.collection.${collectionId}`;
}
