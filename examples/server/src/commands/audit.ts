import { AUDIT_EVENT_TYPES, type AuditEventType } from '@palabre/core';
import { noMorePositionals, parse, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { AUDIT_USAGE } from './usage.js';


export async function auditCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parse(argv, { type: { type: 'string' }, actor: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } }, AUDIT_USAGE);
  noMorePositionals(positionals, 0, AUDIT_USAGE);
  if (values.type !== undefined && !(AUDIT_EVENT_TYPES as readonly string[]).includes(values.type)) {
    throw new UsageError(`unknown event type ${values.type}; one of: ${AUDIT_EVENT_TYPES.join(', ')}`);
  }
  const since = values.since === undefined ? undefined : new Date(values.since);
  if (since && Number.isNaN(since.getTime())) throw new UsageError('--since takes a date such as 2026-11-01 or 2026-11-01T08:00:00Z');
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive whole number');
  const events = await ctx.stores.audit.list({ type: values.type as AuditEventType | undefined, actor: values.actor, since, limit });
  const rows = events.map((e) => [e.at.toISOString(), e.type, e.actor ?? '', e.ip ?? '', e.protocol ?? '', e.target ?? '', e.detail ?? '']);
  for (const line of table(rows, ['TIME', 'EVENT', 'ACTOR', 'IP', 'PROTOCOL', 'TARGET', 'DETAIL'])) io.out(line);
  return 0;
}
