import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { CLI_ACTOR } from '@palabre/auth';
import { accountByAddress } from './shared.js';
import { APP_PASSWORD_USAGE } from './usage.js';


export async function appPasswordCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, { label: { type: 'string' } }, APP_PASSWORD_USAGE);
      const address = requirePositional(positionals, 0, 'address', APP_PASSWORD_USAGE);
      noMorePositionals(positionals, 1, APP_PASSWORD_USAGE);
      if (!values.label) throw new UsageError(`name the device with --label (e.g. --label "iPhone Awa")\nusage: ${APP_PASSWORD_USAGE}`);
      const issued = await ctx.admin.issueAppPassword(CLI_ACTOR, { address, label: values.label });
      const account = issued.account;
      io.out(`app password for ${account.address} on "${issued.credential.label}":`);
      io.out('');
      io.out(`    ${issued.secret}`);
      io.out('');
      io.out('Type it in the app instead of the account password. It is shown only this once.');
      io.out(`Revoke it with: palabre app-password revoke ${account.address} ${issued.credential.id}`);
      return 0;
    }
    case 'list': {
      const { positionals } = parse(rest, {}, APP_PASSWORD_USAGE);
      const account = await accountByAddress(ctx, requirePositional(positionals, 0, 'address', APP_PASSWORD_USAGE));
      const rows = (await ctx.stores.directory.listCredentials(account.id)).map((c) => [
        c.id,
        c.kind,
        c.label,
        c.createdAt.toISOString().slice(0, 16).replace('T', ' '),
        c.lastUsedAt?.toISOString().slice(0, 16).replace('T', ' ') ?? 'never',
      ]);
      for (const line of table(rows, ['ID', 'KIND', 'LABEL', 'CREATED', 'LAST USED'])) io.out(line);
      return 0;
    }
    case 'revoke': {
      const { positionals } = parse(rest, {}, APP_PASSWORD_USAGE);
      const address = requirePositional(positionals, 0, 'address', APP_PASSWORD_USAGE);
      const which = requirePositional(positionals, 1, 'app password id or label', APP_PASSWORD_USAGE);
      noMorePositionals(positionals, 2, APP_PASSWORD_USAGE);
      await ctx.admin.revokeCredential(CLI_ACTOR, { address, credential: which });
      io.out(`revoked; devices using it must sign in again`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${APP_PASSWORD_USAGE}`);
  }
}
