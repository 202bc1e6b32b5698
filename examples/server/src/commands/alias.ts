import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import type { Output } from '../output.js';
import { CLI_ACTOR } from '@palabre/auth';
import { accountByAddress } from './shared.js';
import { ALIAS_USAGE } from './usage.js';


export async function aliasCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const dir = ctx.stores.directory;
  const { positionals } = parse(rest, {}, ALIAS_USAGE);
  switch (sub) {
    case 'add': {
      const alias = requirePositional(positionals, 0, 'alias', ALIAS_USAGE);
      const address = requirePositional(positionals, 1, 'account address', ALIAS_USAGE);
      noMorePositionals(positionals, 2, ALIAS_USAGE);
      const created = await ctx.admin.addAlias(CLI_ACTOR, { alias, address });
      io.out(`mail to ${created.alias} now reaches ${created.account.address}`);
      return 0;
    }
    case 'remove': {
      const alias = requirePositional(positionals, 0, 'alias', ALIAS_USAGE);
      noMorePositionals(positionals, 1, ALIAS_USAGE);
      await ctx.admin.removeAlias(CLI_ACTOR, { alias });
      io.out(`alias ${alias} removed`);
      return 0;
    }
    case 'list': {
      const account = await accountByAddress(ctx, requirePositional(positionals, 0, 'account address', ALIAS_USAGE));
      for (const a of await dir.listAliases(account.id)) io.out(a.address);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${ALIAS_USAGE}`);
  }
}
