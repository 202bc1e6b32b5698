import { CLI_ACTOR } from '@palabre/auth';
import { parseAddress } from '@palabre/core';
import { formatCount, formatSize, noMorePositionals, parse, parseCount, parseSize, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { importCommand } from './import.js';
import { accountByAddress, readPassword, usesLdap } from './shared.js';
import { USER_USAGE } from './usage.js';


const passwordOptions = {
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
} as const;


export async function userCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const dir = ctx.stores.directory;

  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(
        rest,
        { ...passwordOptions, 'no-password': { type: 'boolean' }, name: { type: 'string' }, department: { type: 'string' }, quota: { type: 'string' } },
        USER_USAGE,
      );
      const address = requirePositional(positionals, 0, 'address', USER_USAGE);
      noMorePositionals(positionals, 1, USER_USAGE);
      const { domain } = parseAddress(address);
      const password = readPassword(values);
      if (password !== undefined && values['no-password']) throw new UsageError('--no-password contradicts a password');
      const external = values['no-password'] || usesLdap(ctx.config, domain);
      const { account, generatedPassword } = await ctx.admin.createAccount(CLI_ACTOR, {
        address,
        displayName: values.name,
        department: values.department,
        quotaBytes: values.quota === undefined ? undefined : parseSize(values.quota),
        password: password ?? (external ? null : undefined),
      });
      io.out(`account ${account.address} added (quota ${formatSize(account.quotaBytes)})`);
      if (generatedPassword) io.out(`password: ${generatedPassword}    (shown once; change it with: palabre user passwd ${account.address})`);
      else if (password === undefined) io.out('no local password: this account signs in through its directory (LDAP) or app passwords');
      return 0;
    }
    case 'list': {
      const { values, positionals } = parse(rest, { domain: { type: 'string' }, limit: { type: 'string' } }, USER_USAGE);
      noMorePositionals(positionals, 0, USER_USAGE);
      const limit = values.limit === undefined ? Infinity : Number(values.limit);
      if (!(limit > 0)) throw new UsageError('--limit must be a positive number');
      const rows: string[][] = [];
      let after: string | null = null;
      do {
        const page = await dir.listAccounts({ domain: values.domain, after, limit: 1000 });
        for (const a of page.accounts) {
          if (rows.length >= limit) break;
          rows.push([a.address, a.displayName, a.department ?? '', a.status, formatSize(a.quotaBytes), a.lastLoginAt?.toISOString().slice(0, 16).replace('T', ' ') ?? 'never']);
        }
        after = rows.length >= limit ? null : page.next;
      } while (after);
      for (const line of table(rows, ['ADDRESS', 'NAME', 'DEPARTMENT', 'STATUS', 'QUOTA', 'LAST LOGIN'])) io.out(line);
      return 0;
    }
    case 'show': {
      const { positionals } = parse(rest, {}, USER_USAGE);
      const account = await accountByAddress(ctx, requirePositional(positionals, 0, 'address', USER_USAGE));
      const aliases = await dir.listAliases(account.id);
      const groups = await dir.groupsOfAccount(account.id);
      const creds = await dir.listCredentials(account.id);
      io.out(`address:     ${account.address}`);
      io.out(`name:        ${account.displayName}`);
      io.out(`department:  ${account.department ?? ''}`);
      io.out(`status:      ${account.status}`);
      io.out(`quota:       ${formatSize(account.quotaBytes)}, ${formatCount(account.quotaMessages)} messages, ${formatCount(account.quotaMailboxes)} mailboxes`);
      io.out(`created:     ${account.createdAt.toISOString()}`);
      io.out(`last login:  ${account.lastLoginAt?.toISOString() ?? 'never'}`);
      io.out(`aliases:     ${aliases.map((a) => a.address).join(', ')}`);
      io.out(`groups:      ${groups.map((g) => g.name).join(', ')}`);
      io.out(`credentials: ${creds.map((c) => `${c.kind} "${c.label}"`).join(', ')}`);
      return 0;
    }
    case 'passwd': {
      const { values, positionals } = parse(rest, passwordOptions, USER_USAGE);
      const address = requirePositional(positionals, 0, 'address', USER_USAGE);
      noMorePositionals(positionals, 1, USER_USAGE);
      const { account, generatedPassword } = await ctx.admin.setPassword(CLI_ACTOR, { address, password: readPassword(values) });
      io.out(`password of ${account.address} changed`);
      if (generatedPassword) io.out(`password: ${generatedPassword}    (shown once)`);
      return 0;
    }
    case 'suspend':
    case 'unsuspend': {
      const { positionals } = parse(rest, {}, USER_USAGE);
      const address = requirePositional(positionals, 0, 'address', USER_USAGE);
      noMorePositionals(positionals, 1, USER_USAGE);
      const account = sub === 'suspend' ? await ctx.admin.suspendAccount(CLI_ACTOR, { address }) : await ctx.admin.unsuspendAccount(CLI_ACTOR, { address });
      io.out(`${account.address} ${sub === 'suspend' ? 'suspended: it can no longer sign in' : 'active again'}`);
      return 0;
    }
    case 'quota': {
      const { values, positionals } = parse(rest, { messages: { type: 'string' }, mailboxes: { type: 'string' } }, USER_USAGE);
      const address = requirePositional(positionals, 0, 'address', USER_USAGE);
      noMorePositionals(positionals, 2, USER_USAGE);
      const quotaBytes = positionals[1] === undefined ? undefined : parseSize(positionals[1]);
      const quotaMessages = values.messages === undefined ? undefined : parseCount(values.messages, 'message');
      const quotaMailboxes = values.mailboxes === undefined ? undefined : parseCount(values.mailboxes, 'mailbox');
      if (quotaBytes === undefined && quotaMessages === undefined && quotaMailboxes === undefined) throw new UsageError(`a size, --messages or --mailboxes is required\nusage: ${USER_USAGE}`);
      const said = [
        quotaBytes === undefined ? null : `quota ${formatSize(quotaBytes)}`,
        quotaMessages === undefined ? null : `${formatCount(quotaMessages)} messages`,
        quotaMailboxes === undefined ? null : `${formatCount(quotaMailboxes)} mailboxes`,
      ].filter(Boolean).join(', ');
      const account = await ctx.admin.setQuota(CLI_ACTOR, { address, quotaBytes, quotaMessages, quotaMailboxes, detail: said });
      io.out(`quota of ${account.address}: ${formatSize(account.quotaBytes)}, ${formatCount(account.quotaMessages)} messages, ${formatCount(account.quotaMailboxes)} mailboxes`);
      return 0;
    }
    case 'remove': {
      const { positionals } = parse(rest, {}, USER_USAGE);
      const address = requirePositional(positionals, 0, 'address', USER_USAGE);
      noMorePositionals(positionals, 1, USER_USAGE);
      const removed = await ctx.admin.removeAccount(CLI_ACTOR, { address });
      io.out(`account ${removed.address} removed`);
      return 0;
    }
    case 'import':
      return importCommand(ctx, rest, io);
    default:
      throw new UsageError(`usage: ${USER_USAGE}`);
  }
}
