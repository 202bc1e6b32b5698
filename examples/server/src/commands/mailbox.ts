import { createAdministration, CLI_ACTOR } from '@palabre/auth';
import { isPalabreError, type MailStore } from '@palabre/core';
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
      const address = requirePositional(positionals, 0, 'account address', MAILBOX_USAGE);
      const name = requirePositional(positionals, 1, 'mailbox', MAILBOX_USAGE);
      const identifier = requirePositional(positionals, 2, 'identifier', MAILBOX_USAGE);
      const rights = sub === 'share' ? requirePositional(positionals, 3, 'rights', MAILBOX_USAGE) : '';
      noMorePositionals(positionals, sub === 'share' ? 4 : 3, MAILBOX_USAGE);
      const admin = createAdministration({ directory: dir, audit: ctx.stores.audit, credentials: ctx.credentials, mail: store });
      const grantee = await aclGranteeOf(dir, identifier);
      const shared = await admin.shareMailbox(CLI_ACTOR, { address, mailbox: name, grantee, identifier, rights }).catch((error: unknown) => {
        // A mistyped mailbox, right or grantee is a usage mistake here (exit 2), as it always was.
        const field = isPalabreError(error) ? error.detail?.field : undefined;
        throw field === 'rights' || field === 'mailbox' || field === 'grantee' ? new UsageError((error as Error).message) : error;
      });
      const where = `${shared.account.address}/${shared.mailbox.name}`;
      io.out(shared.rights ? `${identifier} now has "${shared.effective}" on ${where} (Shared/${where} in mail apps)` : `${identifier} no longer has access to ${where}`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${MAILBOX_USAGE}`);
  }
}
