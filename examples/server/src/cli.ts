import { silentLogger, type Logger } from '@palabre/core';
import { parse, UsageError } from './args.js';
import { loadConfig } from './config.js';
import { openContext } from './context.js';
import { describeError, exitCodeFor, stdio, type Output } from './output.js';
import { chooseLogFormat, createServeLogger, LOG_FORMATS } from './log-output.js';
import type { Context } from './context.js';
import {
  ALIAS_USAGE,
  APP_PASSWORD_USAGE,
  AUDIT_USAGE,
  BACKUP_USAGE,
  DKIM_USAGE,
  DOCTOR_USAGE,
  DOMAIN_USAGE,
  DRIVE_USAGE,
  GROUP_USAGE,
  MAILBOX_USAGE,
  CALENDAR_USAGE,
  MIGRATE_USAGE,
  QUEUE_USAGE,
  RESTORE_USAGE,
  SERVE_USAGE,
  USER_USAGE,
  VACATION_USAGE,
  SIEVE_USAGE,
} from './commands/usage.js';

const USAGE = `Palabre: mail, calendars, contacts and files for the administration.

usage:
  ${SERVE_USAGE}
  ${DOMAIN_USAGE}
  ${USER_USAGE}
  ${GROUP_USAGE}
  ${ALIAS_USAGE}
  ${DRIVE_USAGE}
  ${APP_PASSWORD_USAGE}
  ${AUDIT_USAGE}
  ${DOCTOR_USAGE}
  ${DKIM_USAGE}
  ${VACATION_USAGE}
  ${SIEVE_USAGE}
  ${QUEUE_USAGE}
  ${MAILBOX_USAGE}
  ${CALENDAR_USAGE}
  ${MIGRATE_USAGE}
  ${BACKUP_USAGE}
  ${RESTORE_USAGE}

Every command takes --data DIR (default ./data) and --config FILE.json; DATABASE_URL=postgres://…
selects PostgreSQL instead of SQLite in the data folder.`;

type Command = (ctx: Context, argv: string[], io: Output) => Promise<number>;

/** Each command's code loads only when it runs: `palabre user add` does not load mail or the DAV engine. */
const ADMIN_COMMANDS: Record<string, () => Promise<Command>> = {
  domain: async () => (await import('./commands/domain.js')).domainCommand,
  user: async () => (await import('./commands/user.js')).userCommand,
  group: async () => (await import('./commands/group.js')).groupCommand,
  alias: async () => (await import('./commands/alias.js')).aliasCommand,
  drive: async () => (await import('./commands/drive.js')).driveCommand,
  'app-password': async () => (await import('./commands/app-password.js')).appPasswordCommand,
  audit: async () => (await import('./commands/audit.js')).auditCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  dkim: async () => (await import('./commands/dkim.js')).dkimCommand,
  vacation: async () => (await import('./commands/vacation.js')).vacationCommand,
  sieve: async () => (await import('./commands/sieve.js')).sieveCommand,
  queue: async () => (await import('./commands/queue.js')).queueCommand,
  mailbox: async () => (await import('./commands/mailbox.js')).mailboxCommand,
  calendar: async () => (await import('./commands/calendar.js')).calendarCommand,
  migrate: async () => (await import('./commands/migrate.js')).migrateCommand,
};

const port = (value: string | undefined, flag: string): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${flag} must be a port number from 0 (off) to 65535`);
  return n;
};

/** Pull --data/--config out wherever they appear, leaving the rest for the command. */
function globalOptions(argv: string[]): { data?: string; config?: string; rest: string[] } {
  const rest: string[] = [];
  let data: string | undefined;
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const take = (name: string): string | undefined => {
      if (arg === `--${name}`) {
        const value = argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        return value;
      }
      if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
      return undefined;
    };
    const d = take('data');
    if (d !== undefined) {
      data = d;
      continue;
    }
    const c = take('config');
    if (c !== undefined) {
      config = c;
      continue;
    }
    rest.push(arg);
  }
  return { data, config, rest };
}

export async function main(argv: string[], io: Output = stdio, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let close: (() => Promise<void>) | null = null;
  try {
    const { data, config: configFile, rest } = globalOptions(argv);
    const [command, ...args] = rest;
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command ? 0 : 2;
    }
    if (command === 'serve') {
      const { SERVE_OPTIONS, serveCommand } = await import('./commands/serve.js');
      const { values, positionals } = parse(args, SERVE_OPTIONS, SERVE_USAGE);
      if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}\nusage: ${SERVE_USAGE}`);
      const workers = values.workers === undefined ? undefined : Number(values.workers);
      if (workers !== undefined && (!Number.isInteger(workers) || workers < 0 || workers > 64)) {
        throw new UsageError('--workers takes a number of processes from 1 to 64, or 0 for one per CPU');
      }
      const config = loadConfig({
        data,
        config: configFile,
        env,
        overrides: {
          host: values.host,
          hostname: values.hostname,
          allowInsecureAuth: values['allow-insecure-auth'],
          workers,
          ports: {
            http: port(values['http-port'], 'http-port'),
            smtp: port(values['smtp-port'], 'smtp-port'),
            submission: port(values['submission-port'], 'submission-port'),
            imap: port(values['imap-port'], 'imap-port'),
            sieve: port(values['sieve-port'], 'sieve-port'),
            httpRedirect: port(values['http-redirect-port'], 'http-redirect-port'),
          },
          admin: { port: port(values['admin-port'], 'admin-port') },
        },
      });
      const formatFlag = values['log-format'];
      if (formatFlag !== undefined && !LOG_FORMATS.includes(formatFlag as never)) throw new UsageError(`--log-format takes ${LOG_FORMATS.join(' or ')}`);
      const format = chooseLogFormat(formatFlag, env, Boolean(process.stdout.isTTY));
      const logger = createServeLogger({
        format,
        level: env.LOG_LEVEL ?? 'info',
        node: config.hostname,
        colour: format === 'human' && Boolean(process.stdout.isTTY) && !env.NO_COLOR,
      });
      const { isWorkerProcess, runPrimary, runWorker, workerCount } = await import('./serve/cluster.js');
      if (isWorkerProcess()) return await runWorker(config, logger, io);
      const count = workerCount(config);
      // One process: it measures itself. Several: each worker measures itself and the primary's admin
      // listener aggregates them (see cluster.ts).
      const { createPrometheusMetrics } = await import('./serve/prometheus-metrics.js');
      const metrics = config.admin.port !== 0 && count <= 1 ? createPrometheusMetrics() : undefined;
      const ctx = await openContext(config, logger, { metrics });
      close = () => ctx.close();
      return count > 1 ? await runPrimary(ctx, io, count, format) : await serveCommand(ctx, io, metrics);
    }
    if (command === 'backup' || command === 'restore') {
      const { backupCommand } = await import('./commands/backup.js');
      if (args.includes('--help') || args.includes('-h')) {
        io.out(command === 'backup' ? BACKUP_USAGE : RESTORE_USAGE);
        return 0;
      }
      return await backupCommand(command, args, { data, configFile, env, io });
    }
    const load = ADMIN_COMMANDS[command];
    if (!load) throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    if (args.includes('--help') || args.includes('-h')) {
      io.out(USAGE);
      return 0;
    }
    const config = loadConfig({ data, config: configFile, env });
    // Plain `palabre migrate` applies the migrations itself (and reports them); `migrate mail` needs the schema first.
    const ctx = await openContext(config, silentLogger, { migrate: command !== 'migrate' || ['mail', 'dav', 'drive'].includes(args[0] ?? '') });
    close = () => ctx.close();
    return await (await load())(ctx, args, io);
  } catch (error) {
    io.err(`palabre: ${describeError(error)}`);
    return exitCodeFor(error);
  } finally {
    if (close) await close().catch(() => undefined);
  }
}
