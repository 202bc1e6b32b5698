import { join } from 'node:path';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import { Database, type DatabaseOptions } from './database.js';
import { SqlAuditLog } from './system/sql-audit-log.js';
import { SqlChangeLog } from './system/sql-change-log.js';
import { SqlDirectoryStore } from './directory/sql-directory-store.js';
import { SqlThrottleStore } from './system/sql-throttle-store.js';
import { SqlUsageStore } from './usage/sql-usage-store.js';
import { SqlDriveStore } from './drive/sql-drive-store.js';
import { SqlLockStore } from './drive/sql-lock-store.js';

export { Database } from './database.js';
export type { DatabaseOptions, Dialect, TransactionOptions } from './database.js';
export { toStorageError } from './driver-errors.js';
export { FsBlobStore, createFsBlobStore } from './fs-blob-store.js';
export type { BlobHold } from './blob-hold.js';
export { BLOB_COLUMNS, BLOB_FEATURES } from './database-view.js';
export type { BlobFeature, DatabaseView, ExportedView } from './database-view.js';
export type { FsBlobStoreOptions } from './fs-blob-store.js';
export { PgNotifier, createPgNotifier } from './pg-notifier.js';
export type { PgNotifierOptions } from './pg-notifier.js';
export { SqlDirectoryStore } from './directory/sql-directory-store.js';
export { SqlChangeLog } from './system/sql-change-log.js';
export { SqlAuditLog } from './system/sql-audit-log.js';
export { SqlThrottleStore } from './system/sql-throttle-store.js';
export { SqlUsageStore } from './usage/sql-usage-store.js';
export { SqlDriveStore } from './drive/sql-drive-store.js';
export { SqlLockStore } from './drive/sql-lock-store.js';
export { SqlMailStore } from './mail/sql-mail-store.js';
export type { SqlMailStoreOptions } from './mail/sql-mail-store.js';
export { ALL_ENTITIES, ALL_MIGRATIONS } from './registry.js';
export { SqlCalendarStore } from './calendar/sql-calendar-store.js';
export type { SqlCalendarStoreOptions } from './calendar/sql-calendar-store.js';
export { SqlMailMigrationStore } from './mail-migration/sql-mail-migration-store.js';
export { SqlSieveScriptStore } from './sieve/sql-sieve-script-store.js';
export { SqlServerKeys } from './server-keys/sql-server-keys.js';
export { SqlMailMetadataStore } from './mail-metadata/sql-mail-metadata-store.js';
export { SqlMtaStsPolicyStore } from './transport-security/sql-mta-sts-policy-store.js';
export { SqlTlsReportStore } from './transport-security/sql-tls-report-store.js';

/** Open (and by default migrate) a database: `{ sqlite: { file } }` or `{ postgres: { url } }`. */
export async function createDataSource(options: DatabaseOptions & { migrate?: boolean }): Promise<Database> {
  const db = await Database.open(options);
  if (options.migrate ?? true) {
    try {
      await db.migrate();
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  return db;
}

/** Where the embedded default keeps its SQLite file inside the data folder. */
export function sqliteFileIn(dataDir: string): string {
  return join(dataDir, 'palabre.sqlite');
}

export interface CoreStores {
  readonly db: Database;
  readonly directory: SqlDirectoryStore;
  readonly changeLog: SqlChangeLog;
  readonly audit: SqlAuditLog;
  readonly throttle: SqlThrottleStore;
  readonly usage: SqlUsageStore;
  readonly drive: SqlDriveStore;
  readonly locks: SqlLockStore;
}

/** The core repositories over one database. */
export function createCoreStores(db: Database, options: { clock?: Clock; logger?: Logger } = {}): CoreStores {
  const changeLog = new SqlChangeLog(db);
  const usage = new SqlUsageStore(db);
  return {
    db,
    directory: new SqlDirectoryStore(db, options.clock),
    changeLog,
    audit: new SqlAuditLog(db, options.clock),
    throttle: new SqlThrottleStore(db),
    usage,
    drive: new SqlDriveStore(db, { changeLog, usage, clock: options.clock }),
    locks: new SqlLockStore(db),
  };
}
export { SqlOutboundQueue } from './mail-transport/sql-outbound-queue.js';
export { SqlDkimKeyStore } from './mail-transport/sql-dkim-key-store.js';
export { SqlVacationStore } from './mail-transport/sql-vacation-store.js';
export { SqlRateLimitStore } from './mail-transport/sql-rate-limit-store.js';
export { createMailTransportStores } from './mail-transport/mail-transport-stores.js';
export type { MailTransportStores } from './mail-transport/mail-transport-stores.js';
