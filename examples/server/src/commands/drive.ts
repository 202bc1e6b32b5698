import { CLI_ACTOR, type MemberInput } from '@palabre/auth';
import { isPalabreError, NotFoundError, type GrantAccess } from '@palabre/core';
import { formatSize, noMorePositionals, parse, parseSize, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { DRIVE_USAGE } from './usage.js';


function access(value: string | undefined, allowNone: boolean): GrantAccess | 'none' {
  const v = value ?? 'write';
  if (v === 'read' || v === 'write' || (allowNone && v === 'none')) return v;
  throw new UsageError(`access is read${allowNone ? ', write or none' : ' or write'}, not ${JSON.stringify(v)}`);
}

/**
 * Group folders: a drive shared by a directory group (a ministry, a department), at
 * `/dav/files/<group>/`, read or read-write by membership, with more grants per person or group.
 */
export async function driveCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [what, sub, ...rest] = argv;
  if (what !== 'folder') throw new UsageError(`usage: ${DRIVE_USAGE}`);
  const drive = ctx.stores.drive;
  const dir = ctx.stores.directory;
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, { access: { type: 'string' }, quota: { type: 'string' } }, DRIVE_USAGE);
      const groupName = requirePositional(positionals, 0, 'group', DRIVE_USAGE);
      noMorePositionals(positionals, 1, DRIVE_USAGE);
      const level = access(values.access, false) as GrantAccess;
      const quotaBytes = values.quota === undefined ? null : parseSize(values.quota);
      const { space, group } = await ctx.admin.createGroupFolder(CLI_ACTOR, { group: groupName, access: level, quotaBytes }).catch((error: unknown) => {
        throw isPalabreError(error, 'not-found') ? new NotFoundError(`no group ${groupName}: create it with palabre group add`) : error;
      });
      io.out(`group folder ${space.name} added: members of ${group.name} can ${level === 'write' ? 'read and write' : 'read'} /dav/files/${space.name}/`);
      return 0;
    }
    case 'list': {
      const { positionals } = parse(rest, {}, DRIVE_USAGE);
      noMorePositionals(positionals, 0, DRIVE_USAGE);
      const groups = await dir.listGroups();
      const spaces = await drive.listSpaces({ groupIds: groups.map((g) => g.id) });
      const grants = await drive.grantsOn(spaces.map((s) => s.rootId));
      const names = new Map<string, string>(groups.map((g) => [g.id, `group ${g.name}`]));
      const rows: string[][] = [];
      for (const space of spaces) {
        const who: string[] = [];
        for (const g of grants.filter((x) => x.nodeId === space.rootId)) {
          let label = names.get(g.principal.id);
          if (!label) label = g.principal.kind === 'account' ? (await dir.getAccount(g.principal.id).catch(() => null))?.address : undefined;
          who.push(`${label ?? g.principal.id}:${g.access}`);
        }
        const usage = await drive.usage(space.id);
        rows.push([space.name, `${formatSize(usage.used)} of ${formatSize(usage.quota)}`, who.sort().join(', ')]);
      }
      for (const line of table(rows, ['FOLDER', 'USED', 'ACCESS'])) io.out(line);
      return 0;
    }
    case 'grant': {
      const { values, positionals } = parse(rest, { group: { type: 'string' } }, DRIVE_USAGE);
      const folder = requirePositional(positionals, 0, 'folder', DRIVE_USAGE);
      let to: MemberInput;
      let levelArg: string | undefined;
      if (values.group !== undefined) {
        to = { group: values.group };
        levelArg = requirePositional(positionals, 1, 'access (read, write or none)', DRIVE_USAGE);
        noMorePositionals(positionals, 2, DRIVE_USAGE);
      } else {
        to = { address: requirePositional(positionals, 1, 'address (or --group GROUP)', DRIVE_USAGE) };
        levelArg = requirePositional(positionals, 2, 'access (read, write or none)', DRIVE_USAGE);
        noMorePositionals(positionals, 3, DRIVE_USAGE);
      }
      const granted = await ctx.admin.grantFolder(CLI_ACTOR, { folder, to, access: access(levelArg, true) });
      io.out(`${granted.label} now has ${granted.access === 'none' ? 'no' : granted.access} access to ${granted.space.name}`);
      return 0;
    }
    case 'remove': {
      const { positionals } = parse(rest, {}, DRIVE_USAGE);
      const folder = requirePositional(positionals, 0, 'folder', DRIVE_USAGE);
      noMorePositionals(positionals, 1, DRIVE_USAGE);
      const space = await ctx.admin.removeGroupFolder(CLI_ACTOR, { folder });
      io.out(`group folder ${space.name} removed (its files are collected by the next clean-up)`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${DRIVE_USAGE}`);
  }
}
