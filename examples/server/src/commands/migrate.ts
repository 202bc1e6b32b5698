import { noMorePositionals, parse } from '../args.js';
import type { Context } from '../context.js';
import { describeDatabase } from '../context.js';
import type { Output } from '../output.js';
import { MIGRATE_USAGE } from './usage.js';


/** Migrations also run at every start; this applies them ahead of a rolling upgrade of several nodes. */
export async function migrateCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const { positionals } = parse(argv, {}, MIGRATE_USAGE);
  noMorePositionals(positionals, 0, MIGRATE_USAGE);
  const applied = await ctx.db.migrate();
  for (const name of applied) io.out(`applied ${name}`);
  io.out(`${describeDatabase(ctx.config)}: schema up to date (${ctx.db.dataSource.migrations.length} migrations)`);
  return 0;
}
