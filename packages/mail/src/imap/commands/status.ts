import type { Mailbox, MailboxCounts } from '@palabre/core';
import type { ArgReader } from '../arguments.js';
import { openMailbox } from '../access.js';
import { AUTHENTICATED, defineCommand, mailboxArg } from '../command.js';
import { SyntaxError } from '../errors.js';
import type { Session } from '../session.js';

export const STATUS_ITEMS = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'DELETED-STORAGE', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'APPENDLIMIT'] as const;
export type StatusItem = (typeof STATUS_ITEMS)[number];

export function parseStatusItems(r: ArgReader): StatusItem[] {
  return r.list(() => {
    const item = r.atom('status item').toUpperCase();
    if (!(STATUS_ITEMS as readonly string[]).includes(item)) throw new SyntaxError(`Unknown status item ${item.slice(0, 20)}`);
    return item as StatusItem;
  }, { allowEmpty: false });
}

/** `* STATUS name (MESSAGES n …)` for one mailbox (STATUS and LIST-STATUS). */
export async function writeStatus(s: Session, mailbox: Mailbox, path: string, items: readonly StatusItem[], known?: MailboxCounts): Promise<void> {
  const needCounts = items.some((i) => i === 'MESSAGES' || i === 'UNSEEN' || i === 'DELETED' || i === 'DELETED-STORAGE' || i === 'SIZE' || i === 'RECENT');
  const counts = known ?? (needCounts ? await s.store.counts(mailbox.id, s.user.accountId) : null);
  const out: string[] = [];
  for (const item of new Set(items)) {
    switch (item) {
      case 'MESSAGES':
        out.push(`MESSAGES ${counts!.messages}`);
        break;
      case 'UIDNEXT':
        out.push(`UIDNEXT ${mailbox.uidNext}`);
        break;
      case 'UIDVALIDITY':
        out.push(`UIDVALIDITY ${mailbox.uidValidity}`);
        break;
      case 'UNSEEN':
        out.push(`UNSEEN ${counts!.unseen}`);
        break;
      case 'DELETED':
        out.push(`DELETED ${counts!.deleted}`);
        break;
      case 'DELETED-STORAGE':
        // RFC 9208 §4.3: in KiB, what EXPUNGE would give back to the STORAGE quota (counted the same way).
        out.push(`DELETED-STORAGE ${Math.ceil(counts!.deletedSize / 1024)}`);
        break;
      case 'SIZE':
        out.push(`SIZE ${counts!.size}`);
        break;
      case 'RECENT':
        out.push(`RECENT ${s.rev2 ? 0 : counts!.recent}`);
        break;
      case 'HIGHESTMODSEQ':
        out.push(`HIGHESTMODSEQ ${mailbox.highestModseq}`);
        break;
      case 'APPENDLIMIT':
        out.push(`APPENDLIMIT ${s.ctx.limits.maxMessageBytes}`);
        break;
    }
  }
  await s.untagged(`STATUS ${s.encodeName(path)} (${out.join(' ')})`);
}

export const statusCommand = defineCommand({
  name: 'STATUS',
  states: AUTHENTICATED,
  parse(r, s) {
    const name = mailboxArg(r, s);
    r.sp();
    const items = parseStatusItems(r);
    r.end();
    return { name, items };
  },
  async run(s, { name, items }) {
    const opened = await openMailbox(s, name, 'r');
    if (items.includes('HIGHESTMODSEQ')) s.condstore = true;
    const fresh = await s.store.getMailboxById(opened.mailbox.id);
    await writeStatus(s, fresh, opened.target.path, items);
  },
});
