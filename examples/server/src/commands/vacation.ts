import { DEFAULT_VACATION_INTERVAL_MS } from '@palabre/core';
import { createMailTransportStores } from '@palabre/core/storage';
import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import type { Output } from '../output.js';
import { accountByAddress } from './shared.js';
import { VACATION_USAGE } from './usage.js';


function date(text: string | undefined, flag: string): Date | null {
  if (text === undefined) return null;
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00` : text);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--${flag}: not a date: ${JSON.stringify(text)} (use YYYY-MM-DD)`);
  return d;
}

export async function vacationCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const vacations = createMailTransportStores(ctx.db).vacations;
  switch (sub) {
    case 'set': {
      const { values, positionals } = parse(
        rest,
        { subject: { type: 'string' }, message: { type: 'string' }, from: { type: 'string' }, until: { type: 'string' }, days: { type: 'string' } },
        VACATION_USAGE,
      );
      const account = await accountByAddress(ctx, requirePositional(positionals, 0, 'address', VACATION_USAGE));
      noMorePositionals(positionals, 1, VACATION_USAGE);
      if (!values.subject || !values.message) throw new UsageError(`give --subject and --message\nusage: ${VACATION_USAGE}`);
      const days = values.days === undefined ? null : Number(values.days);
      if (days !== null && (!Number.isInteger(days) || days < 1)) throw new UsageError('--days is a whole number of days, at least 1');
      const settings = await vacations.set({
        accountId: account.id,
        enabled: true,
        subject: values.subject,
        body: values.message.replace(/\\n/g, '\n'),
        startsAt: date(values.from, 'from'),
        endsAt: date(values.until, 'until'),
        intervalMs: days === null ? DEFAULT_VACATION_INTERVAL_MS : days * 86400_000,
      });
      const until = settings.endsAt ? ` until ${settings.endsAt.toISOString().slice(0, 16).replace('T', ' ')}` : '';
      io.out(`out-of-office reply on for ${account.address}${until}; each sender gets it at most once every ${Math.round(settings.intervalMs / 86400_000)} day(s)`);
      return 0;
    }
    case 'off': {
      const { positionals } = parse(rest, {}, VACATION_USAGE);
      const account = await accountByAddress(ctx, requirePositional(positionals, 0, 'address', VACATION_USAGE));
      noMorePositionals(positionals, 1, VACATION_USAGE);
      await vacations.disable(account.id);
      io.out(`out-of-office reply off for ${account.address}`);
      return 0;
    }
    case 'show': {
      const { positionals } = parse(rest, {}, VACATION_USAGE);
      const account = await accountByAddress(ctx, requirePositional(positionals, 0, 'address', VACATION_USAGE));
      const s = await vacations.get(account.id);
      if (!s) {
        io.out(`no out-of-office reply set for ${account.address}`);
        return 0;
      }
      io.out(`state:    ${s.enabled ? 'on' : 'off'}`);
      io.out(`subject:  ${s.subject}`);
      io.out(`from:     ${s.startsAt?.toISOString() ?? '-'}`);
      io.out(`until:    ${s.endsAt?.toISOString() ?? '-'}`);
      io.out(`interval: ${Math.round(s.intervalMs / 86400_000)} day(s) per sender`);
      io.out('');
      io.out(s.body);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${VACATION_USAGE}`);
  }
}
