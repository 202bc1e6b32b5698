import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import type { Output } from '../output.js';
import { accountByAddress } from './shared.js';
import { ALIAS_USAGE } from './usage.js';


export async function aliasCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const dir = ctx.stores.directory;
  const { positionals } = parse(rest, {}, ALIAS_USAGE);
  const audit = (target: string, detail: string) =>
    ctx.stores.audit.record({ type: 'alias.changed', actor: 'cli', ip: null, protocol: 'cli', target, detail });
  switch (sub) {
    case 'add': {
      const alias = requirePositional(positionals, 0, 'alias', ALIAS_USAGE);
      const account = await accountByAddress(ctx, requirePositional(positionals, 1, 'account address', ALIAS_USAGE));
      noMorePositionals(positionals, 2, ALIAS_USAGE);
      const created = await dir.addAlias(alias, account.id);
      await audit(created.address, `-> ${account.address}`);
      io.out(`mail to ${created.address} now reaches ${account.address}`);
      return 0;
    }
    case 'remove': {
      const alias = requirePositional(positionals, 0, 'alias', ALIAS_USAGE);
      noMorePositionals(positionals, 1, ALIAS_USAGE);
      await dir.removeAlias(alias);
      await audit(alias, 'removed');
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
