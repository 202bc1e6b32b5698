import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { NotFoundError, type Group } from '@palabre/core';
import { CLI_ACTOR, type MemberInput } from '@palabre/auth';
import { GROUP_USAGE } from './usage.js';


async function groupByName(ctx: Context, name: string): Promise<Group> {
  const group = await ctx.stores.directory.findGroup(name);
  if (!group) throw new NotFoundError(`no group ${name}`);
  return group;
}

export async function groupCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const dir = ctx.stores.directory;
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, { domain: { type: 'string' }, address: { type: 'string' }, description: { type: 'string' } }, GROUP_USAGE);
      const name = requirePositional(positionals, 0, 'group name', GROUP_USAGE);
      noMorePositionals(positionals, 1, GROUP_USAGE);
      const domain = values.domain ?? (values.address ? values.address.slice(values.address.lastIndexOf('@') + 1) : undefined);
      if (!domain) throw new UsageError(`a group belongs to a domain: give --domain\nusage: ${GROUP_USAGE}`);
      const group = await ctx.admin.createGroup(CLI_ACTOR, { name, domain, address: values.address ?? null, description: values.description ?? null });
      io.out(`group ${group.name} added${group.address ? ` (mail to ${group.address} reaches every member)` : ''}`);
      return 0;
    }
    case 'list': {
      const { values, positionals } = parse(rest, { domain: { type: 'string' } }, GROUP_USAGE);
      noMorePositionals(positionals, 0, GROUP_USAGE);
      const groups = await dir.listGroups(values.domain);
      const rows = await Promise.all(
        groups.map(async (g) => [g.name, g.address ?? '', String((await dir.listGroupMembers(g.id)).length), g.description ?? '']),
      );
      for (const line of table(rows, ['GROUP', 'ADDRESS', 'MEMBERS', 'DESCRIPTION'])) io.out(line);
      return 0;
    }
    case 'remove': {
      const { positionals } = parse(rest, {}, GROUP_USAGE);
      const name = requirePositional(positionals, 0, 'group name', GROUP_USAGE);
      noMorePositionals(positionals, 1, GROUP_USAGE);
      const group = await ctx.admin.removeGroup(CLI_ACTOR, { name });
      io.out(`group ${group.name} removed`);
      return 0;
    }
    case 'members': {
      const { positionals } = parse(rest, {}, GROUP_USAGE);
      const group = await groupByName(ctx, requirePositional(positionals, 0, 'group name', GROUP_USAGE));
      for (const m of await dir.listGroupMembers(group.id)) io.out(m.kind === 'group' ? `group ${m.name}` : m.address);
      return 0;
    }
    case 'member': {
      const [action, ...args] = rest;
      if (action !== 'add' && action !== 'remove') throw new UsageError(`usage: ${GROUP_USAGE}`);
      const { values, positionals } = parse(args, { group: { type: 'string' } }, GROUP_USAGE);
      const name = requirePositional(positionals, 0, 'group name', GROUP_USAGE);
      let member: MemberInput;
      if (values.group !== undefined) {
        noMorePositionals(positionals, 1, GROUP_USAGE);
        member = { group: values.group };
      } else {
        member = { address: requirePositional(positionals, 1, 'member address (or --group NAME)', GROUP_USAGE) };
        noMorePositionals(positionals, 2, GROUP_USAGE);
      }
      const input = { group: name, member };
      const { group, label } = action === 'add' ? await ctx.admin.addGroupMember(CLI_ACTOR, input) : await ctx.admin.removeGroupMember(CLI_ACTOR, input);
      io.out(`${label} ${action === 'add' ? 'added to' : 'removed from'} ${group.name}`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${GROUP_USAGE}`);
  }
}
