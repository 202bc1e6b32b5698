import { isPalabreError, type CalendarStore, type CollectionShare, type DirectoryStore, type InviteStatus, type ShareAccess } from '@palabre/core';
import {
  DAV,
  DavError,
  XmlStream,
  child,
  davPath,
  elements,
  escapeText,
  hrefXml,
  requirePrivilege,
  statusXml,
  textOf,
  type DavContext,
  type DavPluginHost,
  type DavResource,
  type XmlElement,
} from '@palabre/webdav';
import type { GroupwareBackend, GroupwareData } from './groupware-backend.js';
import { granteeMailto, granteeName, granteeOf, granteePrincipalHref, granteeRef, resolveGrantee, type Grantee } from './grantees.js';
import { INVITE_STATUS_ELEMENT, NotificationsBackend } from './notifications.js';
import { CS, NOTIFICATIONS, PALABRE, SHARED_PREFIX, SHARE, cs } from './names.js';

/**
 * Sharing a calendar or an address book over DAV, as clients ask for it:
 * - CalendarServer's `CS:share` POST (caldav-sharing.txt, Apple Calendar and Contacts, sabre/dav):
 *   `CS:set` (href, `CS:read-write` or read) and `CS:remove`;
 * - draft-pot-webdav-resource-sharing's `DAV:share-resource` POST: `DAV:sharee` with a
 *   `DAV:share-access` of read, read-write or no-access (take back).
 * Both go to the owner's collection and need `DAV:share`, which only the owner holds (it sits under
 * DAV:all): a sharee, even read-write, and a calendar-proxy-write delegate may use the collection but not
 * hand it on, as in sabre/dav, where only the shared-owner instance carries DAV:share. A request is
 * checked whole before anything is stored: a sharee nobody may see (an unknown address, an agent of
 * another ministry: resolveGrantee) makes it a 207 naming each href (403 for that one, 424 for the
 * others) and changes nothing.
 *
 * A share with an account is an invitation (CalendarServer's, draft-pot's DAV:invite): it starts
 * invite-noresponse, a CS:invite-notification is put in the sharee's notification collection, and the
 * sharee answers by POSTing CS:invite-reply to their own home; declining takes the collection out of
 * their home and the owner's CS:invite shows invite-declined. The share is in force from the start,
 * before any answer, because Thunderbird, DAVx5 and Evolution have no way to answer an invitation and
 * look for shares only in the home (see the README).
 */

/** Sharees one request may name. */
export const MAX_SHAREES_PER_REQUEST = 100;
/** Accounts and groups one collection may be shared with (a whole department is one group). */
export const MAX_SHARES = 500;

interface ShareOp {
  readonly href: string;
  /** null: take back. */
  readonly access: ShareAccess | null;
}

const csName = (e: XmlElement, name: string) => e.ns === CS && e.name === name;
const davName = (e: XmlElement, name: string) => e.ns === DAV && e.name === name;

function hrefIn(e: XmlElement): string {
  const h = child(e, DAV, 'href');
  if (!h) throw new DavError(400, 'each sharee is named by a DAV:href');
  return textOf(h).trim();
}

/** The operations of a CS:share body, in document order. */
export function parseCsShare(body: XmlElement): ShareOp[] {
  const ops: ShareOp[] = [];
  for (const e of elements(body)) {
    if (csName(e, 'set')) ops.push({ href: hrefIn(e), access: child(e, CS, 'read-write') ? 'read-write' : 'read' });
    else if (csName(e, 'remove')) ops.push({ href: hrefIn(e), access: null });
    if (ops.length > MAX_SHAREES_PER_REQUEST) throw tooMany();
  }
  return ops;
}

/** The operations of a DAV:share-resource body, in document order. */
export function parseShareResource(body: XmlElement): ShareOp[] {
  const ops: ShareOp[] = [];
  for (const e of elements(body)) {
    if (!davName(e, 'sharee')) continue;
    const accessEl = child(e, DAV, 'share-access');
    const value = accessEl ? elements(accessEl)[0] : undefined;
    let access: ShareAccess | null;
    if (!value || value.ns !== DAV) throw new DavError(400, 'a sharee needs a DAV:share-access');
    if (value.name === 'read' || value.name === 'read-write') access = value.name;
    else if (value.name === 'no-access') access = null;
    else throw new DavError(400, 'a sharee is given read, read-write or no-access');
    ops.push({ href: hrefIn(e), access });
    if (ops.length > MAX_SHAREES_PER_REQUEST) throw tooMany();
  }
  return ops;
}

function tooMany(): DavError {
  return new DavError(403, `at most ${MAX_SHAREES_PER_REQUEST} sharees per request`, { condition: `{${PALABRE}}max-sharees` });
}

/** A collection's shares with the grantees as the directory knows them now (gone ones left out). */
interface Sharee {
  readonly grantee: Grantee;
  readonly access: ShareAccess;
  readonly status: InviteStatus;
}

async function sharees(directory: DirectoryStore, shares: readonly CollectionShare[]): Promise<Sharee[]> {
  const out: Sharee[] = [];
  for (const s of shares) {
    const grantee = await granteeOf(directory, s.grantee);
    if (grantee) out.push({ grantee, access: s.access, status: s.status });
  }
  return out;
}

/** What a CS:invite-reply body says: which invitation (CS:in-reply-to), the answer, and the shared collection. */
export interface InviteReply {
  readonly uid: string;
  readonly status: 'accepted' | 'declined';
  readonly hostUrl: string | null;
}

export function parseInviteReply(body: XmlElement): InviteReply {
  const uidEl = child(body, CS, 'in-reply-to');
  const uid = uidEl ? textOf(uidEl).trim() : '';
  if (!uid) throw new DavError(400, 'an invite-reply names the invitation it answers (CS:in-reply-to)');
  const accepted = child(body, CS, 'invite-accepted');
  const declined = child(body, CS, 'invite-declined');
  if (Boolean(accepted) === Boolean(declined)) throw new DavError(400, 'an invite-reply holds one of CS:invite-accepted and CS:invite-declined');
  const host = child(body, CS, 'hosturl');
  const hostHref = host ? child(host, DAV, 'href') : undefined;
  return { uid, status: accepted ? 'accepted' : 'declined', hostUrl: hostHref ? textOf(hostHref).trim() : null };
}

export interface SharingOptions {
  readonly store: CalendarStore;
  readonly directory: DirectoryStore;
  readonly backends: readonly GroupwareBackend[];
}

/** The POST handlers and the properties of sharing, for the calendar and address-book mounts. */
export function setupSharing(host: DavPluginHost, options: SharingOptions): void {
  const { store, directory } = options;
  const collectionOf = (r: DavResource) => {
    if (!options.backends.some((b) => b === r.backend)) return null;
    const d = r.data as GroupwareData;
    return d.kind === 'collection' ? d : null;
  };
  /** The owner's own view of a collection it may share (not a sharee's copy, not the domain's address list). */
  const ownView = (r: DavResource) => {
    const d = collectionOf(r);
    return d && !d.sharedIn && !d.collection.readOnly ? d : null;
  };

  host.addNamespace('P', PALABRE);
  host.addPrivilege({ name: SHARE, parent: 'all', description: 'Share' });
  const notifications = new NotificationsBackend(store, directory);
  host.mount(NOTIFICATIONS, notifications);
  host.addProperty({ name: cs('getctag'), appliesTo: (r) => r.backend === notifications && notifications.data(r).kind === 'collection', get: (_c, r) => r.etag ?? undefined });
  host.addProperty({
    name: cs('notificationtype'),
    appliesTo: (r) => r.backend === notifications && notifications.data(r).kind !== 'collection',
    get: (_c, r) => {
      const d = notifications.data(r) as Extract<ReturnType<typeof notifications.data>, { kind: 'invite' | 'reply' }>;
      return { xml: `<CS:${d.kind === 'invite' ? 'invite-notification' : 'invite-reply'} shared-type="${d.invite.collection.kind === 'calendar' ? 'calendar' : 'addressbook'}"/>` };
    },
  });

  for (const backend of options.backends) {
    for (const root of [cs('share'), `{${DAV}}share-resource`]) {
      host.addPost({
        root,
        mount: backend.mount,
        handle: async (ctx, resource, body) => {
          const d = collectionOf(resource);
          if (!d) throw new DavError(403, 'only calendars and address books are shared here', { condition: `{${DAV}}share-resource-uri` });
          requirePrivilege(ctx, resource, SHARE);
          if (!ownView(resource)) throw new DavError(403, 'this collection cannot be shared', { condition: `{${DAV}}need-privileges` });
          const ops = root === cs('share') ? parseCsShare(body!) : parseShareResource(body!);
          await applyShares(ctx, resource, d.collection.id, ops);
        },
      });
    }
  }

  // CS:invite-reply (caldav-sharing.txt §5.3): the sharee answers an invitation, POSTing to their own home.
  for (const backend of options.backends) {
    host.addPost({
      root: cs('invite-reply'),
      mount: backend.mount,
      handle: async (ctx, resource, body) => {
        const d = resource.backend === backend ? (resource.data as GroupwareData) : null;
        if (d?.kind !== 'home' || d.access !== 'owner') throw new DavError(403, 'an invitation is answered in one\'s own home', { condition: `{${DAV}}need-privileges` });
        const reply = parseInviteReply(body!);
        const invite = (await store.invitesFor(ctx.principal.accountId)).find((i) => i.collection.id === reply.uid && i.collection.kind === backend.options.kind);
        // Someone else's invitation and one that never was get the same answer: nothing tells them apart.
        const owner = invite?.collection.accountId ? await directory.getAccount(invite.collection.accountId).catch(() => null) : null;
        const hostPath = owner && invite ? davPath([backend.mount, owner.address, invite.collection.name]) : null;
        if (!invite || !hostPath || (reply.hostUrl !== null && !sameCollection(ctx, reply.hostUrl, hostPath))) {
          throw new DavError(403, 'no invitation addressed to you has this uid', { condition: `{${PALABRE}}invitation` });
        }
        try {
          await store.replyToShare(invite.collection.id, ctx.principal.accountId, reply.status);
        } catch (error) {
          if (isPalabreError(error, 'not-found')) throw new DavError(403, 'no invitation addressed to you has this uid', { condition: `{${PALABRE}}invitation` });
          throw error;
        }
        ctx.log.info({ kind: 'invite-reply', collection: invite.collection.id, status: reply.status }, 'caldav.changed');
        await ctx.dav.hooks.afterChange(ctx, { kind: 'acl', path: hostPath });
        if (reply.status === 'declined') {
          ctx.res.statusCode = 204;
          ctx.res.end();
          return;
        }
        // Where the accepted collection is in the sharee's home (CS:shared-as).
        const at = ctx.dav.href(davPath([...resource.path.segments.slice(0, 2), `${SHARED_PREFIX}${invite.collection.id}`]), true);
        const xml = `<?xml version="1.0" encoding="utf-8"?>\n<CS:shared-as ${ctx.dav.namespaces.declarations()}>${hrefXml(at)}</CS:shared-as>\n`;
        ctx.res.statusCode = 200;
        ctx.res.setHeader('content-type', 'application/xml; charset=utf-8');
        ctx.res.setHeader('content-length', Buffer.byteLength(xml));
        ctx.res.end(xml);
      },
    });
  }

  async function applyShares(ctx: DavContext, resource: DavResource, collectionId: string, ops: readonly ShareOp[]): Promise<void> {
    const resolved: { op: ShareOp; grantee: Grantee | null; self: boolean }[] = [];
    for (const op of ops) {
      const grantee = await resolveGrantee(ctx, directory, op.href);
      resolved.push({ op, grantee, self: grantee?.kind === 'account' && grantee.account.id === ctx.principal.accountId });
    }
    if (resolved.some((r) => !r.grantee || r.self)) {
      // Nothing stored: each href's fate, so the client can show which address is wrong.
      const out = new XmlStream(ctx.res, ctx.dav.namespaces);
      out.begin(207);
      let xml = '';
      for (const r of resolved) {
        const error = r.grantee ? '' : '<d:error><d:recognized-principal/></d:error>';
        xml += `<d:response>${hrefXml(r.op.href)}${statusXml(r.grantee && !r.self ? 424 : 403)}${error}</d:response>`;
      }
      await out.write(xml);
      await out.end();
      return;
    }
    // The latest operation on a grantee wins; the count is checked against what the collection would have.
    const final = new Map<string, { grantee: Grantee; access: ShareAccess | null }>();
    for (const r of resolved) {
      const ref = granteeRef(r.grantee!);
      final.set(`${ref.kind}:${ref.id}`, { grantee: r.grantee!, access: r.op.access });
    }
    const current = new Set((await store.sharesOf(collectionId)).map((s) => `${s.grantee.kind}:${s.grantee.id}`));
    const after = new Set(current);
    for (const [key, f] of final) {
      if (f.access) after.add(key);
      else after.delete(key);
    }
    if (after.size > MAX_SHARES && after.size > current.size) throw new DavError(403, `a collection is shared with at most ${MAX_SHARES} accounts or groups`, { condition: `{${PALABRE}}max-sharees` });
    for (const f of final.values()) {
      if (f.access) await store.share(collectionId, granteeRef(f.grantee), f.access);
      else await store.unshare(collectionId, granteeRef(f.grantee));
    }
    ctx.log.info({ kind: 'share', collection: collectionId, sharees: final.size }, 'caldav.changed');
    await ctx.dav.hooks.afterChange(ctx, { kind: 'acl', path: resource.path });
    ctx.res.statusCode = 200;
    ctx.res.setHeader('content-length', '0');
    ctx.res.end();
  }

  // ---------------------------------------------------------------- properties


  const owners = (r: DavResource) => collectionOf(r)?.owner ?? null;
  /** The owner's collection, wherever the resource is seen from (the owner's home or a sharee's). */
  const ownerUrl = (ctx: DavContext, r: DavResource) => {
    const d = collectionOf(r)!;
    return { xml: hrefXml(ctx.dav.href(davPath([r.path.segments[0]!, d.owner!.address, d.collection.name]), true)) };
  };
  const sharedCopy = (r: DavResource) => collectionOf(r)?.sharedIn === true && owners(r) !== null;
  const organizerXml = (ctx: DavContext, owner: NonNullable<ReturnType<typeof owners>>) =>
    `${hrefXml(ctx.dav.href(ctx.dav.principals.user(owner.address), true))}<CS:common-name>${escapeText(owner.displayName)}</CS:common-name>`;
  /** The owner and everyone a collection is shared with, for whoever may read the collection. */
  const prepareSharees = async (_ctx: DavContext, resources: readonly DavResource[]) => {
    const out = new Map<string, Sharee[]>();
    for (const r of resources) {
      const d = collectionOf(r);
      if (d && !d.collection.readOnly && !out.has(d.collection.id)) out.set(d.collection.id, await sharees(directory, await store.sharesOf(d.collection.id)));
    }
    return out;
  };
  const shareable = (r: DavResource) => {
    const d = collectionOf(r);
    return d !== null && !d.collection.readOnly && d.owner !== null;
  };

  host.addProperty<Map<string, Sharee[]>>({
    name: cs('invite'),
    appliesTo: shareable,
    prepare: prepareSharees,
    get: (ctx, r, prepared) => {
      const d = collectionOf(r)!;
      const owner = d.owner!;
      const organizer = `<CS:organizer>${organizerXml(ctx, owner)}</CS:organizer>`;
      const users = (prepared.get(d.collection.id) ?? [])
        .map(
          (s) =>
            `<CS:user>${hrefXml(granteeMailto(ctx, s.grantee))}<CS:common-name>${escapeText(granteeName(s.grantee))}</CS:common-name><CS:${INVITE_STATUS_ELEMENT[s.status]}/><CS:access>${s.access === 'read-write' ? '<CS:read-write/>' : '<CS:read/>'}</CS:access></CS:user>`,
        )
        .join('');
      return { xml: organizer + users };
    },
  });
  host.addProperty<Map<string, Sharee[]>>({
    name: `{${DAV}}invite`,
    appliesTo: shareable,
    prepare: prepareSharees,
    get: (ctx, r, prepared) => {
      const d = collectionOf(r)!;
      const owner = d.owner!;
      const sharee = (href: string, name: string, access: string, status: string) =>
        `<d:sharee>${hrefXml(href)}<d:prop><d:displayname>${escapeText(name)}</d:displayname></d:prop><d:${status}/><d:share-access><d:${access}/></d:share-access></d:sharee>`;
      const ownerHref = ctx.dav.href(ctx.dav.principals.user(owner.address), true);
      const list = prepared.get(d.collection.id) ?? [];
      return { xml: sharee(ownerHref, owner.displayName, 'shared-owner', 'invite-accepted') + list.map((s) => sharee(granteePrincipalHref(ctx, s.grantee), granteeName(s.grantee), s.access, INVITE_STATUS_ELEMENT[s.status])).join('') };
    },
  });
  host.addProperty<Map<string, Sharee[]>>({
    name: `{${DAV}}share-access`,
    appliesTo: (r) => collectionOf(r) !== null,
    prepare: prepareSharees,
    get: (_ctx, r, prepared) => {
      const d = collectionOf(r)!;
      if (d.collection.readOnly) return { xml: '<d:read/>' };
      if (d.sharedIn) return { xml: d.access === 'read-write' ? '<d:read-write/>' : '<d:read/>' };
      return { xml: (prepared.get(d.collection.id) ?? []).length ? '<d:shared-owner/>' : '<d:not-shared/>' };
    },
  });
  host.addProperty({
    name: cs('allowed-sharing-modes'),
    appliesTo: (r) => collectionOf(r) !== null,
    // Only the owner's own collection can be shared; nothing is published (no anonymous read URL here).
    get: (_ctx, r) => ({ xml: ownView(r) && collectionOf(r)!.access === 'owner' ? '<CS:can-be-shared/>' : '' }),
  });
  host.addProperty({ name: `{${DAV}}share-resource-uri`, appliesTo: shareable, get: ownerUrl });
  // On the sharee's copy (`shared.<id>` in their home): where the owner's collection is, and whose it is.
  host.addProperty({ name: cs('shared-url'), appliesTo: sharedCopy, get: ownerUrl });
  host.addProperty({ name: cs('organizer'), appliesTo: sharedCopy, get: (ctx, r) => ({ xml: organizerXml(ctx, owners(r)!) }) });
}

/** Whether an href a client sent names this collection (any spelling of the address, with or without the trailing slash). */
function sameCollection(ctx: DavContext, href: string, path: ReturnType<typeof davPath>): boolean {
  try {
    const parsed = ctx.dav.pathOf(href);
    return parsed !== null && parsed.key === path.key;
  } catch {
    return false;
  }
}
