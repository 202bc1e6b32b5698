import { inParallel } from '../import/in-parallel.js';
import type { LegacyLogin } from '../migrate-mail/copy-account.js';
import { copyDavAccount, emptyDavReport, type DavAccountReport, type DavCopyOptions, type DavMigrationDeps } from './copy-dav-account.js';
import { copyDriveAccount, emptyDriveReport, type DriveAccountReport, type DriveCopyOptions, type DriveMigrationDeps } from './copy-drive-account.js';

type Counted<R, K extends keyof R> = { readonly accounts: R[]; readonly failed: number } & { readonly [k in K]: number };

/** Every account copied, `jobs` at a time; one failure (ours too: database, disk) never stops the others. */
async function runAccounts<R extends { status: 'ok' | 'failed'; errors: string[] }, K extends keyof R>(
  logins: readonly LegacyLogin[],
  jobs: number,
  copy: (who: LegacyLogin) => Promise<R>,
  empty: (address: string, line?: number) => R,
  counters: readonly K[],
  onAccount?: (report: R, done: number) => void,
): Promise<Counted<R, K>> {
  const accounts = await inParallel(
    logins,
    jobs,
    async (who) => {
      try {
        return await copy(who);
      } catch (error) {
        const report = empty(who.address, who.line);
        report.status = 'failed';
        report.errors.push((error as Error).message ?? String(error));
        return report;
      }
    },
    onAccount,
  );
  const sums = Object.fromEntries(counters.map((k) => [k, accounts.reduce((n, r) => n + Number(r[k]), 0)]));
  return { accounts, failed: accounts.filter((r) => r.status === 'failed').length, ...sums } as Counted<R, K>;
}

export type DavMigrationRun = Counted<DavAccountReport, 'copied' | 'updated' | 'skipped'>;
export type DriveMigrationRun = Counted<DriveAccountReport, 'copied' | 'updated' | 'skipped' | 'bytes'>;

/** Every listed account's calendars and address books. */
export function runDavMigration(
  deps: DavMigrationDeps,
  logins: readonly LegacyLogin[],
  options: DavCopyOptions & { readonly jobs: number; readonly onAccount?: (report: DavAccountReport, done: number) => void },
): Promise<DavMigrationRun> {
  return runAccounts(logins, options.jobs, (who) => copyDavAccount(deps, who, options), emptyDavReport, ['copied', 'updated', 'skipped'], options.onAccount);
}

/** Every listed account's drive tree. */
export function runDriveMigration(
  deps: DriveMigrationDeps,
  logins: readonly LegacyLogin[],
  options: DriveCopyOptions & { readonly jobs: number; readonly onAccount?: (report: DriveAccountReport, done: number) => void },
): Promise<DriveMigrationRun> {
  return runAccounts(logins, options.jobs, (who) => copyDriveAccount(deps, who, options), emptyDriveReport, ['copied', 'updated', 'skipped', 'bytes'], options.onAccount);
}
