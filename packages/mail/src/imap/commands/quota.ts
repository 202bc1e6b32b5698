import { imapString } from '../../mime/imap-strings.js';
import { openMailbox } from '../access.js';
import { AUTHENTICATED, defineCommand, onlyMailbox } from '../command.js';
import { no } from '../errors.js';
import type { Session } from '../session.js';

/**
 * RFC 9208 QUOTA with the STORAGE resource (KiB). One quota root per account, named "": drive and
 * mail share it. Mailboxes of other accounts have no quota root visible to the user (their owner's
 * usage is theirs). SETQUOTA belongs to administrators (the CLI).
 */
const ROOT = '';

async function quotaLine(s: Session): Promise<string> {
  const q = await s.store.quota(s.user.accountId);
  const used = Math.ceil(q.usedBytes / 1024);
  return q.limitBytes === null ? `QUOTA ${imapString(ROOT)} ()` : `QUOTA ${imapString(ROOT)} (STORAGE ${used} ${Math.floor(q.limitBytes / 1024)})`;
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
    r.list(() => {
      r.atom('resource');
      r.sp();
      return r.number('limit');
    });
    r.end();
  },
  async run() {
    throw no('NOPERM', 'Quotas are set by administrators');
  },
});
