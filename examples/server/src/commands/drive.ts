import { NotFoundError, type DriveSpace, type GrantAccess, type GrantPrincipal } from '@palabre/core';
import { formatSize, noMorePositionals, parse, parseSize, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { accountByAddress } from './shared.js';
import { DRIVE_USAGE } from './usage.js';


async function folderByName(ctx: Context, name: string): Promise<DriveSpace> {
  const space = await ctx.stores.drive.findSpace(name);
  if (!space || space.kind !== 'group') throw new NotFoundError(`no group folder ${name}`);
  return space;
}

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
  const audit = (target: string, detail: string) =>
    ctx.stores.audit.record({ type: 'group.changed', actor: 'cli', ip: null, protocol: 'cli', target, detail });
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, { access: { type: 'string' }, quota: { type: 'string' } }, DRIVE_USAGE);
      const groupName = requirePositional(positionals, 0, 'group', DRIVE_USAGE);
      noMorePositionals(positionals, 1, DRIVE_USAGE);
      const group = await dir.findGroup(groupName);
      if (!group) throw new NotFoundError(`no group ${groupName}: create it with palabre group add`);
      const level = access(values.access, false) as GrantAccess;
      const space = await drive.createGroupSpace({ name: group.name, groupId: group.id, quotaBytes: values.quota === undefined ? null : parseSize(values.quota) });
      await drive.setGrants(space.rootId, [{ principal: { kind: 'group', id: group.id }, access: level }]);
      await audit(group.name, `group folder created, ${level} for members`);
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
      const space = await folderByName(ctx, requirePositional(positionals, 0, 'folder', DRIVE_USAGE));
      let principal: GrantPrincipal;
      let label: string;
      let levelArg: string | undefined;
      if (values.group !== undefined) {
        const group = await dir.findGroup(values.group);
        if (!group) throw new NotFoundError(`no group ${values.group}`);
        principal = { kind: 'group', id: group.id };
        label = `group ${group.name}`;
        levelArg = requirePositional(positionals, 1, 'access (read, write or none)', DRIVE_USAGE);
        noMorePositionals(positionals, 2, DRIVE_USAGE);
      } else {
        const account = await accountByAddress(ctx, requirePositional(positionals, 1, 'address (or --group GROUP)', DRIVE_USAGE));
        principal = { kind: 'account', id: account.id };
        label = account.address;
        levelArg = requirePositional(positionals, 2, 'access (read, write or none)', DRIVE_USAGE);
        noMorePositionals(positionals, 3, DRIVE_USAGE);
      }
      const level = access(levelArg, true);
      const current = (await drive.grantsOn([space.rootId])).filter((g) => !(g.principal.kind === principal.kind && g.principal.id === principal.id));
      const next = [...current.map((g) => ({ principal: g.principal, access: g.access })), ...(level === 'none' ? [] : [{ principal, access: level }])];
      await drive.setGrants(space.rootId, next);
      await audit(space.name, `${label}: ${level}`);
      io.out(`${label} now has ${level === 'none' ? 'no' : level} access to ${space.name}`);
      return 0;
    }
    case 'remove': {
      const { positionals } = parse(rest, {}, DRIVE_USAGE);
      const space = await folderByName(ctx, requirePositional(positionals, 0, 'folder', DRIVE_USAGE));
      noMorePositionals(positionals, 1, DRIVE_USAGE);
      await drive.removeSpace(space.id);
      await audit(space.name, 'group folder removed');
      io.out(`group folder ${space.name} removed (its files are collected by the next clean-up)`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${DRIVE_USAGE}`);
  }
}
