import { inParallel } from '../import/in-parallel.js';
import { copyAccount, type AccountReport, type CopyOptions, type LegacyLogin, type MailMigrationDeps } from './copy-account.js';

export interface MigrationRunOptions extends CopyOptions {
  /** Accounts copied at the same time (each has its own legacy connection). */
  readonly jobs: number;
  /** Dovecot-style master login: each agent is signed in as `login*masterUser` with the master password. */
  readonly master?: { readonly user: string; readonly password: string; readonly separator?: string };
  /** After each account. */
  readonly onAccount?: (report: AccountReport, done: number) => void;
}

export interface MigrationRun {
  readonly accounts: AccountReport[];
  readonly failed: number;
  readonly copied: number;
  readonly skipped: number;
  readonly flagsUpdated: number;
}

/** Copy every listed account, `jobs` at a time; one account's failure never stops the others. */
export async function runMailMigration(
  deps: MailMigrationDeps,
  logins: readonly LegacyLogin[],
  options: MigrationRunOptions,
): Promise<MigrationRun> {
  const reports = await inParallel(
    logins,
    options.jobs,
    async (who) => {
      const as = options.master
        ? { ...who, login: `${who.login}${options.master.separator ?? '*'}${options.master.user}`, password: options.master.password }
        : who;
      try {
        return await copyAccount(deps, as, options);
      } catch (error) {
        // Our side failed (database, disk): reported like any other failure of this account.
        return {
          address: who.address,
          line: who.line,
          status: 'failed',
          folders: [],
          notCopied: [],
          copied: 0,
          skipped: 0,
          flagsUpdated: 0,
          messageErrors: [],
          errors: [(error as Error).message ?? String(error)],
        } satisfies AccountReport;
      }
    },
    options.onAccount,
  );
  return {
    accounts: reports,
    failed: reports.filter((r) => r.status === 'failed').length,
    copied: reports.reduce((n, r) => n + r.copied, 0),
    skipped: reports.reduce((n, r) => n + r.skipped, 0),
    flagsUpdated: reports.reduce((n, r) => n + r.flagsUpdated, 0),
  };
}
