import { EntitySchema } from 'typeorm';

/** Row shapes of the drive and lock tables (timestamps: BIGINT milliseconds). */
export interface DriveSpaceRow {
  id: string;
  name: string;
  kind: string;
  accountId: string | null;
  groupId: string | null;
  rootId: string;
  quotaBytes: number | null;
  createdAt: number;
}

export interface DriveNodeRow {
  id: string;
  spaceId: string;
  parentId: string | null;
  name: string;
  kind: string;
  blobId: string | null;
  size: number;
  contentType: string | null;
  version: number;
  createdAt: number;
  modifiedAt: number;
}

export interface DrivePropRow {
  nodeId: string;
  name: string;
  value: string;
}

export interface DriveGrantRow {
  nodeId: string;
  principalKind: string;
  principalId: string;
  access: string;
}

export interface DavLockRow {
  token: string;
  root: string;
  depth: number;
  scope: string;
  owner: string | null;
  principalId: string;
  timeoutSeconds: number;
  createdAt: number;
  expiresAt: number;
}

const ref = (name: string, nullable = false) => ({ type: 'varchar', length: 36, name, nullable }) as const;
const ms = (name: string, nullable = false) => ({ type: 'bigint', name, nullable }) as const;

export const DriveSpaceEntity = new EntitySchema<DriveSpaceRow>({
  name: 'DriveSpace',
  tableName: 'drive_spaces',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    name: { type: 'varchar', length: 254, unique: true },
    kind: { type: 'varchar', length: 8 },
    accountId: { ...ref('account_id', true), unique: true },
    groupId: ref('group_id', true),
    rootId: ref('root_id'),
    quotaBytes: ms('quota_bytes', true),
    createdAt: ms('created_at'),
  },
  indices: [{ name: 'idx_drive_spaces_group', columns: ['groupId'] }],
  foreignKeys: [
    { target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
    { target: 'Group', columnNames: ['groupId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
  ],
});

export const DriveNodeEntity = new EntitySchema<DriveNodeRow>({
  name: 'DriveNode',
  tableName: 'drive_nodes',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    spaceId: ref('space_id'),
    parentId: ref('parent_id', true),
    name: { type: 'varchar', length: 255 },
    kind: { type: 'varchar', length: 4 },
    blobId: { type: 'varchar', length: 64, name: 'blob_id', nullable: true },
    size: { type: 'bigint' },
    contentType: { type: 'varchar', length: 255, name: 'content_type', nullable: true },
    version: { type: 'bigint' },
    createdAt: ms('created_at'),
    modifiedAt: ms('modified_at'),
  },
  indices: [
    { name: 'idx_drive_nodes_child', columns: ['parentId', 'name'], unique: true },
    { name: 'idx_drive_nodes_space', columns: ['spaceId'] },
    { name: 'idx_drive_nodes_blob', columns: ['blobId'] },
  ],
  foreignKeys: [
    { target: 'DriveSpace', columnNames: ['spaceId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
    { target: 'DriveNode', columnNames: ['parentId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
  ],
});

export const DrivePropEntity = new EntitySchema<DrivePropRow>({
  name: 'DriveProp',
  tableName: 'drive_props',
  columns: {
    nodeId: { ...ref('node_id'), primary: true },
    name: { type: 'varchar', length: 512, primary: true },
    value: { type: 'text' },
  },
  foreignKeys: [{ target: 'DriveNode', columnNames: ['nodeId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const DriveGrantEntity = new EntitySchema<DriveGrantRow>({
  name: 'DriveGrant',
  tableName: 'drive_grants',
  columns: {
    nodeId: { ...ref('node_id'), primary: true },
    principalKind: { type: 'varchar', length: 8, name: 'principal_kind', primary: true },
    principalId: { ...ref('principal_id'), primary: true },
    access: { type: 'varchar', length: 8 },
  },
  indices: [{ name: 'idx_drive_grants_principal', columns: ['principalId'] }],
  foreignKeys: [{ target: 'DriveNode', columnNames: ['nodeId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const DavLockEntity = new EntitySchema<DavLockRow>({
  name: 'DavLock',
  tableName: 'dav_locks',
  columns: {
    token: { type: 'varchar', length: 100, primary: true },
    root: { type: 'varchar', length: 2048 },
    depth: { type: 'integer' },
    scope: { type: 'varchar', length: 9 },
    owner: { type: 'text', nullable: true },
    principalId: ref('principal_id'),
    timeoutSeconds: { type: 'integer', name: 'timeout_seconds' },
    createdAt: ms('created_at'),
    expiresAt: ms('expires_at'),
  },
  indices: [
    { name: 'idx_dav_locks_root', columns: ['root'] },
    { name: 'idx_dav_locks_expires', columns: ['expiresAt'] },
  ],
});

export const DRIVE_ENTITIES = [DriveSpaceEntity, DriveNodeEntity, DrivePropEntity, DriveGrantEntity, DavLockEntity];
