import type { Account, DirectoryStore, Group } from '@palabre/core';
import type { DavPluginHost, DavPlugin } from './plugin.js';
import { DAV } from './errors.js';
import { canonicalAddress, davPath, type DavPath } from './href.js';
import { hrefXml } from './multistatus.js';
import { setupPrincipalReports } from './principal-reports.js';
import { virtualCollection, type DavBackend, type DavContext, type DavLookup, type DavResource } from './resource.js';

export const PRINCIPALS = 'principals';

interface PrincipalData {
  readonly kind: 'principal';
  readonly account?: Account;
  readonly group?: Group;
}

/**
 * Whom a user may see through DAV: the active accounts and the groups of their own domain, and the groups
 * they belong to. Anyone else is answered exactly as no one at all (404 here, DAV:recognized-principal in
 * an ACL), so DAV never tells an outsider which accounts exist. Every lookup of a principal by name goes
 * through these two.
 */
export async function findVisibleAccount(directory: DirectoryStore, ctx: DavContext, address: string): Promise<Account | null> {
  const account = await directory.findAccount(address).catch(() => null);
  if (!account || account.status !== 'active' || account.domainId !== ctx.principal.domainId) return null;
  return account;
}

export async function findVisibleGroup(directory: DirectoryStore, ctx: DavContext, name: string): Promise<Group | null> {
  const group = await directory.findGroup(name).catch(() => null);
  if (!group) return null;
  if (group.domainId === ctx.principal.domainId) return group;
  return (await directory.groupsOfAccount(ctx.principal.accountId)).some((g) => g.id === group.id) ? group : null;
}

/**
 * Principals (RFC 3744 §2): `/principals/users/<address>/` and `/principals/groups/<name>/`, read-only,
 * named by ACLs, `DAV:owner` and `DAV:current-user-principal` (RFC 5397). Listing users shows only
 * yourself: the directory of 70,000 staff is not browsable through DAV; looking one up by name finds only
 * the principals you may see (findVisibleAccount).
 */
export class PrincipalsBackend implements DavBackend {
  constructor(private readonly directory: DirectoryStore) {}

  private collection(segments: string[]): DavResource {
    return virtualCollection(davPath(segments), this, { kind: 'principal' } satisfies PrincipalData);
  }

  private user(account: Account): DavResource {
    return {
      ...this.collection([PRINCIPALS, 'users', account.address]),
      displayName: account.displayName,
      resourceTypes: [`{${DAV}}principal`],
      data: { kind: 'principal', account } satisfies PrincipalData,
    };
  }

  private group(group: Group): DavResource {
    return {
      ...this.collection([PRINCIPALS, 'groups', group.name]),
      displayName: group.description ?? group.name,
      resourceTypes: [`{${DAV}}principal`],
      data: { kind: 'principal', group } satisfies PrincipalData,
    };
  }

  /** `/principals/users/<address>/` names one account whatever the address's spelling. */
  canonical(path: DavPath): DavPath {
    const [top, kind, name, ...more] = path.segments;
    if (kind !== 'users' || name === undefined) return path;
    const canonical = canonicalAddress(name);
    return canonical === name ? path : davPath([top!, kind, canonical, ...more]);
  }

  async lookup(ctx: DavContext, path: DavPath): Promise<DavLookup> {
    const [, kind, name, ...more] = path.segments;
    if (kind === undefined) return { resource: this.collection([PRINCIPALS]), parent: null };
    if (kind !== 'users' && kind !== 'groups') return { resource: null, parent: null };
    const parent = this.collection([PRINCIPALS, kind]);
    if (name === undefined) return { resource: parent, parent: this.collection([PRINCIPALS]) };
    if (kind === 'users') {
      const account = await findVisibleAccount(this.directory, ctx, name);
      if (!more.length) return { resource: account ? this.user(account) : null, parent };
      if (!account || more.length > 1) return { resource: null, parent: null };
      return { resource: await this.child(ctx, account, more[0]!), parent: this.user(account) };
    }
    if (more.length) return { resource: null, parent: null };
    const group = await findVisibleGroup(this.directory, ctx, name);
    return { resource: group ? this.group(group) : null, parent };
  }

  /** A plugin's child principal of a user (calendar-proxy-write…). */
  private async child(ctx: DavContext, account: Account, name: string): Promise<DavResource | null> {
    const extension = ctx.dav.principalExtensions.find((e) => e.children?.includes(name));
    return (await extension?.child?.(ctx, account, name)) ?? null;
  }

  async members(ctx: DavContext, collection: DavResource): Promise<DavResource[]> {
    const [, kind, name, ...more] = collection.path.segments;
    if (kind === 'users' && name !== undefined && !more.length) {
      const account = (collection.data as PrincipalData | undefined)?.account;
      if (!account) return [];
      const out: DavResource[] = [];
      for (const e of ctx.dav.principalExtensions) for (const c of e.children ?? []) {
        const r = await e.child?.(ctx, account, c);
        if (r) out.push(r);
      }
      return out;
    }
    if (name !== undefined) return [];
    if (kind === undefined) return [this.collection([PRINCIPALS, 'users']), this.collection([PRINCIPALS, 'groups'])];
    if (kind === 'users') {
      const me = await this.directory.getAccount(ctx.principal.accountId).catch(() => null);
      return me ? [this.user(me)] : [];
    }
    return (await this.directory.groupsOfAccount(ctx.principal.accountId)).map((g) => this.group(g));
  }
}

/** Principal properties: principal-URL, alternate-URI-set, group-membership, group-member-set. */
export function principalsPlugin(options: { directory: DirectoryStore }): DavPlugin {
  return {
    name: 'principals',
    setup(host: DavPluginHost) {
      const backend = new PrincipalsBackend(options.directory);
      host.mount(PRINCIPALS, backend);
      const data = (r: DavResource) => (r.backend === backend ? (r.data as PrincipalData) : undefined);
      const appliesTo = (r: DavResource) => r.backend === backend;
      setupPrincipalReports(host, options.directory, (r) => r.path.segments[0] === PRINCIPALS);
      host.addProperty({
        name: `{${DAV}}principal-URL`,
        appliesTo,
        get: (ctx, r) => (data(r)?.account || data(r)?.group ? { xml: hrefXml(ctx.dav.hrefOf(r)) } : undefined),
      });
      host.addProperty({
        name: `{${DAV}}alternate-URI-set`,
        appliesTo,
        get: (_c, r) => {
          const d = data(r);
          if (d?.account) return { xml: hrefXml(`mailto:${d.account.address}`) };
          if (d?.group) return { xml: d.group.address ? hrefXml(`mailto:${d.group.address}`) : '' };
          return undefined;
        },
      });
      host.addProperty({
        name: `{${DAV}}group-membership`,
        appliesTo,
        get: async (ctx, r) => {
          const account = data(r)?.account;
          if (!account) return undefined;
          if (account.id !== ctx.principal.accountId) return { xml: '' };
          const groups = await options.directory.groupsOfAccount(account.id);
          const paths = groups.map((g) => ctx.dav.principals.group(g.name));
          for (const e of ctx.dav.principalExtensions) if (e.membershipsOf) paths.push(...(await e.membershipsOf(ctx, account)));
          return { xml: paths.map((p) => hrefXml(ctx.dav.href(p, true))).join('') };
        },
      });
      host.addProperty({
        name: `{${DAV}}group-member-set`,
        appliesTo,
        get: async (ctx, r) => {
          const group = data(r)?.group;
          if (!group) return undefined;
          const mine = await options.directory.groupsOfAccount(ctx.principal.accountId);
          if (!mine.some((g) => g.id === group.id)) return { xml: '' };
          const members = await options.directory.listGroupMembers(group.id);
          return {
            xml: members
              .map((m) => hrefXml(ctx.dav.href(m.kind === 'account' ? ctx.dav.principals.user(m.address) : ctx.dav.principals.group(m.name), true)))
              .join(''),
          };
        },
      });
    },
  };
}
