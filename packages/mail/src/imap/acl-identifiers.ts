import { NotFoundError, type AclGrantee, type DirectoryStore } from '@palabre/core';

/**
 * RFC 4314 identifiers as Palabre spells them: an account address (or one of its aliases),
 * `group:<name>` for a directory group, `anyone` (every authenticated user; `authenticated` is a
 * synonym). Shared by SETACL/GETACL and the `palabre mailbox` command.
 */
export const GROUP_PREFIX = 'group:';

export async function granteeOf(directory: DirectoryStore, identifier: string): Promise<AclGrantee> {
  const id = identifier.trim();
  const lower = id.toLowerCase();
  if (lower === 'anyone' || lower === 'authenticated') return { kind: 'anyone' };
  if (lower.startsWith(GROUP_PREFIX)) {
    const group = await directory.findGroup(id.slice(GROUP_PREFIX.length)).catch(() => null);
    if (!group) throw new NotFoundError('No such group');
    return { kind: 'group', id: group.id };
  }
  const target = await directory.resolveAddress(id).catch(() => null);
  if (target?.kind === 'account') return { kind: 'account', id: target.account.id };
  if (target?.kind === 'group') return { kind: 'group', id: target.group.id };
  throw new NotFoundError('No such user or group');
}

/** The identifier to show for a grantee, or null if it no longer exists. */
export async function identifierOf(directory: DirectoryStore, grantee: AclGrantee): Promise<string | null> {
  if (grantee.kind === 'anyone') return 'anyone';
  if (grantee.kind === 'group') {
    const group = await directory.getGroup(grantee.id).catch(() => null);
    return group ? GROUP_PREFIX + group.name : null;
  }
  const account = await directory.getAccount(grantee.id).catch(() => null);
  return account?.address ?? null;
}

export function sameGrantee(a: AclGrantee, b: AclGrantee): boolean {
  return a.kind === b.kind && (a.kind === 'anyone' || (b.kind !== 'anyone' && a.id === b.id));
}
