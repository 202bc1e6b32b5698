import type { EntitySchema, MigrationInterface } from 'typeorm';
import { DIRECTORY_ENTITIES } from './directory/entities.js';
import { Directory1796000000001 } from './directory/0001-directory.js';
import { DirectorySearch1796000470000 } from './directory/1796000470000-directory-search.js';
import { SYSTEM_ENTITIES } from './system/entities.js';
import { System1796000000002 } from './system/0002-system.js';
import { KnownDevices1796000310000 } from './system/1796000310000-known-devices.js';
import { USAGE_ENTITIES } from './usage/entities.js';
import { Usage1796000000003 } from './usage/0003-usage.js';
import { DRIVE_ENTITIES } from './drive/entities.js';
import { Drive1796000100000 } from './drive/1796000100000-drive.js';
import { MAIL_TRANSPORT_ENTITIES } from './mail-transport/entities.js';
import { MailTransport1796000000500 } from './mail-transport/1796000000500-smtp.js';
import { DkimPending1796000530001 } from './mail-transport/1796000530001-dkim-pending.js';
import { MAIL_ENTITIES } from './mail/entities.js';
import { Mail1796000200000 } from './mail/1796000200000-mail.js';
import { MailSearch1796000200001 } from './mail/1796000200001-mail-search.js';
import { MailSearchIndex1796000510000 } from './mail/1796000510000-mail-search-index.js';
import { MailSearchCovering1796000610000 } from './mail/1796000610000-mail-search-covering.js';
import { QuotaResources1796000760000 } from './mail/1796000760000-quota-resources.js';
import { CALENDAR_ENTITIES } from './calendar/entities.js';
import { Calendar1796000300000 } from './calendar/1796000300000-calendar.js';
import { CalendarInstanceWindow1796000300001 } from './calendar/1796000300001-calendar-instance-window.js';
import { ShareInvites1796000540000 } from './calendar/1796000540000-share-invites.js';
import { ShareReplies1796000730001 } from './calendar/1796000730001-share-replies.js';
import { CalendarListing1796000750000 } from './calendar/1796000750000-calendar-listing.js';
import { MAIL_MIGRATION_ENTITIES } from './mail-migration/entities.js';
import { MailMigration1796000420000 } from './mail-migration/1796000420000-mail-migration.js';
import { MailMigrationCopies1796000420001 } from './mail-migration/1796000420001-mail-migration-copies.js';
import { SIEVE_ENTITIES } from './sieve/entities.js';
import { Sieve1796000430000 } from './sieve/1796000430000-sieve.js';
import { MAIL_METADATA_ENTITIES } from './mail-metadata/entities.js';
import { MailMetadata1796000440000 } from './mail-metadata/1796000440000-mail-metadata.js';
import { TRANSPORT_SECURITY_ENTITIES } from './transport-security/entities.js';
import { RequireTls1796000460000 } from './transport-security/1796000460000-requiretls.js';
import { MtaSts1796000460001 } from './transport-security/1796000460001-mta-sts.js';
import { TlsReports1796000460002 } from './transport-security/1796000460002-tls-reports.js';
import { TlsaPolicies1796000730000 } from './transport-security/1796000730000-tlsa-policies.js';
import { SERVER_KEY_ENTITIES } from './server-keys/entities.js';
import { ServerKeys1796000530000 } from './server-keys/1796000530000-server-keys.js';

type Migration = new () => MigrationInterface;

/** One feature's tables: its folder under storage/ holds the entities, migrations and SQL store. */
export interface StorageFeature {
  readonly name: string;
  readonly entities: readonly EntitySchema<any>[];
  readonly migrations: readonly Migration[];
}

/** Every feature Palabre stores. A new feature is one more folder and one more line here. */
export const FEATURES: readonly StorageFeature[] = [
  { name: 'directory', entities: DIRECTORY_ENTITIES, migrations: [Directory1796000000001, DirectorySearch1796000470000] },
  { name: 'system', entities: SYSTEM_ENTITIES, migrations: [System1796000000002, KnownDevices1796000310000] },
  { name: 'usage', entities: USAGE_ENTITIES, migrations: [Usage1796000000003] },
  { name: 'drive', entities: DRIVE_ENTITIES, migrations: [Drive1796000100000] },
  { name: 'mail-transport', entities: MAIL_TRANSPORT_ENTITIES, migrations: [MailTransport1796000000500, DkimPending1796000530001] },
  { name: 'mail', entities: MAIL_ENTITIES, migrations: [Mail1796000200000, MailSearch1796000200001, MailSearchIndex1796000510000, MailSearchCovering1796000610000, QuotaResources1796000760000] },
  {
    name: 'calendar',
    entities: CALENDAR_ENTITIES,
    migrations: [Calendar1796000300000, CalendarInstanceWindow1796000300001, ShareInvites1796000540000, ShareReplies1796000730001, CalendarListing1796000750000],
  },
  { name: 'mail-migration', entities: MAIL_MIGRATION_ENTITIES, migrations: [MailMigration1796000420000, MailMigrationCopies1796000420001] },
  { name: 'sieve', entities: SIEVE_ENTITIES, migrations: [Sieve1796000430000] },
  { name: 'mail-metadata', entities: MAIL_METADATA_ENTITIES, migrations: [MailMetadata1796000440000] },
  {
    name: 'transport-security',
    entities: TRANSPORT_SECURITY_ENTITIES,
    migrations: [RequireTls1796000460000, MtaSts1796000460001, TlsReports1796000460002, TlsaPolicies1796000730000],
  },
  { name: 'server-keys', entities: SERVER_KEY_ENTITIES, migrations: [ServerKeys1796000530000] },
];

/** A migration's place in time: the 13 digits TypeORM reads at the end of its class name. */
export const migrationTimestamp = (migration: Migration): number => {
  const digits = /(\d{13})$/.exec(migration.name);
  if (!digits) throw new Error(`migration ${migration.name} does not end with its 13-digit timestamp`);
  return Number(digits[1]);
};

/** Every table Palabre owns, feature by feature. */
export const ALL_ENTITIES: readonly EntitySchema<any>[] = FEATURES.flatMap((f) => f.entities);

/**
 * Every migration of every feature, in the order they were written (features interleave in time: a
 * later column of an early feature runs after the tables of features written before it).
 */
export const ALL_MIGRATIONS: readonly Migration[] = (() => {
  const all = FEATURES.flatMap((f) => f.migrations).sort((a, b) => migrationTimestamp(a) - migrationTimestamp(b));
  for (let i = 1; i < all.length; i++)
    if (migrationTimestamp(all[i - 1]!) === migrationTimestamp(all[i]!)) throw new Error(`migrations ${all[i - 1]!.name} and ${all[i]!.name} share a timestamp`);
  return all;
})();
