/** RFC 4314 ACL commands; identifiers are read by acl-identifiers.ts, rights checked in access.ts. */
import { ALL_RIGHTS, normalizeRights, type AclEntry } from '@palabre/core';
import { granteeOf, identifierOf, sameGrantee } from '../acl-identifiers.js';
import { imapString } from '../../mime/imap-strings.js';
import { openMailbox, rightsOn } from '../access.js';
import { AUTHENTICATED, defineCommand, mailboxArg, onlyMailbox } from '../command.js';
import { no } from '../errors.js';
import type { Session } from '../session.js';

function twoArgs(r: import('../arguments.js').ArgReader, s: Session) {
  const name = mailboxArg(r, s);
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
    const grantee = await granteeOf(s.ctx.directory, identifier);
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
    await s.store.setAcl(opened.mailbox.id, await granteeOf(s.ctx.directory, identifier), '');
  },
});

export const getaclCommand = defineCommand({
  name: 'GETACL',
  states: AUTHENTICATED,
  parse: onlyMailbox,
  async run(s, name) {
    const opened = await openMailbox(s, name, 'a');
    const owner = await s.ctx.directory.getAccount(opened.mailbox.accountId);
    const entries: string[] = [`${imapString(owner.address)} ${ALL_RIGHTS}`];
    for (const e of (await s.store.getAcl(opened.mailbox.id)) as AclEntry[]) {
      const id = await identifierOf(s.ctx.directory, e.grantee);
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
    const grantee = await granteeOf(s.ctx.directory, identifier);
    const isOwner = grantee.kind === 'account' && grantee.id === opened.mailbox.accountId;
    const optional = isOwner ? '' : ` ${[...ALL_RIGHTS].join(' ')}`;
    await s.untagged(`LISTRIGHTS ${s.encodeName(opened.target.path)} ${imapString(identifier)} ${isOwner ? ALL_RIGHTS : '""'}${optional}`);
  },
});

export const myrightsCommand = defineCommand({
  name: 'MYRIGHTS',
  states: AUTHENTICATED,
  parse: onlyMailbox,
  async run(s, name) {
    const opened = await openMailbox(s, name, '');
    await s.untagged(`MYRIGHTS ${s.encodeName(opened.target.path)} ${await rightsOn(s, opened.mailbox)}`);
  },
});
