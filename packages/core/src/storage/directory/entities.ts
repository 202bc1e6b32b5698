import { EntitySchema } from 'typeorm';

/**
 * Row shapes of the directory tables. Timestamps are milliseconds since the epoch in BIGINT columns
 * (identical on SQLite and PostgreSQL, no time-zone conversions); ids are UUID strings made by us.
 */
export interface DomainRow {
  id: string;
  name: string;
  defaultQuotaBytes: number | null;
  defaultQuotaMessages: number | null;
  defaultQuotaMailboxes: number | null;
  createdAt: number;
}

export interface DomainNameRow {
  name: string;
  domainId: string;
  isPrimary: boolean;
}

export interface AccountRow {
  id: string;
  address: string;
  domainId: string;
  displayName: string;
  /** foldName(displayName): what a directory search compares. */
  searchName: string | null;
  department: string | null;
  quotaBytes: number | null;
  quotaMessages: number | null;
  quotaMailboxes: number | null;
  status: string;
  passwordHash: string | null;
  createdAt: number;
  lastLoginAt: number | null;
}

export interface AddressRow {
  address: string;
  kind: string;
  domainId: string;
  accountId: string | null;
  groupId: string | null;
  createdAt: number;
}

export interface GroupRow {
  id: string;
  name: string;
  domainId: string;
  address: string | null;
  description: string | null;
  createdAt: number;
}

export interface GroupMemberRow {
  groupId: string;
  memberKind: string;
  memberId: string;
}

export interface CredentialRow {
  id: string;
  accountId: string;
  kind: string;
  label: string;
  secretHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
}

const id = { type: 'varchar', length: 36, primary: true } as const;
const ms = (name: string, nullable = false) => ({ type: 'bigint', name, nullable }) as const;

export const DomainEntity = new EntitySchema<DomainRow>({
  name: 'Domain',
  tableName: 'domains',
  columns: {
    id,
    name: { type: 'varchar', length: 253, unique: true },
    defaultQuotaBytes: { ...ms('default_quota_bytes', true) },
    defaultQuotaMessages: ms('default_quota_messages', true),
    defaultQuotaMailboxes: ms('default_quota_mailboxes', true),
    createdAt: ms('created_at'),
  },
});

export const DomainNameEntity = new EntitySchema<DomainNameRow>({
  name: 'DomainName',
  tableName: 'domain_names',
  columns: {
    name: { type: 'varchar', length: 253, primary: true },
    domainId: { type: 'varchar', length: 36, name: 'domain_id' },
    isPrimary: { type: 'boolean', name: 'is_primary' },
  },
  indices: [{ name: 'idx_domain_names_domain', columns: ['domainId'] }],
  foreignKeys: [{ target: 'Domain', columnNames: ['domainId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const AccountEntity = new EntitySchema<AccountRow>({
  name: 'Account',
  tableName: 'accounts',
  columns: {
    id,
    address: { type: 'varchar', length: 254, unique: true },
    domainId: { type: 'varchar', length: 36, name: 'domain_id' },
    displayName: { type: 'varchar', length: 256, name: 'display_name' },
    searchName: { type: 'varchar', length: 256, name: 'search_name', nullable: true },
    department: { type: 'varchar', length: 256, nullable: true },
    quotaBytes: ms('quota_bytes', true),
    quotaMessages: ms('quota_messages', true),
    quotaMailboxes: ms('quota_mailboxes', true),
    status: { type: 'varchar', length: 16 },
    passwordHash: { type: 'varchar', length: 512, name: 'password_hash', nullable: true },
    createdAt: ms('created_at'),
    lastLoginAt: ms('last_login_at', true),
  },
  indices: [
    { name: 'idx_accounts_domain', columns: ['domainId', 'address'] },
    { name: 'idx_accounts_search', columns: ['domainId', 'searchName'] },
    { name: 'idx_accounts_search_all', columns: ['searchName'] },
  ],
  foreignKeys: [{ target: 'Domain', columnNames: ['domainId'], referencedColumnNames: ['id'] }],
});

export const AddressEntity = new EntitySchema<AddressRow>({
  name: 'Address',
  tableName: 'addresses',
  columns: {
    address: { type: 'varchar', length: 254, primary: true },
    kind: { type: 'varchar', length: 8 },
    domainId: { type: 'varchar', length: 36, name: 'domain_id' },
    accountId: { type: 'varchar', length: 36, name: 'account_id', nullable: true },
    groupId: { type: 'varchar', length: 36, name: 'group_id', nullable: true },
    createdAt: ms('created_at'),
  },
  indices: [
    { name: 'idx_addresses_account', columns: ['accountId'] },
    { name: 'idx_addresses_group', columns: ['groupId'] },
    { name: 'idx_addresses_domain', columns: ['domainId'] },
  ],
  foreignKeys: [
    { target: 'Domain', columnNames: ['domainId'], referencedColumnNames: ['id'] },
    { target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
    { target: 'Group', columnNames: ['groupId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
  ],
});

export const GroupEntity = new EntitySchema<GroupRow>({
  name: 'Group',
  tableName: 'groups',
  columns: {
    id,
    name: { type: 'varchar', length: 128, unique: true },
    domainId: { type: 'varchar', length: 36, name: 'domain_id' },
    address: { type: 'varchar', length: 254, nullable: true, unique: true },
    description: { type: 'varchar', length: 1024, nullable: true },
    createdAt: ms('created_at'),
  },
  indices: [{ name: 'idx_groups_domain', columns: ['domainId'] }],
  foreignKeys: [{ target: 'Domain', columnNames: ['domainId'], referencedColumnNames: ['id'] }],
});

export const GroupMemberEntity = new EntitySchema<GroupMemberRow>({
  name: 'GroupMember',
  tableName: 'group_members',
  columns: {
    groupId: { type: 'varchar', length: 36, name: 'group_id', primary: true },
    memberKind: { type: 'varchar', length: 8, name: 'member_kind', primary: true },
    memberId: { type: 'varchar', length: 36, name: 'member_id', primary: true },
  },
  indices: [{ name: 'idx_group_members_member', columns: ['memberId'] }],
  foreignKeys: [{ target: 'Group', columnNames: ['groupId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const CredentialEntity = new EntitySchema<CredentialRow>({
  name: 'Credential',
  tableName: 'credentials',
  columns: {
    id,
    accountId: { type: 'varchar', length: 36, name: 'account_id' },
    kind: { type: 'varchar', length: 16 },
    label: { type: 'varchar', length: 128 },
    secretHash: { type: 'varchar', length: 64, name: 'secret_hash', unique: true },
    createdAt: ms('created_at'),
    lastUsedAt: ms('last_used_at', true),
    expiresAt: ms('expires_at', true),
  },
  indices: [{ name: 'idx_credentials_account', columns: ['accountId'] }],
  foreignKeys: [{ target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const DIRECTORY_ENTITIES = [DomainEntity, DomainNameEntity, AccountEntity, AddressEntity, GroupEntity, GroupMemberEntity, CredentialEntity];
