import { inParallel } from '../import/in-parallel.js';
import type { LegacyLogin } from '../migrate-mail/copy-account.js';
import { copyDriveAccount, emptyDriveReport, type DriveAccountReport, type DriveCopyOptions, type DriveMigrationDeps } from './copy-drive-account.js';
import { copyDavAccount, emptyDavReport, type DavAccountReport, type DavCopyOptions, type DavMigrationDeps } from './copy-dav-account.js';

export interface DavMigrationRun {
  readonly accounts: DavAccountReport[];
  readonly failed: number;
  readonly copied: number;
  readonly updated: number;
  readonly skipped: number;
}

/** Copy every listed account's calendars and address books, `jobs` at a time; one failure never stops the others. */
export async function runDavMigration(
  deps: DavMigrationDeps,
  logins: readonly LegacyLogin[],
  options: DavCopyOptions & { readonly jobs: number; readonly onAccount?: (report: DavAccountReport, done: number) => void },
): Promise<DavMigrationRun> {
  const accounts = await inParallel(
    logins,
    options.jobs,
    async (who) => {
      try {
        return await copyDavAccount(deps, who, options);
      } catch (error) {
        // Our side failed (database, disk): reported like any other failure of this account.
        const report = emptyDavReport(who.address, who.line);
        report.status = 'failed';
        report.errors.push((error as Error).message ?? String(error));
        return report;
      }
    },
    options.onAccount,
  );
  const sum = (k: 'copied' | 'updated' | 'skipped') => accounts.reduce((n, r) => n + r[k], 0);
  return { accounts, failed: accounts.filter((r) => r.status === 'failed').length, copied: sum('copied'), updated: sum('updated'), skipped: sum('skipped') };
}

export interface DriveMigrationRun {
  readonly accounts: DriveAccountReport[];
  readonly failed: number;
  readonly copied: number;
  readonly updated: number;
  readonly skipped: number;
  readonly bytes: number;
}

/** Copy every listed account's drive tree, `jobs` at a time; one failure never stops the others. */
export async function runDriveMigration(
  deps: DriveMigrationDeps,
  logins: readonly LegacyLogin[],
  options: DriveCopyOptions & { readonly jobs: number; readonly onAccount?: (report: DriveAccountReport, done: number) => void },
): Promise<DriveMigrationRun> {
  const accounts = await inParallel(
    logins,
    options.jobs,
    async (who) => {
      try {
        return await copyDriveAccount(deps, who, options);
      } catch (error) {
        const report = emptyDriveReport(who.address, who.line);
        report.status = 'failed';
        report.errors.push((error as Error).message ?? String(error));
        return report;
      }
    },
    options.onAccount,
  );
  const sum = (k: 'copied' | 'updated' | 'skipped' | 'bytes') => accounts.reduce((n, r) => n + r[k], 0);
  return { accounts, failed: accounts.filter((r) => r.status === 'failed').length, copied: sum('copied'), updated: sum('updated'), skipped: sum('skipped'), bytes: sum('bytes') };
}
