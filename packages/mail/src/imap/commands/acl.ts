import { ALL_RIGHTS, normalizeRights, type AclEntry, type AclGrantee } from '@palabre/core';
import { imapString } from '../../mime/imap-strings.js';
import { openMailbox, rightsOn } from '../access.js';
import { AUTHENTICATED, defineCommand } from '../command.js';
import { no } from '../errors.js';
import type { Session } from '../session.js';

/**
 * RFC 4314 ACL. Identifiers: an account address, `group:<name>` for a directory group, `anyone`
 * (every authenticated user; `authenticated` is a synonym). The owner always holds every right.
 */
const GROUP_PREFIX = 'group:';

async function granteeOf(s: Session, identifier: string): Promise<AclGrantee> {
  const id = identifier.trim();
  const lower = id.toLowerCase();
  if (lower === 'anyone' || lower === 'authenticated') return { kind: 'anyone' };
  if (lower.startsWith(GROUP_PREFIX)) {
    const group = await s.ctx.directory.findGroup(id.slice(GROUP_PREFIX.length)).catch(() => null);
    if (!group) throw no('NONEXISTENT', 'No such group');
    return { kind: 'group', id: group.id };
  }
  const target = await s.ctx.directory.resolveAddress(id).catch(() => null);
  if (target?.kind === 'account') return { kind: 'account', id: target.account.id };
  if (target?.kind === 'group') return { kind: 'group', id: target.group.id };
  throw no('NONEXISTENT', 'No such user or group');
}

async function identifierOf(s: Session, grantee: AclGrantee): Promise<string | null> {
  if (grantee.kind === 'anyone') return 'anyone';
  if (grantee.kind === 'group') {
    const group = await s.ctx.directory.getGroup(grantee.id).catch(() => null);
    return group ? GROUP_PREFIX + group.name : null;
  }
  const account = await s.ctx.directory.getAccount(grantee.id).catch(() => null);
  return account?.address ?? null;
}

function twoArgs(r: import('../arguments.js').ArgReader, s: Session) {
  r.sp();
  const name = s.decodeName(r.astringBytes('mailbox'));
  r.sp();
  const identifier = r.astring('identifier');
  return { name, identifier };
}

export const setaclCommand = defineCommand({
  name: 'SETACL',
  states: AUTHENTICATED,
  parse(r, s) {
    const { name, identifier } = twoArgs(r, s);
    r.sp();
    const rights = r.astring('rights');
    r.end();
    return { name, identifier, rights };
  },
  async run(s, { name, identifier, rights }) {
    const opened = await openMailbox(s, name, 'a');
    if (identifier.startsWith('-')) throw no('CANNOT', 'Negative rights are not supported');
    const grantee = await granteeOf(s, identifier);
    if (grantee.kind === 'account' && grantee.id === opened.mailbox.accountId) throw no('CANNOT', 'The owner always has every right');
    const mode = rights.startsWith('+') ? 'add' : rights.startsWith('-') ? 'remove' : 'set';
    let wanted: string;
    try {
      wanted = normalizeRights(mode === 'set' ? rights : rights.slice(1));
    } catch {
      throw no('INVALID', 'Unknown right');
    }
    const acl = await s.store.getAcl(opened.mailbox.id);
    const current = acl.find((e) => sameGrantee(e.grantee, grantee))?.rights ?? '';
    const next = mode === 'set' ? wanted : mode === 'add' ? normalizeRights(current + wanted) : [...current].filter((r) => !wanted.includes(r)).join('');
    await s.store.setAcl(opened.mailbox.id, grantee, next);
    s.log.info({ mailboxId: opened.mailbox.id, grantee: grantee.kind, rights: next }, 'imap.acl-changed');
  },
});

function sameGrantee(a: AclGrantee, b: AclGrantee): boolean {
  return a.kind === b.kind && (a.kind === 'anyone' || (b.kind !== 'anyone' && a.id === b.id));
}

export const deleteaclCommand = defineCommand({
  name: 'DELETEACL',
  states: AUTHENTICATED,
  parse(r, s) {
    const args = twoArgs(r, s);
    r.end();
    return args;
  },
  async run(s, { name, identifier }) {
    const opened = await openMailbox(s, name, 'a');
    await s.store.setAcl(opened.mailbox.id, await granteeOf(s, identifier), '');
  },
});

export const getaclCommand = defineCommand({
  name: 'GETACL',
  states: AUTHENTICATED,
  parse(r, s) {
    r.sp();
    const name = s.decodeName(r.astringBytes('mailbox'));
    r.end();
    return name;
  },
  async run(s, name) {
    const opened = await openMailbox(s, name, 'a');
    const owner = await s.ctx.directory.getAccount(opened.mailbox.accountId);
    const entries: string[] = [`${imapString(owner.address)} ${ALL_RIGHTS}`];
    for (const e of (await s.store.getAcl(opened.mailbox.id)) as AclEntry[]) {
      const id = await identifierOf(s, e.grantee);
      if (id) entries.push(`${imapString(id)} ${e.rights}`);
    }
    await s.untagged(`ACL ${s.encodeName(opened.target.path)} ${entries.join(' ')}`);
  },
});

export const listrightsCommand = defineCommand({
  name: 'LISTRIGHTS',
  states: AUTHENTICATED,
  parse(r, s) {
    const args = twoArgs(r, s);
    r.end();
    return args;
  },
  async run(s, { name, identifier }) {
    const opened = await openMailbox(s, name, 'a');
    const grantee = await granteeOf(s, identifier);
    const isOwner = grantee.kind === 'account' && grantee.id === opened.mailbox.accountId;
    const optional = isOwner ? '' : ` ${[...ALL_RIGHTS].join(' ')}`;
    await s.untagged(`LISTRIGHTS ${s.encodeName(opened.target.path)} ${imapString(identifier)} ${isOwner ? ALL_RIGHTS : '""'}${optional}`);
  },
});

export const myrightsCommand = defineCommand({
  name: 'MYRIGHTS',
  states: AUTHENTICATED,
  parse(r, s) {
    r.sp();
    const name = s.decodeName(r.astringBytes('mailbox'));
    r.end();
    return name;
  },
  async run(s, name) {
    const opened = await openMailbox(s, name, '');
    await s.untagged(`MYRIGHTS ${s.encodeName(opened.target.path)} ${await rightsOn(s, opened.mailbox)}`);
  },
});
