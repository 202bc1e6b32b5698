import type { Account, DirectoryStore, Group, ShareGrantee } from '@palabre/core';
import { findVisibleAccount, findVisibleGroup, type DavContext } from '@palabre/webdav';

/** Someone a collection is shared with or a home delegated to, as the caller named them and as the directory knows them. */
export type Grantee =
  | { readonly kind: 'account'; readonly account: Account }
  | { readonly kind: 'group'; readonly group: Group };

/** Longest href a sharee or a proxy member may be named by (an address is at most 254 octets). */
const MAX_HREF = 1024;

export const granteeRef = (g: Grantee): ShareGrantee => (g.kind === 'account' ? { kind: 'account', id: g.account.id } : { kind: 'group', id: g.group.id });

/**
 * A sharee or a calendar-proxy member named by a client: `mailto:` an address (an alias or a group's
 * list address too, through the directory), or the URL of a user or group principal. Only principals the
 * caller may see count (their own domain: findVisibleAccount/findVisibleGroup), so an agent of another
 * ministry is answered as no one at all, exactly as an address nobody has.
 */
export async function resolveGrantee(ctx: DavContext, directory: DirectoryStore, href: string): Promise<Grantee | null> {
  const text = href.trim();
  if (!text || text.length > MAX_HREF) return null;
  if (/^mailto:/i.test(text)) {
    let address: string;
    try {
      address = decodeURIComponent(text.slice(7)).trim();
    } catch {
      return null;
    }
    if (!address.includes('@')) return null;
    const target = await directory.resolveAddress(address).catch(() => null);
    if (!target) return null;
    if (target.kind === 'account') {
      const account = await findVisibleAccount(directory, ctx, target.account.address);
      return account ? { kind: 'account', account } : null;
    }
    const group = await findVisibleGroup(directory, ctx, target.group.name);
    return group ? { kind: 'group', group } : null;
  }
  let path;
  try {
    path = ctx.dav.pathOf(text);
  } catch {
    return null;
  }
  if (!path) return null;
  const principals = ctx.dav.principals;
  const [kind, name] = path.segments.slice(principals.collection().segments.length);
  if (path.segments.length !== principals.collection().segments.length + 2 || name === undefined) return null;
  if (principals.collection().segments.some((s, i) => path.segments[i] !== s)) return null;
  if (kind === 'users') {
    const account = await findVisibleAccount(directory, ctx, name);
    return account ? { kind: 'account', account } : null;
  }
  if (kind === 'groups') {
    const group = await findVisibleGroup(directory, ctx, name);
    return group ? { kind: 'group', group } : null;
  }
  return null;
}

/** A stored grantee back as the directory knows it; null when it went away meanwhile. */
export async function granteeOf(directory: DirectoryStore, ref: ShareGrantee): Promise<Grantee | null> {
  if (ref.kind === 'account') {
    const account = await directory.getAccount(ref.id).catch(() => null);
    return account ? { kind: 'account', account } : null;
  }
  const group = await directory.getGroup(ref.id).catch(() => null);
  return group ? { kind: 'group', group } : null;
}

/** A grantee's principal URL (DAV:href in invites and group-member-set). */
export function granteePrincipalHref(ctx: DavContext, g: Grantee): string {
  return ctx.dav.href(g.kind === 'account' ? ctx.dav.principals.user(g.account.address) : ctx.dav.principals.group(g.group.name), true);
}

/** How Apple clients name a sharee in CS:invite: its address when it has one. */
export function granteeMailto(ctx: DavContext, g: Grantee): string {
  if (g.kind === 'account') return `mailto:${g.account.address}`;
  return g.group.address ? `mailto:${g.group.address}` : granteePrincipalHref(ctx, g);
}

export const granteeName = (g: Grantee): string => (g.kind === 'account' ? g.account.displayName : (g.group.description ?? g.group.name));
