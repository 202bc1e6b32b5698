import { createAdministration, CLI_ACTOR } from '@palabre/auth';
import { isPalabreError } from '@palabre/core';
import { SqlCalendarStore } from '@palabre/core/storage';
import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { CALENDAR_USAGE } from './usage.js';

const ACCESS = ['read', 'write', 'none'] as const;
type Access = (typeof ACCESS)[number];

function accessArg(value: string, allowed: readonly Access[]): Access {
  if (!allowed.includes(value as Access)) throw new UsageError(`access is ${allowed.join(', ')}, not ${JSON.stringify(value.slice(0, 40))}\nusage: ${CALENDAR_USAGE}`);
  return value as Access;
}

/** A mistyped calendar, grantee or access is a usage mistake (exit 2), as for `mailbox share`. */
function asUsage(error: unknown): never {
  const field = isPalabreError(error) ? error.detail?.field : undefined;
  throw field === 'calendar' || field === 'grantee' ? new UsageError((error as Error).message) : error;
}

/**
 * Calendars of an account, who they are shared with, and who acts for the account (calendar-proxy
 * delegates: a secretariat that keeps a director's agenda). The same store and rules as Apple Calendar's
 * sharing and delegation panes over DAV, through the audited administration functions.
 */
export async function calendarCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const { positionals } = parse(rest, {}, CALENDAR_USAGE);
  const store = new SqlCalendarStore(ctx.db, { notifier: await ctx.notifier(), logger: ctx.logger });
  const admin = createAdministration({ directory: ctx.stores.directory, audit: ctx.stores.audit, credentials: ctx.credentials, calendars: store }).calendars;
  const owner = () => requirePositional(positionals, 0, 'owner address', CALENDAR_USAGE);
  switch (sub) {
    case 'list': {
      const address = owner();
      noMorePositionals(positionals, 1, CALENDAR_USAGE);
      const listing = await admin.list(CLI_ACTOR, address);
      const rows = listing.calendars.map((c) => [
        c.collection.name,
        c.collection.kind === 'calendar' ? 'calendar' : 'address book',
        c.collection.displayName ?? '',
        // An invitation not yet answered or declined says so: the owner sees who actually took the calendar.
        c.shares.map((s) => `${s.label}:${s.access === 'read-write' ? 'write' : 'read'}${s.status === 'accepted' ? '' : `(${s.status})`}`).join(' '),
      ]);
      for (const line of table(rows, ['NAME', 'KIND', 'DISPLAY NAME', 'SHARED WITH'])) io.out(line);
      io.out(`delegates: ${listing.delegates.map((d) => `${d.label}:${d.access === 'read-write' ? 'write' : 'read'}`).join(' ') || 'none'}`);
      return 0;
    }
    case 'share':
    case 'unshare': {
      const address = owner();
      const calendar = requirePositional(positionals, 1, 'calendar', CALENDAR_USAGE);
      const grantee = requirePositional(positionals, 2, 'grantee', CALENDAR_USAGE);
      const access = sub === 'share' ? accessArg(requirePositional(positionals, 3, 'access', CALENDAR_USAGE), ['read', 'write']) : 'none';
      noMorePositionals(positionals, sub === 'share' ? 4 : 3, CALENDAR_USAGE);
      const done = await admin.share(CLI_ACTOR, { owner: address, calendar, grantee, access }).catch(asUsage);
      const where = `${done.owner.address}/${done.calendar.name}`;
      io.out(done.access ? `${done.label} now has ${access} access to ${where}` : `${done.label} no longer has access to ${where}`);
      return 0;
    }
    case 'delegate': {
      const address = owner();
      const grantee = requirePositional(positionals, 1, 'grantee', CALENDAR_USAGE);
      const access = accessArg(requirePositional(positionals, 2, 'access', CALENDAR_USAGE), ACCESS);
      noMorePositionals(positionals, 3, CALENDAR_USAGE);
      const done = await admin.delegate(CLI_ACTOR, { owner: address, grantee, access }).catch(asUsage);
      io.out(done.access ? `${done.label} now acts for ${done.owner.address} (${access}) in calendar apps` : `${done.label} no longer acts for ${done.owner.address}`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${CALENDAR_USAGE}`);
  }
}
