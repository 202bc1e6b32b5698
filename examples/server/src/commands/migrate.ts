import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { CalendarObjects } from '@palabre/caldav';
import { SqlCalendarStore, SqlMailMigrationStore, SqlMailStore } from '@palabre/core/storage';
import { noMorePositionals, parse, parseSize, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { describeDatabase } from '../context.js';
import { progressBar } from '../import/progress.js';
import type { AccountReport } from '../migrate-mail/copy-account.js';
import { parseSource } from '../migrate-mail/legacy-source.js';
import { readLoginsCsv } from '../migrate-mail/logins-csv.js';
import { runMailMigration } from '../migrate-mail/run-migration.js';
import type { Output } from '../output.js';
import type { DavAccountReport } from '../migrate-dav/copy-dav-account.js';
import { parseDavSource } from '../migrate-dav/dav-source.js';
import type { DriveAccountReport } from '../migrate-dav/copy-drive-account.js';
import { runDavMigration, runDriveMigration } from '../migrate-dav/run-dav-migration.js';
import { malwareScanner } from '../serve/services.js';
import { MIGRATE_DAV_USAGE, MIGRATE_DRIVE_USAGE, MIGRATE_MAIL_USAGE, MIGRATE_USAGE } from './usage.js';

/** Migrations also run at every start; this applies them ahead of a rolling upgrade of several nodes. */
export async function migrateCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  if (argv[0] === 'mail') return migrateMail(ctx, argv.slice(1), io);
  if (argv[0] === 'dav') return migrateDav(ctx, argv.slice(1), io);
  if (argv[0] === 'drive') return migrateDrive(ctx, argv.slice(1), io);
  const { positionals } = parse(argv, {}, MIGRATE_USAGE);
  noMorePositionals(positionals, 0, MIGRATE_USAGE);
  const applied = await ctx.db.migrate();
  for (const name of applied) io.out(`applied ${name}`);
  io.out(`${describeDatabase(ctx.config)}: schema up to date (${ctx.db.dataSource.migrations.length} migrations)`);
  return 0;
}

const MAIL_OPTIONS = {
  from: { type: 'string' },
  csv: { type: 'string' },
  jobs: { type: 'string' },
  report: { type: 'string' },
  'master-user': { type: 'string' },
  'master-password-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  'max-message-size': { type: 'string' },
} as const;

const firstLine = async (file: string, what: string): Promise<string> => {
  const text = (await readFile(file, 'utf8').catch((error: Error) => {
    throw new UsageError(`cannot read ${what} ${file}: ${error.message}`);
  })).split(/\r?\n/)[0]!;
  if (!text) throw new UsageError(`${what} ${file} is empty`);
  return text;
};

const summaryOf = (r: AccountReport) =>
  `${r.address}: ${r.status === 'ok' ? 'done' : 'FAILED'}, ${r.folders.length} folder(s), ${r.copied} copied, ${r.skipped} already there${r.flagsUpdated ? `, flags brought over for ${r.flagsUpdated}` : ''}${r.messageErrors.length ? `, ${r.messageErrors.length} message(s) not copied` : ''}${r.errors.length ? ` — ${r.errors.join('; ')}` : ''}`;

/**
 * `palabre migrate mail`: copy every agent's mailboxes from the legacy IMAP server. Safe to re-run
 * (only what is new is copied); the exit code is 1 when any account failed, after all the others.
 */
async function migrateMail(ctx: Context, argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parse(argv, MAIL_OPTIONS, MIGRATE_MAIL_USAGE);
  noMorePositionals(positionals, 0, MIGRATE_MAIL_USAGE);
  if (!values.from) throw new UsageError(`say where the mail is with --from imaps://host[:port]\nusage: ${MIGRATE_MAIL_USAGE}`);
  if (!values.csv) throw new UsageError(`give the agents with --csv FILE (address;login;password)\nusage: ${MIGRATE_MAIL_USAGE}`);
  const source = parseSource(values.from);
  const jobs = jobsOf(values.jobs);
  if ((values['master-user'] === undefined) !== (values['master-password-file'] === undefined)) {
    throw new UsageError('--master-user and --master-password-file go together (the master password is never given on the command line)');
  }
  const master = values['master-user'] ? { user: values['master-user'], password: await firstLine(values['master-password-file']!, 'the master password file') } : undefined;
  const maxMessageBytes = values['max-message-size'] === undefined ? ctx.config.smtp.maxMessageBytes : parseSize(values['max-message-size']);
  if (maxMessageBytes === null || maxMessageBytes < 1024) throw new UsageError('--max-message-size takes a size such as 50M');
  const ca = values['tls-ca'] ? await readFile(values['tls-ca']).catch((error: Error) => {
    throw new UsageError(`cannot read --tls-ca ${values['tls-ca']}: ${error.message}`);
  }) : undefined;

  const { logins, problems } = await readLogins(values.csv, Boolean(master), io);
  if (logins.length === 0) return 1;

  const mail = new SqlMailStore(ctx.db, { blobs: ctx.blobs.mail, usage: ctx.stores.usage, notifier: await ctx.notifier(), logger: ctx.logger });
  const deps = { directory: ctx.stores.directory, mail, migrations: new SqlMailMigrationStore(ctx.db), blobs: ctx.blobs.mail };
  io.out(`migrating ${logins.length} account(s) from ${source.id}, ${jobs} at a time`);
  return reportedRun(io, { count: logins.length, unit: 'messages', source: source.id, reportFile: values.report, problems, summaryOf }, async (hooks) => {
    const run = await runMailMigration(deps, logins, { source, jobs, master, maxMessageBytes, ca, onMessage: (_, event) => hooks.onItem(event === 'copied'), onAccount: hooks.onAccount });
    return { ...run, totals: `${run.copied} message(s) copied, ${run.skipped} already there, flags brought over for ${run.flagsUpdated}` };
  });
}

const jobsOf = (text: string | undefined): number => {
  const jobs = text === undefined ? 4 : Number(text);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError('--jobs takes a number of accounts copied at once, from 1 to 64');
  return jobs;
};

async function readLogins(csv: string, master: boolean, io: Output) {
  const read = await readLoginsCsv(createReadStream(csv), { master });
  for (const p of read.problems) io.err(`${csv}:${p.line}: ${p.message}`);
  if (read.logins.length === 0) io.err(`palabre: ${csv} names no account to migrate`);
  return read;
}

const DAV_OPTIONS = {
  from: { type: 'string' },
  csv: { type: 'string' },
  jobs: { type: 'string' },
  report: { type: 'string' },
  'max-response-size': { type: 'string' },
} as const;

const davSummaryOf = (r: DavAccountReport) =>
  `${r.address}: ${r.status === 'ok' ? 'done' : 'FAILED'}, ${r.collections.length} collection(s), ${r.copied} copied, ${r.updated} updated, ${r.skipped} already there${r.objectErrors.length ? `, ${r.objectErrors.length} object(s) not copied (${r.objectErrors.slice(0, 3).join('; ')})` : ''}${r.errors.length ? ` — ${r.errors.join('; ')}` : ''}`;

/**
 * `palabre migrate dav`: copy every agent's calendars and address books from the legacy CalDAV/CardDAV
 * server. Safe to re-run (only what changed is written); exit code 1 when any account is not finished.
 */
async function migrateDav(ctx: Context, argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parse(argv, DAV_OPTIONS, MIGRATE_DAV_USAGE);
  noMorePositionals(positionals, 0, MIGRATE_DAV_USAGE);
  if (!values.from) throw new UsageError(`say where the calendars are with --from https://host[:port][/path/]\nusage: ${MIGRATE_DAV_USAGE}`);
  if (!values.csv) throw new UsageError(`give the agents with --csv FILE (address;login;password)\nusage: ${MIGRATE_DAV_USAGE}`);
  const source = parseDavSource(values.from);
  const jobs = jobsOf(values.jobs);
  const maxResponseBytes = values['max-response-size'] === undefined ? 64 * 1024 * 1024 : parseSize(values['max-response-size']);
  if (maxResponseBytes === null || maxResponseBytes < 64 * 1024) throw new UsageError('--max-response-size takes a size such as 64M');
  const { logins, problems } = await readLogins(values.csv, false, io);
  if (logins.length === 0) return 1;

  const calendars = new SqlCalendarStore(ctx.db, { notifier: await ctx.notifier(), logger: ctx.logger });
  const deps = { directory: ctx.stores.directory, calendars, objects: new CalendarObjects({ store: calendars }) };
  io.out(`migrating the calendars and address books of ${logins.length} account(s) from ${source.id}, ${jobs} at a time`);
  return reportedRun(io, { count: logins.length, unit: 'objects', source: source.id, reportFile: values.report, problems, summaryOf: davSummaryOf }, async (hooks) => {
    const run = await runDavMigration(deps, logins, { source, jobs, maxResponseBytes, onObject: (_, event) => hooks.onItem(event !== 'skipped'), onAccount: hooks.onAccount });
    return { ...run, totals: `${run.copied} object(s) copied, ${run.updated} updated, ${run.skipped} already there` };
  });
}

const DRIVE_OPTIONS = { ...DAV_OPTIONS, 'max-entries': { type: 'string' } } as const;

const driveSummaryOf = (r: DriveAccountReport) =>
  `${r.address}: ${r.status === 'ok' ? 'done' : 'FAILED'}, ${r.folders} folder(s) made, ${r.copied} file(s) copied, ${r.updated} updated, ${r.skipped} already there${r.itemErrors.length ? `, ${r.itemErrors.length} not copied (${r.itemErrors.slice(0, 3).join('; ')})` : ''}${r.errors.length ? ` — ${r.errors.join('; ')}` : ''}`;

/**
 * `palabre migrate drive`: copy every agent's tree from a legacy WebDAV server into their Palabre home.
 * `--from` names each agent's tree with `{login}` or `{address}`. Safe to re-run (a file whose size and
 * mtime match is skipped); exit code 1 when any account is not finished.
 */
async function migrateDrive(ctx: Context, argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parse(argv, DRIVE_OPTIONS, MIGRATE_DRIVE_USAGE);
  noMorePositionals(positionals, 0, MIGRATE_DRIVE_USAGE);
  if (!values.from) throw new UsageError(`say where each agent's files are with --from https://host/path/{login}/\nusage: ${MIGRATE_DRIVE_USAGE}`);
  if (!values.csv) throw new UsageError(`give the agents with --csv FILE (address;login;password)\nusage: ${MIGRATE_DRIVE_USAGE}`);
  // The template is checked as a URL with the placeholders filled in.
  parseDavSource(values.from.replace(/\{(login|address)\}/g, 'x'));
  const jobs = jobsOf(values.jobs);
  const maxResponseBytes = values['max-response-size'] === undefined ? 64 * 1024 * 1024 : parseSize(values['max-response-size']);
  if (maxResponseBytes === null || maxResponseBytes < 64 * 1024) throw new UsageError('--max-response-size takes a size such as 64M');
  const maxEntries = values['max-entries'] === undefined ? undefined : Number(values['max-entries']);
  if (maxEntries !== undefined && (!Number.isSafeInteger(maxEntries) || maxEntries < 1)) throw new UsageError('--max-entries takes a number of files and folders per account');
  const { logins, problems } = await readLogins(values.csv, false, io);
  if (logins.length === 0) return 1;

  const malware = malwareScanner(ctx.config);
  const deps = { directory: ctx.stores.directory, store: ctx.stores.drive, blobs: ctx.blobs.drive, logger: ctx.logger, ...(malware ? { malware } : {}) };
  io.out(`migrating the drives of ${logins.length} account(s) from ${values.from}, ${jobs} at a time`);
  const from = values.from;
  return reportedRun(io, { count: logins.length, unit: 'files', source: from, reportFile: values.report, problems, summaryOf: driveSummaryOf }, async (hooks) => {
    const run = await runDriveMigration(deps, logins, { from, jobs, maxResponseBytes, maxEntries, onFile: (_, event) => hooks.onItem(event !== 'skipped'), onAccount: hooks.onAccount });
    return { ...run, totals: `${run.copied} file(s) copied, ${run.updated} updated, ${run.skipped} already there, ${run.bytes} bytes` };
  });
}

/**
 * What every account migration shows: a progress bar on a terminal (failed accounts printed above it),
 * one line per account otherwise, the JSON report, the totals, and exit code 1 while any account is
 * not finished.
 */
async function reportedRun<R extends { readonly status: 'ok' | 'failed' }>(
  io: Output,
  o: { count: number; unit: string; source: string; reportFile?: string; problems: readonly unknown[]; summaryOf: (r: R) => string },
  run: (hooks: { onItem: (copied: boolean) => void; onAccount: (report: R, done: number) => void }) => Promise<{ accounts: R[]; failed: number; totals: string }>,
): Promise<number> {
  let copied = 0;
  let failed = 0;
  let accountsDone = 0;
  const bar = io.interactive ? progressBar(o.count, 'accounts', (t) => process.stderr.write(t), true) : null;
  const redraw = () => bar?.(accountsDone, `${copied.toLocaleString('en')} ${o.unit} copied, ${failed} account(s) failed`);
  const result = await run({
    onItem: (isCopy) => {
      if (isCopy) copied++;
      redraw();
    },
    onAccount: (report, done) => {
      accountsDone = done;
      if (report.status === 'failed') failed++;
      if (bar) {
        redraw();
        if (report.status === 'failed') process.stderr.write(`\r\u001b[K${o.summaryOf(report)}\n`);
      } else io.out(o.summaryOf(report));
    },
  });
  if (bar) process.stderr.write('\n');
  if (o.reportFile) {
    const document = { source: o.source, finishedAt: new Date().toISOString(), accounts: result.accounts, csvProblems: o.problems };
    await writeFile(o.reportFile, `${JSON.stringify(document, null, 2)}\n`);
  }
  io.out(`${result.accounts.length - result.failed} account(s) done, ${result.failed} failed; ${result.totals}${o.reportFile ? `; report in ${o.reportFile}` : ''}`);
  if (result.failed) io.err(`palabre: ${result.failed} account(s) not finished: run the same command again to resume them`);
  return result.failed || o.problems.length ? 1 : 0;
}
