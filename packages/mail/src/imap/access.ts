import { ALL_RIGHTS, MAILBOX_DELIMITER, effectiveRights, normalizeMailboxName, parentNames, type Account, type Mailbox } from '@palabre/core';
import { type ImapError, no } from './errors.js';
import type { Session } from './session.js';

/**
 * Where a client-visible name points, and what the user may do there: the one place the IMAP server
 * decides access (RFC 4314). Personal mailboxes are the user's own; `Shared/<owner>/<name>` are other
 * accounts' mailboxes (functional addresses such as secretariat@…) shared by ACL with the user, one of
 * the user's directory groups, or anyone.
 */
export const SHARED_ROOT = 'Shared';

export interface Target {
  readonly shared: boolean;
  readonly ownerId: string;
  readonly ownerAddress: string;
  /** The name inside the owner's store. */
  readonly name: string;
  /** The name as the client sees it. */
  readonly path: string;
}

export interface Opened {
  readonly target: Target;
  readonly mailbox: Mailbox;
  readonly rights: string;
}

const accountCache = new WeakMap<Session, Map<string, Account | null>>();

async function accountByAddress(s: Session, address: string): Promise<Account | null> {
  let cache = accountCache.get(s);
  if (!cache) accountCache.set(s, (cache = new Map()));
  const key = address.toLowerCase();
  if (!cache.has(key)) {
    const account = await s.ctx.directory.findAccount(key).catch(() => null);
    if (cache.size > 256) cache.clear();
    cache.set(key, account);
  }
  return cache.get(key)!;
}

/** Whether a client name falls under the shared namespace (`Shared` itself included). */
export function isSharedPath(name: string): boolean {
  const first = name.split(MAILBOX_DELIMITER, 1)[0]!;
  return first.toLowerCase() === SHARED_ROOT.toLowerCase();
}

export function sharedPath(ownerAddress: string, name: string): string {
  return `${SHARED_ROOT}${MAILBOX_DELIMITER}${ownerAddress}${MAILBOX_DELIMITER}${name}`;
}

/**
 * Resolve a client name, for CREATE and RENAME (where a new mailbox would go) and for resolveTarget;
 * null for a name under `Shared/<owner>/` whose owner no account is: the caller refuses it exactly as
 * another account's namespace. The name is checked before the owner is looked up, so a malformed name
 * gets the same answer under every owner, existing or not.
 */
export async function resolveNewTarget(s: Session, clientName: string): Promise<Target | null> {
  const me = s.user;
  if (!isSharedPath(clientName)) {
    const name = normalizeName(clientName);
    return { shared: false, ownerId: me.accountId, ownerAddress: me.address, name, path: name };
  }
  const parts = clientName.split(MAILBOX_DELIMITER);
  if (parts.length < 3) throw no('NONEXISTENT', 'Not a mailbox (shared namespace level)');
  const name = normalizeName(parts.slice(2).join(MAILBOX_DELIMITER));
  const owner = await accountByAddress(s, parts[1]!);
  if (!owner) return null;
  if (owner.id === me.accountId) return { shared: false, ownerId: me.accountId, ownerAddress: me.address, name, path: name };
  return { shared: true, ownerId: owner.id, ownerAddress: owner.address, name, path: sharedPath(owner.address, name) };
}

/** Resolve a client name; NO [NONEXISTENT] for names that can never exist (unknown owner, namespace roots). */
export async function resolveTarget(s: Session, clientName: string): Promise<Target> {
  const target = await resolveNewTarget(s, clientName);
  if (!target) throw no('NONEXISTENT', 'No such mailbox');
  return target;
}

/**
 * The one refusal of a new mailbox in another account's namespace: the same words whether the owner,
 * the parent or the mailbox exists (RFC 4314 §6; Dovecot answers NO [NOPERM] Permission denied too).
 */
export function createRefused(): ImapError {
  return no('NOPERM', 'Permission denied');
}

/**
 * Creating under another account needs `k` on the nearest existing parent (RFC 4314 §4). Without it,
 * whether that parent exists, is hidden from the user or is missing, the answer is createRefused().
 * (Someone holding `k` may learn which names exist below: ALREADYEXISTS tells as much, in any server.)
 */
export async function checkCreateRight(s: Session, target: Target): Promise<void> {
  if (!target.shared) return;
  for (const p of parentNames(target.name).reverse()) {
    const parent = await s.store.getMailbox(target.ownerId, p);
    if (!parent) continue;
    if (!(await rightsOn(s, parent)).includes('k')) throw createRefused();
    return;
  }
  throw createRefused();
}

function normalizeName(name: string): string {
  try {
    return normalizeMailboxName(name);
  } catch (error) {
    throw no('CANNOT', (error as Error).message);
  }
}

/** The user's rights on a mailbox: every right on their own, the ACL's union otherwise. */
export async function rightsOn(s: Session, mailbox: Mailbox): Promise<string> {
  if (mailbox.accountId === s.user.accountId) return ALL_RIGHTS;
  return effectiveRights(mailbox.accountId, await s.store.getAcl(mailbox.id), s.user.accountId, s.groupIds);
}

/**
 * Open a mailbox for an operation needing `needed` rights. Without `l` or `r` the mailbox does not
 * exist as far as this user can tell (NONEXISTENT, never NOPERM, so names cannot be probed); with
 * them but short of `needed`, NO [NOPERM].
 */
export async function openMailbox(s: Session, clientName: string, needed: string): Promise<Opened> {
  const target = await resolveTarget(s, clientName);
  const mailbox = await s.store.getMailbox(target.ownerId, target.name);
  if (!mailbox) throw no('NONEXISTENT', 'No such mailbox');
  const rights = await rightsOn(s, mailbox);
  if (!rights.includes('l') && !rights.includes('r')) throw no('NONEXISTENT', 'No such mailbox');
  requireRights(rights, needed);
  return { target, mailbox, rights };
}

export function requireRights(rights: string, needed: string): void {
  for (const r of needed) if (!rights.includes(r)) throw no('NOPERM', `Permission denied (needs right "${r}")`);
}
