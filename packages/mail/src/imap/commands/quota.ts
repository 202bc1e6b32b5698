import { imapString } from '../../mime/imap-strings.js';
import { openMailbox } from '../access.js';
import { AUTHENTICATED, defineCommand, onlyMailbox } from '../command.js';
import { no } from '../errors.js';
import type { Session } from '../session.js';

/**
 * RFC 9208 QUOTA with the STORAGE (KiB, drive and mail together), MESSAGE and MAILBOX resources. One
 * quota root per account, named "": every resource of the account counts against it. Mailboxes of
 * other accounts have no quota root visible to the user (their owner's usage is theirs). Limits are
 * set by administrators (`palabre user quota`); SETQUOTA is refused to every IMAP user, so QUOTASET
 * is not advertised (§3.2).
 */
const ROOT = '';

/** RFC 9208 §4.2.1: each resource that has a limit, with its usage; an unlimited account lists none. */
async function quotaLine(s: Session): Promise<string> {
  const q = await s.store.quota(s.user.accountId);
  const resources: string[] = [];
  if (q.limitBytes !== null) resources.push(`STORAGE ${Math.ceil(q.usedBytes / 1024)} ${Math.floor(q.limitBytes / 1024)}`);
  if (q.limitMessages !== null) resources.push(`MESSAGE ${q.messages} ${q.limitMessages}`);
  if (q.limitMailboxes !== null) resources.push(`MAILBOX ${q.mailboxes} ${q.limitMailboxes}`);
  return `QUOTA ${imapString(ROOT)} (${resources.join(' ')})`;
}

export const getquotarootCommand = defineCommand({
  name: 'GETQUOTAROOT',
  states: AUTHENTICATED,
  parse: onlyMailbox,
  async run(s, name) {
    const opened = await openMailbox(s, name, '');
    if (opened.target.shared) {
      await s.untagged(`QUOTAROOT ${s.encodeName(opened.target.path)}`);
      return;
    }
    await s.untagged(`QUOTAROOT ${s.encodeName(opened.target.path)} ${imapString(ROOT)}`);
    await s.untagged(await quotaLine(s));
  },
});

export const getquotaCommand = defineCommand({
  name: 'GETQUOTA',
  states: AUTHENTICATED,
  parse(r) {
    r.sp();
    const root = r.astring('quota root');
    r.end();
    return root;
  },
  async run(s, root) {
    if (root !== ROOT) throw no('NONEXISTENT', 'No such quota root');
    await s.untagged(await quotaLine(s));
  },
});

export const setquotaCommand = defineCommand({
  name: 'SETQUOTA',
  states: AUTHENTICATED,
  parse(r) {
    r.sp();
    r.astring('quota root');
    r.sp();
    // setquota-list (§6): "(" [resource-name SP number64 *(SP …)] ")"; an empty list removes limits.
    r.list(() => {
      r.atom('resource name');
      r.sp();
      return r.number('resource limit');
    });
    r.end();
  },
  async run() {
    // No IMAP user administers quotas: refused whatever the root, nothing read or changed (§4.1.3).
    throw no('NOPERM', 'Quotas are set by administrators');
  },
});
