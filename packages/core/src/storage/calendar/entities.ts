import { EntitySchema } from 'typeorm';

/**
 * The tables of calendars and address books. Objects are kept as sent (text) beside the columns
 * queries filter on; occurrences live in their own bounded table so a time-range query is one
 * index range scan. Timestamps are BIGINT milliseconds like the rest of Palabre.
 */
export interface CalendarCollectionRow {
  id: string;
  kind: string;
  accountId: string | null;
  domainId: string | null;
  name: string;
  displayName: string | null;
  description: string | null;
  timezone: string | null;
  /** Comma-separated component names. */
  components: string;
  readOnly: boolean;
  /** The longest instance ever stored here: how far before a range an overlapping instance can start. */
  maxSpanMs: number;
  createdAt: number;
  modifiedAt: number;
}

export interface CalendarObjectRow {
  id: string;
  collectionId: string;
  name: string;
  uid: string;
  component: string;
  etag: string;
  size: number;
  data: string;
  firstStart: number | null;
  lastEnd: number | null;
  instancesUntil: number | null;
  instancesFrom: number | null;
  floating: boolean;
  recurring: boolean;
  exact: boolean;
  searchText: string | null;
  createdAt: number;
  modifiedAt: number;
}

export interface CalendarInstanceRow {
  objectId: string;
  ord: number;
  collectionId: string;
  startMs: number;
  endMs: number;
  floating: boolean;
  exact: boolean;
}

export interface CalendarPropRow {
  collectionId: string;
  /** '' for the collection's own properties, an account id for a sharee's own (displayname, colour). */
  viewerId: string;
  name: string;
  value: string;
}

export interface CalendarShareRow {
  collectionId: string;
  granteeKind: string;
  granteeId: string;
  access: string;
  createdAt: number;
  status: string | null;
  notice: boolean | null;
  modifiedAt: number | null;
  replyNotice: boolean | null;
}

export interface CalendarDelegateRow {
  ownerId: string;
  delegateKind: string;
  delegateId: string;
  access: string;
}

const ref = (name: string, nullable = false) => ({ type: 'varchar', length: 36, name, nullable }) as const;
const big = (name: string, nullable = false) => ({ type: 'bigint', name, nullable }) as const;
const cascade = (target: string, columns: string[]) => ({ target, columnNames: columns, referencedColumnNames: ['id'], onDelete: 'CASCADE' as const });

export const CalendarCollectionEntity = new EntitySchema<CalendarCollectionRow>({
  name: 'CalendarCollection',
  tableName: 'calendar_collections',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    kind: { type: 'varchar', length: 12 },
    accountId: ref('account_id', true),
    domainId: ref('domain_id', true),
    name: { type: 'varchar', length: 255 },
    displayName: { type: 'text', name: 'display_name', nullable: true },
    description: { type: 'text', nullable: true },
    timezone: { type: 'text', nullable: true },
    components: { type: 'varchar', length: 128 },
    readOnly: { type: 'boolean', name: 'read_only' },
    maxSpanMs: big('max_span_ms'),
    createdAt: big('created_at'),
    modifiedAt: big('modified_at'),
  },
  indices: [
    { name: 'uq_calendar_collections_account_name', columns: ['accountId', 'name'], unique: true },
    { name: 'uq_calendar_collections_domain', columns: ['domainId'], unique: true },
  ],
  foreignKeys: [cascade('Account', ['accountId']), cascade('Domain', ['domainId'])],
});

export const CalendarObjectEntity = new EntitySchema<CalendarObjectRow>({
  name: 'CalendarObject',
  tableName: 'calendar_objects',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    collectionId: ref('collection_id'),
    name: { type: 'varchar', length: 255 },
    uid: { type: 'varchar', length: 1024 },
    component: { type: 'varchar', length: 16 },
    etag: { type: 'varchar', length: 64 },
    size: big('size'),
    data: { type: 'text' },
    firstStart: big('first_start', true),
    lastEnd: big('last_end', true),
    instancesUntil: big('instances_until', true),
    instancesFrom: big('instances_from', true),
    floating: { type: 'boolean' },
    recurring: { type: 'boolean' },
    exact: { type: 'boolean' },
    searchText: { type: 'text', name: 'search_text', nullable: true },
    createdAt: big('created_at'),
    modifiedAt: big('modified_at'),
  },
  indices: [
    { name: 'uq_calendar_objects_name', columns: ['collectionId', 'name'], unique: true },
    { name: 'uq_calendar_objects_uid', columns: ['collectionId', 'uid'], unique: true },
    { name: 'idx_calendar_objects_until', columns: ['collectionId', 'instancesUntil'] },
    { name: 'idx_calendar_objects_from', columns: ['collectionId', 'instancesFrom'] },
    // Covering a listing's columns (listEntries): a PROPFIND of 25,000 names reads no table row.
    { name: 'idx_calendar_objects_listing', columns: ['collectionId', 'name', 'etag', 'component', 'size', 'createdAt', 'modifiedAt'] },
  ],
  foreignKeys: [cascade('CalendarCollection', ['collectionId'])],
});

export const CalendarInstanceEntity = new EntitySchema<CalendarInstanceRow>({
  name: 'CalendarInstance',
  tableName: 'calendar_instances',
  columns: {
    objectId: { ...ref('object_id'), primary: true },
    ord: { type: 'integer', primary: true },
    collectionId: ref('collection_id'),
    startMs: big('start_ms'),
    endMs: big('end_ms'),
    floating: { type: 'boolean' },
    exact: { type: 'boolean' },
  },
  indices: [{ name: 'idx_calendar_instances_window', columns: ['collectionId', 'startMs', 'endMs', 'floating', 'exact', 'objectId'] }],
  foreignKeys: [cascade('CalendarObject', ['objectId'])],
});

export const CalendarPropEntity = new EntitySchema<CalendarPropRow>({
  name: 'CalendarProp',
  tableName: 'calendar_props',
  columns: {
    collectionId: { ...ref('collection_id'), primary: true },
    viewerId: { ...ref('viewer_id'), primary: true },
    name: { type: 'varchar', length: 512, primary: true },
    value: { type: 'text' },
  },
  foreignKeys: [cascade('CalendarCollection', ['collectionId'])],
});

export const CalendarShareEntity = new EntitySchema<CalendarShareRow>({
  name: 'CalendarShare',
  tableName: 'calendar_shares',
  columns: {
    collectionId: { ...ref('collection_id'), primary: true },
    granteeKind: { type: 'varchar', length: 8, name: 'grantee_kind', primary: true },
    granteeId: { ...ref('grantee_id'), primary: true },
    access: { type: 'varchar', length: 10 },
    createdAt: big('created_at'),
    status: { type: 'varchar', length: 10, nullable: true },
    notice: { type: 'boolean', nullable: true },
    modifiedAt: big('modified_at', true),
    replyNotice: { type: 'boolean', name: 'reply_notice', nullable: true },
  },
  indices: [{ name: 'idx_calendar_shares_grantee', columns: ['granteeKind', 'granteeId'] }],
  foreignKeys: [cascade('CalendarCollection', ['collectionId'])],
});

export const CalendarDelegateEntity = new EntitySchema<CalendarDelegateRow>({
  name: 'CalendarDelegate',
  tableName: 'calendar_delegates',
  columns: {
    ownerId: { ...ref('owner_id'), primary: true },
    delegateKind: { type: 'varchar', length: 8, name: 'delegate_kind', primary: true },
    delegateId: { ...ref('delegate_id'), primary: true },
    access: { type: 'varchar', length: 10 },
  },
  indices: [{ name: 'idx_calendar_delegates_delegate', columns: ['delegateKind', 'delegateId'] }],
  foreignKeys: [cascade('Account', ['ownerId'])],
});

export const CALENDAR_ENTITIES = [
  CalendarCollectionEntity,
  CalendarObjectEntity,
  CalendarInstanceEntity,
  CalendarPropEntity,
  CalendarShareEntity,
  CalendarDelegateEntity,
] as const;
