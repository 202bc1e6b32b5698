import { pino } from 'pino';
import { silentLogger, type Logger } from '@palabre/core';
import { parse, UsageError } from './args.js';
import { loadConfig } from './config.js';
import { openContext } from './context.js';
import { describeError, exitCodeFor, stdio, type Output } from './output.js';
import { ALIAS_USAGE, aliasCommand } from './commands/alias.js';
import { APP_PASSWORD_USAGE, appPasswordCommand } from './commands/app-password.js';
import { AUDIT_USAGE, auditCommand } from './commands/audit.js';
import { DOCTOR_USAGE, doctorCommand } from './commands/doctor.js';
import { DKIM_USAGE, dkimCommand } from './commands/dkim.js';
import { VACATION_USAGE, vacationCommand } from './commands/vacation.js';
import { QUEUE_USAGE, queueCommand } from './commands/queue.js';
import { DOMAIN_USAGE, domainCommand } from './commands/domain.js';
import { DRIVE_USAGE, driveCommand } from './commands/drive.js';
import { GROUP_USAGE, groupCommand } from './commands/group.js';
import { MAILBOX_USAGE, mailboxCommand } from './commands/mailbox.js';
import { MIGRATE_USAGE, migrateCommand } from './commands/migrate.js';
import { SERVE_OPTIONS, SERVE_USAGE, serveCommand } from './commands/serve.js';
import { USER_USAGE, userCommand } from './commands/user.js';

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
  ${QUEUE_USAGE}
  ${MAILBOX_USAGE}
  ${MIGRATE_USAGE}

Every command takes --data DIR (default ./data) and --config FILE.json; DATABASE_URL=postgres://…
selects PostgreSQL instead of SQLite in the data folder.`;

const ADMIN_COMMANDS: Record<string, (ctx: Awaited<ReturnType<typeof openContext>>, argv: string[], io: Output) => Promise<number>> = {
  domain: domainCommand,
  user: userCommand,
  group: groupCommand,
  alias: aliasCommand,
  drive: driveCommand,
  'app-password': appPasswordCommand,
  audit: auditCommand,
  doctor: (ctx, argv, io) => doctorCommand(ctx, argv, io),
  dkim: dkimCommand,
  vacation: vacationCommand,
  queue: queueCommand,
  mailbox: mailboxCommand,
  migrate: migrateCommand,
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
      const { values, positionals } = parse(args, SERVE_OPTIONS, SERVE_USAGE);
      if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}\nusage: ${SERVE_USAGE}`);
      const config = loadConfig({
        data,
        config: configFile,
        env,
        overrides: {
          host: values.host,
          hostname: values.hostname,
          allowInsecureAuth: values['allow-insecure-auth'],
          ports: {
            http: port(values['http-port'], 'http-port'),
            smtp: port(values['smtp-port'], 'smtp-port'),
            submission: port(values['submission-port'], 'submission-port'),
            imap: port(values['imap-port'], 'imap-port'),
          },
        },
      });
      const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { node: config.hostname } }) as unknown as Logger;
      const ctx = await openContext(config, logger);
      close = () => ctx.close();
      return await serveCommand(ctx, io);
    }
    const run = ADMIN_COMMANDS[command];
    if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    if (args.includes('--help') || args.includes('-h')) {
      io.out(USAGE);
      return 0;
    }
    const config = loadConfig({ data, config: configFile, env });
    const ctx = await openContext(config, silentLogger, { migrate: command !== 'migrate' });
    close = () => ctx.close();
    return await run(ctx, args, io);
  } catch (error) {
    io.err(`palabre: ${describeError(error)}`);
    return exitCodeFor(error);
  } finally {
    if (close) await close().catch(() => undefined);
  }
}
