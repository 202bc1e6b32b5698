import { noMorePositionals, parse, parseCount, parseSize, requirePositional, formatSize, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { displayDomain } from '@palabre/core';
import { CLI_ACTOR } from '@palabre/auth';
import { DOMAIN_USAGE } from './usage.js';


export async function domainCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const dir = ctx.stores.directory;
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, { quota: { type: 'string' }, messages: { type: 'string' }, mailboxes: { type: 'string' } }, DOMAIN_USAGE);
      const name = requirePositional(positionals, 0, 'domain name', DOMAIN_USAGE);
      noMorePositionals(positionals, 1, DOMAIN_USAGE);
      const d = await ctx.admin.createDomain(CLI_ACTOR, {
        name,
        defaultQuotaBytes: values.quota === undefined ? null : parseSize(values.quota),
        defaultQuotaMessages: values.messages === undefined ? null : parseCount(values.messages, 'message'),
        defaultQuotaMailboxes: values.mailboxes === undefined ? null : parseCount(values.mailboxes, 'mailbox'),
      });
      io.out(`domain ${d.name} added${d.name !== displayDomain(d.name) ? ` (${displayDomain(d.name)})` : ''}`);
      return 0;
    }
    case 'list': {
      const { positionals } = parse(rest, {}, DOMAIN_USAGE);
      noMorePositionals(positionals, 0, DOMAIN_USAGE);
      const domains = await dir.listDomains();
      const rows = await Promise.all(
        domains.map(async (d) => [d.name, String(await dir.countAccounts(d.name)), formatSize(d.defaultQuotaBytes), d.aliases.join(', ')]),
      );
      for (const line of table(rows, ['DOMAIN', 'ACCOUNTS', 'DEFAULT QUOTA', 'ALIASES'])) io.out(line);
      return 0;
    }
    case 'remove': {
      const { positionals } = parse(rest, {}, DOMAIN_USAGE);
      const name = requirePositional(positionals, 0, 'domain name', DOMAIN_USAGE);
      noMorePositionals(positionals, 1, DOMAIN_USAGE);
      await ctx.admin.removeDomain(CLI_ACTOR, { name });
      io.out(`domain ${name} removed`);
      return 0;
    }
    case 'alias': {
      const [action, ...args] = rest;
      const { positionals } = parse(args, {}, DOMAIN_USAGE);
      if (action === 'add') {
        const domain = requirePositional(positionals, 0, 'domain', DOMAIN_USAGE);
        const alias = requirePositional(positionals, 1, 'alias domain', DOMAIN_USAGE);
        noMorePositionals(positionals, 2, DOMAIN_USAGE);
        const d = await ctx.admin.addDomainAlias(CLI_ACTOR, { domain, alias });
        io.out(`${alias} is now an alias of ${d.name}`);
        return 0;
      }
      if (action === 'remove') {
        const alias = requirePositional(positionals, 0, 'alias domain', DOMAIN_USAGE);
        noMorePositionals(positionals, 1, DOMAIN_USAGE);
        await ctx.admin.removeDomainAlias(CLI_ACTOR, { alias });
        io.out(`domain alias ${alias} removed`);
        return 0;
      }
      throw new UsageError(`usage: ${DOMAIN_USAGE}`);
    }
    default:
      throw new UsageError(`usage: ${DOMAIN_USAGE}`);
  }
}
