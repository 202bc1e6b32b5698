import type { EntitySchema, MigrationInterface } from 'typeorm';
import {
  AccountEntity,
  AddressEntity,
  CredentialEntity,
  DomainEntity,
  DomainNameEntity,
  GroupEntity,
  GroupMemberEntity,
} from './entities/directory.js';
import { AuditEventEntity, ChangeCollectionEntity, ChangeEntryEntity, KnownDeviceEntity, ThrottleEntity } from './entities/system.js';
import { AccountUsageEntity } from './entities/usage.js';
import { DavLockEntity, DriveGrantEntity, DriveNodeEntity, DrivePropEntity, DriveSpaceEntity } from './entities/drive.js';
import { Usage1796000000003 } from './migrations/0003-usage.js';
import { Directory1796000000001 } from './migrations/0001-directory.js';
import { System1796000000002 } from './migrations/0002-system.js';
import { Drive1796000100000 } from './migrations/1796000100000-drive.js';
import {
  DkimKeyEntity,
  OutboundJobEntity,
  OutboundMessageEntity,
  OutboundRecipientEntity,
  RateCounterEntity,
  VacationReplyEntity,
  VacationSettingsEntity,
} from './entities/mail-transport.js';
import { MailTransport1796000000500 } from './migrations/1796000000500-smtp.js';
import { MAIL_ENTITIES } from './entities/mail.js';
import { Mail1796000200000 } from './migrations/1796000200000-mail.js';
import { MailSearch1796000200001 } from './migrations/1796000200001-mail-search.js';
import { MailSearchIndex1796000510000 } from './migrations/1796000510000-mail-search-index.js';
import { CALENDAR_ENTITIES } from './calendar/entities.js';
import { Calendar1796000300000 } from './calendar/1796000300000-calendar.js';
import { CalendarInstanceWindow1796000300001 } from './calendar/1796000300001-calendar-instance-window.js';
import { ShareInvites1796000540000 } from './calendar/1796000540000-share-invites.js';
import { KnownDevices1796000310000 } from './migrations/1796000310000-known-devices.js';
import { DirectorySearch1796000470000 } from './migrations/1796000470000-directory-search.js';
import { MAIL_MIGRATION_ENTITIES } from './mail-migration/entities.js';
import { MailMigration1796000420000 } from './mail-migration/1796000420000-mail-migration.js';
import { MailMigrationCopies1796000420001 } from './mail-migration/1796000420001-mail-migration-copies.js';
import { SIEVE_ENTITIES } from './sieve/entities.js';
import { Sieve1796000430000 } from './sieve/1796000430000-sieve.js';
import { MAIL_METADATA_ENTITIES } from './mail-metadata/entities.js';
import { MailMetadata1796000440000 } from './mail-metadata/1796000440000-mail-metadata.js';
import { RequireTls1796000460000 } from './transport-security/1796000460000-requiretls.js';
import { MtaSts1796000460001 } from './transport-security/1796000460001-mta-sts.js';
import { TlsReports1796000460002 } from './transport-security/1796000460002-tls-reports.js';
import { TlsaPolicies1796000730000 } from './transport-security/1796000730000-tlsa-policies.js';
import { ShareReplies1796000730001 } from './calendar/1796000730001-share-replies.js';
import { CalendarListing1796000750000 } from './calendar/1796000750000-calendar-listing.js';
import { TRANSPORT_SECURITY_ENTITIES } from './transport-security/entities.js';
import { SERVER_KEY_ENTITIES } from './server-keys/entities.js';
import { ServerKeys1796000530000 } from './server-keys/1796000530000-server-keys.js';
import { DkimPending1796000530001 } from './migrations/1796000530001-dkim-pending.js';
import { MailSearchCovering1796000610000 } from './migrations/1796000610000-mail-search-covering.js';

/** Every table Palabre owns. Features add their entities and migrations here, in order. */
export const ALL_ENTITIES: readonly EntitySchema<any>[] = [
  DomainEntity,
  DomainNameEntity,
  AccountEntity,
  AddressEntity,
  GroupEntity,
  GroupMemberEntity,
  CredentialEntity,
  AuditEventEntity,
  ThrottleEntity,
  KnownDeviceEntity,
  ChangeCollectionEntity,
  ChangeEntryEntity,
  AccountUsageEntity,
  DriveSpaceEntity,
  DriveNodeEntity,
  DrivePropEntity,
  DriveGrantEntity,
  DavLockEntity,
  OutboundMessageEntity,
  OutboundJobEntity,
  OutboundRecipientEntity,
  DkimKeyEntity,
  VacationSettingsEntity,
  VacationReplyEntity,
  RateCounterEntity,
  ...MAIL_ENTITIES,
  ...CALENDAR_ENTITIES,
  ...MAIL_MIGRATION_ENTITIES,
  ...SIEVE_ENTITIES,
  ...MAIL_METADATA_ENTITIES,
  ...TRANSPORT_SECURITY_ENTITIES,
  ...SERVER_KEY_ENTITIES,
];

export const ALL_MIGRATIONS: readonly (new () => MigrationInterface)[] = [
  Directory1796000000001,
  System1796000000002,
  Usage1796000000003,
  MailTransport1796000000500,
  Drive1796000100000,
  Mail1796000200000,
  MailSearch1796000200001,
  Calendar1796000300000,
  CalendarInstanceWindow1796000300001,
  KnownDevices1796000310000,
  MailMigration1796000420000,
  MailMigrationCopies1796000420001,
  Sieve1796000430000,
  MailMetadata1796000440000,
  RequireTls1796000460000,
  MtaSts1796000460001,
  TlsReports1796000460002,
  DirectorySearch1796000470000,
  MailSearchIndex1796000510000,
  ServerKeys1796000530000,
  DkimPending1796000530001,
  ShareInvites1796000540000,
  MailSearchCovering1796000610000,
  TlsaPolicies1796000730000,
  ShareReplies1796000730001,
  CalendarListing1796000750000,
];
