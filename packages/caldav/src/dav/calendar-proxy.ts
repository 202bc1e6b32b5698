import type { Account, CalendarStore, DirectoryStore, PropertyPatch, ShareAccess } from '@palabre/core';
import {
  DAV,
  DavError,
  PropertyPatchError,
  READ_ONLY,
  davPath,
  elements,
  hrefXml,
  parseXml,
  virtualCollection,
  type DavBackend,
  type DavContext,
  type DavLookup,
  type DavPath,
  type DavPluginHost,
  type DavResource,
  type Privilege,
} from '@palabre/webdav';
import { granteeOf, granteePrincipalHref, granteeRef, resolveGrantee, type Grantee } from './grantees.js';
import { CS, PALABRE, cs } from './names.js';

/**
 * Delegation as CalendarServer's caldav-proxy.txt has it, which Apple Calendar's delegation pane speaks:
 * every user principal has two group principals, `calendar-proxy-read/` and `calendar-proxy-write/`,
 * whose DAV:group-member-set are the delegates (core's setDelegate). Only the owner changes them, by
 * PROPPATCH of that property (a write delegate acts on the calendars, not on who else may); a delegate
 * finds whom it acts for in its own `CS:calendar-proxy-read-for` / `-write-for` and
 * DAV:group-membership.
 */

export const PROXY_READ = 'calendar-proxy-read';
export const PROXY_WRITE = 'calendar-proxy-write';
/** Delegates of one account in one of its proxy groups (a secretariat is one group). */
export const MAX_DELEGATES = 100;

const GROUP_MEMBER_SET = `{${DAV}}group-member-set`;
const WRITABLE = new Set([GROUP_MEMBER_SET]);
const OWNER_PRIVILEGES: ReadonlySet<Privilege> = new Set<Privilege>([...READ_ONLY, 'write-properties']);

interface ProxyData {
  readonly kind: 'calendar-proxy';
  readonly owner: Account;
  readonly access: ShareAccess;
}

const accessOf = (name: string): ShareAccess | null => (name === PROXY_READ ? 'read' : name === PROXY_WRITE ? 'read-write' : null);
const segmentOf = (access: ShareAccess) => (access === 'read' ? PROXY_READ : PROXY_WRITE);

const MEMO_DELEGATIONS = Symbol('calendar-proxy.delegations');

export class CalendarProxyBackend implements DavBackend {
  constructor(
    private readonly store: CalendarStore,
    private readonly directory: DirectoryStore,
  ) {}

  data(r: DavResource): ProxyData | null {
    return r.backend === this ? (r.data as ProxyData) : null;
  }

  resource(ctx: DavContext, owner: Account, name: string): DavResource | null {
    const access = accessOf(name);
    if (!access) return null;
    return {
      ...virtualCollection(davPath([...ctx.dav.principals.user(owner.address).segments, name]), this, { kind: 'calendar-proxy', owner, access } satisfies ProxyData),
      displayName: `${owner.displayName} (${access === 'read' ? 'lecture' : 'écriture'})`,
      privileges: owner.id === ctx.principal.accountId ? OWNER_PRIVILEGES : READ_ONLY,
      resourceTypes: [`{${DAV}}principal`, cs(name)],
    };
  }

  /** Looked up through the principals mount (PrincipalExtension.child), never by itself. */
  async lookup(_ctx: DavContext, _path: DavPath): Promise<DavLookup> {
    return { resource: null, parent: null };
  }

  async members(): Promise<DavResource[]> {
    return [];
  }

  writableProperties(): ReadonlySet<string> {
    return WRITABLE;
  }

  async delegates(owner: Account, access: ShareAccess): Promise<Grantee[]> {
    const out: Grantee[] = [];
    for (const d of await this.store.delegatesOf(owner.id)) {
      if (d.access !== access) continue;
      const g = await granteeOf(this.directory, d.delegate);
      if (g) out.push(g);
    }
    return out;
  }

  /** Delegations to the caller (directly or through a group), once per request. */
  async delegationsTo(ctx: DavContext, account: Account): Promise<{ owner: Account; access: ShareAccess }[]> {
    let memo = ctx.memo.get(MEMO_DELEGATIONS) as Map<string, Promise<{ owner: Account; access: ShareAccess }[]>> | undefined;
    if (!memo) ctx.memo.set(MEMO_DELEGATIONS, (memo = new Map()));
    let found = memo.get(account.id);
    if (!found) {
      found = (async () => {
        const groups = (await this.directory.groupsOfAccount(account.id)).map((g) => g.id);
        const out: { owner: Account; access: ShareAccess }[] = [];
        for (const d of await this.store.delegationsTo(account.id, groups)) {
          const owner = await this.directory.getAccount(d.ownerId).catch(() => null);
          if (owner && owner.status === 'active' && owner.domainId === account.domainId) out.push({ owner, access: d.access });
        }
        return out;
      })();
      memo.set(account.id, found);
    }
    return found;
  }

  /** PROPPATCH of DAV:group-member-set: the delegates of that kind become exactly the hrefs given. */
  async patchProperties(ctx: DavContext, resource: DavResource, patch: readonly PropertyPatch[]): Promise<void> {
    const d = this.data(resource)!;
    if (d.owner.id !== ctx.principal.accountId) throw new DavError(403, 'only the owner chooses delegates', { condition: `{${DAV}}need-privileges` });
    const refused = new Map<string, { status: number; condition?: string }>();
    let wanted: Grantee[] | null = null;
    for (const p of patch) {
      if (p.name !== GROUP_MEMBER_SET) {
        refused.set(p.name, { status: 403, condition: `{${DAV}}cannot-modify-protected-property` });
        continue;
      }
      if (p.op === 'remove') {
        wanted = [];
        continue;
      }
      const hrefs = elements(parseXml(p.value)).filter((e) => e.ns === DAV && e.name === 'href');
      if (hrefs.length > MAX_DELEGATES) {
        refused.set(p.name, { status: 403, condition: `{${PALABRE}}max-delegates` });
        continue;
      }
      wanted = [];
      for (const h of hrefs) {
        const text = h.children.filter((c): c is string => typeof c === 'string').join('');
        const g = await resolveGrantee(ctx, this.directory, text);
        if (!g || (g.kind === 'account' && g.account.id === d.owner.id)) {
          refused.set(p.name, { status: 403, condition: `{${DAV}}recognized-principal` });
          break;
        }
        wanted.push(g);
      }
    }
    if (refused.size) throw new PropertyPatchError(refused);
    if (!wanted) return;
    const keep = new Set(wanted.map((g) => `${granteeRef(g).kind}:${granteeRef(g).id}`));
    for (const old of await this.store.delegatesOf(d.owner.id)) {
      if (old.access === d.access && !keep.has(`${old.delegate.kind}:${old.delegate.id}`)) await this.store.setDelegate(d.owner.id, old.delegate, null);
    }
    for (const g of wanted) await this.store.setDelegate(d.owner.id, granteeRef(g), d.access);
    ctx.log.info({ kind: 'delegate', owner: d.owner.id, access: d.access, delegates: wanted.length }, 'caldav.changed');
  }
}

/** The proxy principals, their properties, and the delegate's side. */
export function setupCalendarProxy(host: DavPluginHost, options: { store: CalendarStore; directory: DirectoryStore }): CalendarProxyBackend {
  const backend = new CalendarProxyBackend(options.store, options.directory);
  const accountOf = (r: DavResource) => (r.path.segments[0] === 'principals' && r.path.segments.length === 3 ? ((r.data as { account?: Account } | undefined)?.account ?? null) : null);

  host.addPrincipalExtension({
    children: [PROXY_READ, PROXY_WRITE],
    child: async (ctx, account, name) => backend.resource(ctx, account, name),
    membershipsOf: async (ctx, account) => (await backend.delegationsTo(ctx, account)).map((d) => davPath([...ctx.dav.principals.user(d.owner.address).segments, segmentOf(d.access)])),
  });

  host.addProperty({
    name: GROUP_MEMBER_SET,
    appliesTo: (r) => backend.data(r) !== null,
    get: async (ctx, r) => {
      const d = backend.data(r)!;
      const members = await backend.delegates(d.owner, d.access);
      // The owner and the delegates themselves see the list; other colleagues an empty one.
      const mine = d.owner.id === ctx.principal.accountId || (await backend.delegationsTo(ctx, await options.directory.getAccount(ctx.principal.accountId))).some((x) => x.owner.id === d.owner.id);
      return { xml: mine ? members.map((g) => hrefXml(granteePrincipalHref(ctx, g))).join('') : '' };
    },
  });
  host.addProperty({ name: `{${DAV}}group-membership`, appliesTo: (r) => backend.data(r) !== null, get: () => ({ xml: '' }) });
  host.addProperty({ name: `{${DAV}}principal-URL`, appliesTo: (r) => backend.data(r) !== null, get: (ctx, r) => ({ xml: hrefXml(ctx.dav.hrefOf(r)) }) });
  for (const access of ['read', 'read-write'] as const) {
    host.addProperty({
      name: `{${CS}}${segmentOf(access)}-for`,
      appliesTo: (r) => accountOf(r) !== null,
      get: async (ctx, r) => {
        const account = accountOf(r)!;
        if (account.id !== ctx.principal.accountId) return { xml: '' };
        const list = (await backend.delegationsTo(ctx, account)).filter((d) => d.access === access);
        return { xml: list.map((d) => hrefXml(ctx.dav.href(ctx.dav.principals.user(d.owner.address), true))).join('') };
      },
    });
  }
  return backend;
}
