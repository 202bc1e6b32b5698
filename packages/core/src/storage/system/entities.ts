import { EntitySchema } from 'typeorm';

export interface AuditEventRow {
  id: number;
  at: number;
  type: string;
  actor: string | null;
  ip: string | null;
  protocol: string | null;
  target: string | null;
  detail: string | null;
}

export interface ThrottleRow {
  key: string;
  failures: number;
  firstFailureAt: number;
  lastFailureAt: number;
}

export interface KnownDeviceRow {
  key: string;
  lastSuccessAt: number;
}

export interface ChangeCollectionRow {
  collection: string;
  seq: number;
  /** since() below this answers 'expired'. */
  floorSeq: number;
}

export interface ChangeEntryRow {
  collection: string;
  item: string;
  seq: number;
  kind: string;
}

export const AuditEventEntity = new EntitySchema<AuditEventRow>({
  name: 'AuditEvent',
  tableName: 'audit_events',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment' },
    at: { type: 'bigint' },
    type: { type: 'varchar', length: 32 },
    actor: { type: 'varchar', length: 320, nullable: true },
    ip: { type: 'varchar', length: 64, nullable: true },
    protocol: { type: 'varchar', length: 16, nullable: true },
    target: { type: 'varchar', length: 512, nullable: true },
    detail: { type: 'varchar', length: 512, nullable: true },
  },
  indices: [
    { name: 'idx_audit_at', columns: ['at'] },
    { name: 'idx_audit_actor', columns: ['actor', 'at'] },
  ],
});

export const ThrottleEntity = new EntitySchema<ThrottleRow>({
  name: 'Throttle',
  tableName: 'auth_throttle',
  columns: {
    key: { type: 'varchar', length: 330, primary: true },
    failures: { type: 'integer' },
    firstFailureAt: { type: 'bigint', name: 'first_failure_at' },
    lastFailureAt: { type: 'bigint', name: 'last_failure_at' },
  },
});

export const KnownDeviceEntity = new EntitySchema<KnownDeviceRow>({
  name: 'KnownDevice',
  tableName: 'auth_known_devices',
  columns: {
    key: { type: 'varchar', length: 330, primary: true },
    lastSuccessAt: { type: 'bigint', name: 'last_success_at' },
  },
});

export const ChangeCollectionEntity = new EntitySchema<ChangeCollectionRow>({
  name: 'ChangeCollection',
  tableName: 'change_collections',
  columns: {
    collection: { type: 'varchar', length: 300, primary: true },
    seq: { type: 'bigint' },
    floorSeq: { type: 'bigint', name: 'floor_seq' },
  },
});

export const ChangeEntryEntity = new EntitySchema<ChangeEntryRow>({
  name: 'ChangeEntry',
  tableName: 'change_entries',
  columns: {
    collection: { type: 'varchar', length: 300, primary: true },
    item: { type: 'varchar', length: 1024, primary: true },
    seq: { type: 'bigint' },
    kind: { type: 'varchar', length: 8 },
  },
  indices: [{ name: 'idx_change_entries_seq', columns: ['collection', 'seq'] }],
});

export const SYSTEM_ENTITIES = [AuditEventEntity, ThrottleEntity, KnownDeviceEntity, ChangeCollectionEntity, ChangeEntryEntity];
