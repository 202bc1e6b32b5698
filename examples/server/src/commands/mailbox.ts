import { effectiveRights, normalizeRights, type MailStore } from '@palabre/core';
import { SqlMailStore } from '@palabre/core/storage';
import { aclGranteeOf, aclIdentifierOf } from '@palabre/mail';
import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { accountByAddress } from './shared.js';
import { MAILBOX_USAGE } from './usage.js';


/**
 * Mailboxes of an account and who they are shared with (RFC 4314 rights, as IMAP SETACL sets them):
 * how an administrator gives a functional address such as secretariat@… to a group, whose members
 * then find it in their mail app under Shared/secretariat@…/INBOX, each with their own read state.
 */
export async function mailboxCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const { positionals } = parse(rest, {}, MAILBOX_USAGE);
  const store: MailStore = new SqlMailStore(ctx.db, { blobs: ctx.blobs.mail, usage: ctx.stores.usage, notifier: await ctx.notifier(), logger: ctx.logger });
  const dir = ctx.stores.directory;
  switch (sub) {
    case 'list': {
      const account = await accountByAddress(ctx, requirePositional(positionals, 0, 'account address', MAILBOX_USAGE));
      noMorePositionals(positionals, 1, MAILBOX_USAGE);
      const rows: string[][] = [];
      for (const m of (await store.ensureMailboxes(account.id)).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const counts = await store.counts(m.id, account.id);
        const acl = await store.getAcl(m.id);
        const shared = (await Promise.all(acl.map(async (e) => `${(await aclIdentifierOf(dir, e.grantee)) ?? '?'}:${e.rights}`))).join(' ');
        rows.push([m.name, m.specialUse ?? '', String(counts.messages), String(counts.unseen), shared]);
      }
      for (const line of table(rows, ['MAILBOX', 'USE', 'MESSAGES', 'UNSEEN', 'SHARED WITH'])) io.out(line);
      return 0;
    }
    case 'share':
    case 'unshare': {
      const account = await accountByAddress(ctx, requirePositional(positionals, 0, 'account address', MAILBOX_USAGE));
      const name = requirePositional(positionals, 1, 'mailbox', MAILBOX_USAGE);
      const identifier = requirePositional(positionals, 2, 'identifier', MAILBOX_USAGE);
      const rights = sub === 'share' ? requirePositional(positionals, 3, 'rights', MAILBOX_USAGE) : '';
      noMorePositionals(positionals, sub === 'share' ? 4 : 3, MAILBOX_USAGE);
      await store.ensureMailboxes(account.id);
      const mailbox = await store.getMailbox(account.id, name);
      if (!mailbox) throw new UsageError(`${account.address} has no mailbox ${name}`);
      let normal: string;
      try {
        normal = normalizeRights(rights);
      } catch {
        throw new UsageError('rights are letters among l r s w i p k x t e a (RFC 4314), e.g. lrswite');
      }
      const grantee = await aclGranteeOf(dir, identifier);
      if (grantee.kind === 'account' && grantee.id === account.id) throw new UsageError('the owner always has every right');
      await store.setAcl(mailbox.id, grantee, normal);
      await ctx.stores.audit.record({ type: 'mailbox.shared', actor: 'cli', ip: null, protocol: 'cli', target: `${account.address}/${mailbox.name}`, detail: `${identifier} ${normal || 'none'}`.slice(0, 500) });
      const effective = grantee.kind === 'account' ? effectiveRights(account.id, await store.getAcl(mailbox.id), grantee.id, []) : normal;
      io.out(normal ? `${identifier} now has "${effective}" on ${account.address}/${mailbox.name} (Shared/${account.address}/${mailbox.name} in mail apps)` : `${identifier} no longer has access to ${account.address}/${mailbox.name}`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${MAILBOX_USAGE}`);
  }
}
