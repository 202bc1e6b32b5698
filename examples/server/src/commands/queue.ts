import { createMailTransportStores } from '@palabre/core/storage';
import { noMorePositionals, parse, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { accountByAddress } from './shared.js';
import { QUEUE_USAGE } from './usage.js';


const when = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');

/** The outbound mail queue: what waits, why, and "try everything now". */
export async function queueCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const queue = createMailTransportStores(ctx.db).queue;
  switch (sub) {
    case 'list': {
      const { values, positionals } = parse(rest, { user: { type: 'string' }, limit: { type: 'string' } }, QUEUE_USAGE);
      noMorePositionals(positionals, 0, QUEUE_USAGE);
      const limit = values.limit === undefined ? 100 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit is a positive whole number');
      const accountId = values.user ? (await accountByAddress(ctx, values.user)).id : undefined;
      const now = new Date();
      const summary = await queue.summary(now);
      io.out(`${summary.messages} message(s), ${summary.jobs} delivery job(s), ${summary.dueNow} due now${summary.oldest ? `, oldest from ${when(summary.oldest)}` : ''}`);
      const rows = (await queue.list({ limit, accountId })).map((j) => [
        when(j.message.createdAt),
        j.message.sender || '<>',
        j.domain || '(local)',
        j.recipients.map((r) => r.address).join(', ').slice(0, 60),
        String(j.attempts),
        when(j.nextAttemptAt),
        (j.lastError ?? '').slice(0, 70),
      ]);
      if (rows.length) for (const line of table(rows, ['QUEUED', 'SENDER', 'DOMAIN', 'RECIPIENTS', 'TRIES', 'NEXT', 'LAST ERROR'])) io.out(line);
      return 0;
    }
    case 'flush': {
      const { positionals } = parse(rest, {}, QUEUE_USAGE);
      noMorePositionals(positionals, 0, QUEUE_USAGE);
      const n = await queue.flush(new Date());
      io.out(`${n} deferred delivery job(s) will be tried again within seconds`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${QUEUE_USAGE}`);
  }
}
