import { EntitySchema } from 'typeorm';

/** Tables of the mail transport: outbound queue, DKIM keys, vacation replies, rate counters. */

export interface OutboundMessageRow {
  id: string;
  blobId: string;
  size: number;
  sender: string;
  envId: string | null;
  ret: string | null;
  tlsPolicy: string | null;
  accountId: string | null;
  ownsBlob: boolean;
  createdAt: number;
  expiresAt: number;
}

export interface OutboundJobRow {
  id: string;
  messageId: string;
  transport: string;
  domain: string;
  state: string;
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  lastError: string | null;
  updatedAt: number;
}

export interface OutboundRecipientRow {
  jobId: string;
  address: string;
  accountId: string | null;
  orcpt: string | null;
  notify: string | null;
  status: string;
  code: number | null;
  enhanced: string | null;
  diagnostic: string | null;
  remoteMta: string | null;
  updatedAt: number;
}

export interface DkimKeyRow {
  domain: string;
  selector: string;
  algorithm: string;
  privateKey: string;
  publicKey: string;
  active: boolean;
  /** Made by a rotation, waiting for its DNS record: it does not sign yet (null: rows older than the column). */
  pending: boolean | null;
  createdAt: number;
}

export interface VacationSettingsRow {
  accountId: string;
  enabled: boolean;
  subject: string;
  body: string;
  startsAt: number | null;
  endsAt: number | null;
  intervalMs: number;
  updatedAt: number;
}

export interface VacationReplyRow {
  accountId: string;
  sender: string;
  repliedAt: number;
}

export interface RateCounterRow {
  key: string;
  windowStart: number;
  count: number;
}

export const OutboundMessageEntity = new EntitySchema<OutboundMessageRow>({
  name: 'OutboundMessage',
  tableName: 'outbound_messages',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    blobId: { type: 'varchar', length: 64, name: 'blob_id' },
    size: { type: 'bigint' },
    sender: { type: 'varchar', length: 512 },
    envId: { type: 'varchar', length: 200, name: 'env_id', nullable: true },
    ret: { type: 'varchar', length: 8, nullable: true },
    tlsPolicy: { type: 'varchar', length: 20, name: 'tls_policy', nullable: true },
    accountId: { type: 'varchar', length: 36, name: 'account_id', nullable: true },
    ownsBlob: { type: 'boolean', name: 'owns_blob' },
    createdAt: { type: 'bigint', name: 'created_at' },
    expiresAt: { type: 'bigint', name: 'expires_at' },
  },
  indices: [{ name: 'idx_outbound_messages_account', columns: ['accountId'] }],
});

export const OutboundJobEntity = new EntitySchema<OutboundJobRow>({
  name: 'OutboundJob',
  tableName: 'outbound_jobs',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    messageId: { type: 'varchar', length: 36, name: 'message_id' },
    transport: { type: 'varchar', length: 16 },
    domain: { type: 'varchar', length: 255 },
    state: { type: 'varchar', length: 16 },
    attempts: { type: 'integer' },
    nextAttemptAt: { type: 'bigint', name: 'next_attempt_at' },
    leaseOwner: { type: 'varchar', length: 100, name: 'lease_owner', nullable: true },
    leaseUntil: { type: 'bigint', name: 'lease_until', nullable: true },
    lastError: { type: 'varchar', length: 1000, name: 'last_error', nullable: true },
    updatedAt: { type: 'bigint', name: 'updated_at' },
  },
  indices: [
    { name: 'idx_outbound_jobs_due', columns: ['state', 'nextAttemptAt'] },
    { name: 'idx_outbound_jobs_message', columns: ['messageId'] },
  ],
  foreignKeys: [{ target: 'OutboundMessage', columnNames: ['messageId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const OutboundRecipientEntity = new EntitySchema<OutboundRecipientRow>({
  name: 'OutboundRecipient',
  tableName: 'outbound_recipients',
  columns: {
    jobId: { type: 'varchar', length: 36, name: 'job_id', primary: true },
    address: { type: 'varchar', length: 512, primary: true },
    accountId: { type: 'varchar', length: 36, name: 'account_id', nullable: true },
    orcpt: { type: 'varchar', length: 600, nullable: true },
    notify: { type: 'varchar', length: 40, nullable: true },
    status: { type: 'varchar', length: 16 },
    code: { type: 'integer', nullable: true },
    enhanced: { type: 'varchar', length: 16, nullable: true },
    diagnostic: { type: 'varchar', length: 1000, nullable: true },
    remoteMta: { type: 'varchar', length: 255, name: 'remote_mta', nullable: true },
    updatedAt: { type: 'bigint', name: 'updated_at' },
  },
  foreignKeys: [{ target: 'OutboundJob', columnNames: ['jobId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const DkimKeyEntity = new EntitySchema<DkimKeyRow>({
  name: 'DkimKey',
  tableName: 'dkim_keys',
  columns: {
    domain: { type: 'varchar', length: 255, primary: true },
    selector: { type: 'varchar', length: 63, primary: true },
    algorithm: { type: 'varchar', length: 32 },
    privateKey: { type: 'varchar', length: 8000, name: 'private_key' },
    publicKey: { type: 'varchar', length: 4000, name: 'public_key' },
    active: { type: 'boolean' },
    pending: { type: 'boolean', nullable: true },
    createdAt: { type: 'bigint', name: 'created_at' },
  },
});

export const VacationSettingsEntity = new EntitySchema<VacationSettingsRow>({
  name: 'VacationSettings',
  tableName: 'vacation_settings',
  columns: {
    accountId: { type: 'varchar', length: 36, name: 'account_id', primary: true },
    enabled: { type: 'boolean' },
    subject: { type: 'varchar', length: 250 },
    body: { type: 'varchar', length: 16000 },
    startsAt: { type: 'bigint', name: 'starts_at', nullable: true },
    endsAt: { type: 'bigint', name: 'ends_at', nullable: true },
    intervalMs: { type: 'bigint', name: 'interval_ms' },
    updatedAt: { type: 'bigint', name: 'updated_at' },
  },
  foreignKeys: [{ target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const VacationReplyEntity = new EntitySchema<VacationReplyRow>({
  name: 'VacationReply',
  tableName: 'vacation_replies',
  columns: {
    accountId: { type: 'varchar', length: 36, name: 'account_id', primary: true },
    sender: { type: 'varchar', length: 512, primary: true },
    repliedAt: { type: 'bigint', name: 'replied_at' },
  },
  indices: [{ name: 'idx_vacation_replies_at', columns: ['repliedAt'] }],
  foreignKeys: [{ target: 'Account', columnNames: ['accountId'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
});

export const RateCounterEntity = new EntitySchema<RateCounterRow>({
  name: 'RateCounter',
  tableName: 'rate_counters',
  columns: {
    key: { type: 'varchar', length: 330, primary: true },
    windowStart: { type: 'bigint', name: 'window_start' },
    count: { type: 'integer' },
  },
  indices: [{ name: 'idx_rate_counters_window', columns: ['windowStart'] }],
});

export const MAIL_TRANSPORT_ENTITIES = [OutboundMessageEntity, OutboundJobEntity, OutboundRecipientEntity, DkimKeyEntity, VacationSettingsEntity, VacationReplyEntity, RateCounterEntity];
