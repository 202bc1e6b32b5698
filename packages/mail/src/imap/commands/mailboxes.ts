import { MAILBOX_DELIMITER, isPalabreError, isSpecialUse, type SpecialUse } from '@palabre/core';
import { checkCreateRight, createRefused, isSharedPath, openMailbox, resolveNewTarget, resolveTarget } from '../access.js';
import { AUTHENTICATED, defineCommand, mailboxArg, onlyMailbox } from '../command.js';
import { SyntaxError, no } from '../errors.js';

export const createCommand = defineCommand({
  name: 'CREATE',
  states: AUTHENTICATED,
  parse(r, s) {
    let name = mailboxArg(r, s);
    let specialUse: SpecialUse | null = null;
    if (r.maybeSp()) {
      // RFC 6154 CREATE-SPECIAL-USE: (USE (\Drafts))
      r.list(() => {
        if (r.atom('create parameter').toUpperCase() !== 'USE') throw new SyntaxError('Unknown CREATE parameter');
        r.sp();
        const uses = r.list(() => r.flag());
        if (uses.length > 1) throw no('USEATTR', 'One special use per mailbox');
        const use = uses[0] ?? null;
        if (use !== null) {
          const canonical = use[0] + use[1]!.toUpperCase() + use.slice(2).toLowerCase();
          if (!isSpecialUse(canonical)) throw no('USEATTR', 'Unknown special-use attribute');
          specialUse = canonical;
        }
      }, { allowEmpty: false });
    }
    r.end();
    // A trailing delimiter only says children may follow (RFC 9051 §6.3.4).
    if (name.endsWith(MAILBOX_DELIMITER)) name = name.replace(/\/+$/, '');
    return { name, specialUse };
  },
  async run(s, { name, specialUse }) {
    if (!name) throw no('CANNOT', 'Empty mailbox name');
    if (isSharedPath(name) && name.split(MAILBOX_DELIMITER).length < 3) throw no('CANNOT', `${name.split(MAILBOX_DELIMITER)[0]} is reserved for shared mailboxes`);
    const target = await resolveNewTarget(s, name);
    if (!target) throw createRefused();
    if (!target.shared && target.name === 'INBOX') throw no('ALREADYEXISTS', 'INBOX always exists');
    await checkCreateRight(s, target);
    try {
      await s.store.createMailbox(target.ownerId, target.name, { specialUse });
    } catch (error) {
      if (isPalabreError(error, 'conflict')) throw no('ALREADYEXISTS', 'Mailbox already exists');
      if (isPalabreError(error, 'quota')) throw no('OVERQUOTA', 'Mailbox count limit reached');
      throw error;
    }
  },
});

export const deleteCommand = defineCommand({
  name: 'DELETE',
  states: AUTHENTICATED,
  parse: onlyMailbox,
  async run(s, name) {
    const opened = await openMailbox(s, name, 'x');
    if (opened.mailbox.name === 'INBOX') throw no('CANNOT', 'INBOX cannot be deleted');
    try {
      await s.store.deleteMailbox(opened.mailbox.id);
      // RFC 5464 §3.2: its entries go with it (a later mailbox of the same name starts empty).
      await s.ctx.metadata?.deleteMailbox(opened.mailbox.id);
    } catch (error) {
      if (isPalabreError(error, 'conflict') && error.detail?.reason === 'has-children') throw no('HASCHILDREN', 'Delete the mailboxes inside it first');
      throw error;
    }
  },
});

export const renameCommand = defineCommand({
  name: 'RENAME',
  states: AUTHENTICATED,
  parse(r, s) {
    const from = mailboxArg(r, s);
    const to = mailboxArg(r, s).replace(/\/+$/, '');
    r.end();
    return { from, to };
  },
  async run(s, { from, to }) {
    const opened = await openMailbox(s, from, 'x');
    if (isSharedPath(to) && to.split(MAILBOX_DELIMITER).length < 3) throw no('CANNOT', 'That name is reserved for shared mailboxes');
    const target = await resolveNewTarget(s, to);
    // An owner that does not exist is "another account" too: the answer does not tell.
    if (!target || target.ownerId !== opened.mailbox.accountId) throw no('CANNOT', 'Cannot move a mailbox to another account');
    await checkCreateRight(s, target);
    try {
      await s.store.renameMailbox(opened.mailbox.id, target.name);
    } catch (error) {
      if (isPalabreError(error, 'conflict')) throw no('ALREADYEXISTS', 'A mailbox with that name exists');
      if (isPalabreError(error, 'quota')) throw no('OVERQUOTA', 'Mailbox count limit reached');
      throw error;
    }
    if (s.selected?.id === opened.mailbox.id && opened.mailbox.name !== 'INBOX') s.selected.path = target.path;
  },
});

function subscription(subscribe: boolean) {
  return defineCommand({
    name: subscribe ? 'SUBSCRIBE' : 'UNSUBSCRIBE',
    states: AUTHENTICATED,
    parse: onlyMailbox,
    async run(s, name) {
      const target = await resolveTarget(s, name).catch((error: unknown) => {
        // Unsubscribing from something that no longer resolves must still work.
        if (!subscribe) return null;
        throw error;
      });
      const path = target?.path ?? name;
      if (subscribe) {
        if (target?.shared) await openMailbox(s, name, 'l');
        await s.store.subscribe(s.user.accountId, path);
      } else await s.store.unsubscribe(s.user.accountId, path);
    },
  });
}

export const subscribeCommand = subscription(true);
export const unsubscribeCommand = subscription(false);
