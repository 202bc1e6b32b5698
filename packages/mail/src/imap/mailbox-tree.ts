import { MAILBOX_DELIMITER, type Mailbox, type SpecialUse } from '@palabre/core';
import { SHARED_ROOT, sharedPath } from './access.js';
import type { Session } from './session.js';

/** One name of the user's visible hierarchy, real or a placeholder level. */
export interface TreeEntry {
  readonly path: string;
  readonly mailbox: Mailbox | null;
  readonly specialUse: SpecialUse | null;
  /** RFC 4314 rights for real mailboxes. */
  readonly rights: string;
}

/**
 * Everything the user can see: their own mailboxes, mailboxes shared with them (needing the `l`
 * right) under `Shared/<owner>/…`, and the namespace levels above those as \Noselect placeholders.
 */
export async function visibleTree(s: Session): Promise<Map<string, TreeEntry>> {
  const me = s.user;
  const tree = new Map<string, TreeEntry>();
  for (const m of await s.store.listMailboxes(me.accountId)) tree.set(m.name, { path: m.name, mailbox: m, specialUse: m.specialUse, rights: 'lrswipkxtea' });
  const shared = await s.store.listSharedMailboxes(me.accountId, s.groupIds);
  const owners = new Map<string, string | null>();
  for (const { mailbox, rights } of shared) {
    if (!rights.includes('l')) continue;
    if (!owners.has(mailbox.accountId)) owners.set(mailbox.accountId, (await s.ctx.directory.getAccount(mailbox.accountId).catch(() => null))?.address ?? null);
    const owner = owners.get(mailbox.accountId);
    if (!owner) continue;
    const path = sharedPath(owner, mailbox.name);
    tree.set(path, { path, mailbox, specialUse: null, rights });
  }
  // Levels nobody can select: `Shared`, `Shared/<owner>`, and parents hidden by the ACL.
  for (const path of [...tree.keys()]) {
    const parts = path.split(MAILBOX_DELIMITER);
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join(MAILBOX_DELIMITER);
      if (!tree.has(parent)) tree.set(parent, { path: parent, mailbox: null, specialUse: null, rights: '' });
    }
  }
  return tree;
}

export function hasChildren(tree: ReadonlyMap<string, TreeEntry>, path: string): boolean {
  const prefix = path + MAILBOX_DELIMITER;
  for (const p of tree.keys()) if (p.startsWith(prefix)) return true;
  return false;
}

/** RFC 9051 §6.3.9 pattern: `*` matches anything, `%` anything but the delimiter; INBOX in any case. */
export function patternMatcher(pattern: string): (name: string) => boolean {
  let canonical = pattern;
  if (/^inbox(?=$|\/)/i.test(canonical)) canonical = 'INBOX' + canonical.slice(5);
  const body = [...canonical]
    .map((c) => (c === '*' ? '.*' : c === '%' ? '[^/]*' : c.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${body}$`, 'su');
  return (name) => re.test(name);
}

/** reference + pattern as RFC 9051 §6.3.9 combines them. */
export function combine(reference: string, pattern: string): string {
  if (!reference) return pattern;
  if (pattern.startsWith(MAILBOX_DELIMITER)) return pattern;
  return reference.endsWith(MAILBOX_DELIMITER) ? reference + pattern : `${reference}${MAILBOX_DELIMITER}${pattern}`;
}

export { SHARED_ROOT };
