import { createHash } from 'node:crypto';
import { isPalabreError, type Account, type CalendarStore, type DirectoryStore, type InviteStatus, type ShareInvite } from '@palabre/core';
import {
  DAV,
  DavError,
  READ_ONLY,
  davPath,
  escapeText,
  findVisibleAccount,
  hrefXml,
  virtualCollection,
  type DavBackend,
  type DavContext,
  type DavLookup,
  type DavPath,
  type DavResource,
  type Privilege,
} from '@palabre/webdav';
import { canonicalHomePath } from './groupware-backend.js';
import { ADDRESSBOOKS, CALENDARS, CS, NOTIFICATIONS, cs } from './names.js';

/**
 * CalendarServer's notification collection (caldav-sharing.txt §5, "Sharing of Calendars"): one per
 * user at `/notifications/<address>/`, named by the principal's `CS:notification-URL`, holding one
 * `CS:invite-notification` per share addressed to the user (not through a group: nobody answers for a
 * group). The items are the shares themselves, seen from the sharee's side, so an unshare removes the
 * notice and a change of access or status shows in it at once; deleting the item only puts the notice
 * away (the share stays as it is: Apple Calendar deletes the notice after answering). The owner of a
 * shared collection gets one `CS:invite-reply` per answer of a sharee (accepted or declined), until the
 * owner deletes it; a new invitation makes the old answer's notice go. Only the user sees their
 * notifications: anyone else finds nothing (404), as for an address nobody has.
 */

export type NotificationData =
  | { readonly kind: 'collection'; readonly owner: Account; readonly invites: readonly ShareInvite[]; readonly replies: readonly ShareInvite[] }
  | { readonly kind: 'invite' | 'reply'; readonly owner: Account; readonly invite: ShareInvite; readonly body: Buffer | null };

/** The owner reads and deletes notices; nothing else (no PUT, no MKCOL, no PROPPATCH). */
const NOTICE_PRIVILEGES: ReadonlySet<Privilege> = new Set<Privilege>([...READ_ONLY, 'unbind']);

export const INVITE_STATUS_ELEMENT: Record<InviteStatus, string> = {
  pending: 'invite-noresponse',
  accepted: 'invite-accepted',
  declined: 'invite-declined',
};

/** A notice's resource name: the share's invitation uid (the collection's id), which CS:in-reply-to names. */
const noticeName = (invite: ShareInvite) => `${invite.collection.id}.xml`;
/** An answer's notice: one per collection and sharee. */
const replyName = (reply: ShareInvite) => `reply.${reply.collection.id}.${reply.share.grantee.id}.xml`;

const etagOf = (parts: readonly string[]) => `"${createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 22)}"`;
const inviteTag = (i: ShareInvite) => `${i.collection.id}/${i.share.access}/${i.share.status}/${i.share.modifiedAt.getTime()}/${i.collection.displayName ?? ''}`;

export class NotificationsBackend implements DavBackend {
  readonly mount = NOTIFICATIONS;

  constructor(
    private readonly store: CalendarStore,
    private readonly directory: DirectoryStore,
  ) {}

  canonical(path: DavPath): DavPath {
    return canonicalHomePath(path);
  }

  data(resource: DavResource): NotificationData {
    return resource.data as NotificationData;
  }

  async lookup(ctx: DavContext, path: DavPath): Promise<DavLookup> {
    const [, address, name, ...more] = path.segments;
    if (address === undefined || more.length) return { resource: null, parent: null };
    const owner = await findVisibleAccount(this.directory, ctx, address);
    if (!owner || owner.id !== ctx.principal.accountId) return { resource: null, parent: null };
    const [invites, replies] = await Promise.all([this.store.invitesFor(owner.id).then((all) => all.filter((i) => i.share.notice)), this.store.repliesTo(owner.id)]);
    const collection = this.collectionResource(owner, invites, replies);
    if (name === undefined) return { resource: collection, parent: null };
    const invite = invites.find((i) => noticeName(i) === name);
    const reply = invite ? undefined : replies.find((r) => replyName(r) === name);
    // The body is made here: GET sends what contentLength says.
    if (invite) return { resource: this.noticeResource(owner, 'invite', invite, Buffer.from(await inviteNotificationXml(ctx, this.directory, owner, invite))), parent: collection };
    if (reply) return { resource: this.noticeResource(owner, 'reply', reply, Buffer.from(await inviteReplyXml(ctx, this.directory, owner, reply))), parent: collection };
    return { resource: null, parent: collection };
  }

  private collectionResource(owner: Account, invites: readonly ShareInvite[], replies: readonly ShareInvite[]): DavResource {
    return {
      ...virtualCollection(davPath([this.mount, owner.address]), this, { kind: 'collection', owner, invites, replies } satisfies NotificationData),
      resourceTypes: [cs('notification')],
      privileges: NOTICE_PRIVILEGES,
      etag: etagOf([...invites.map(inviteTag), ...replies.map((r) => `reply/${r.share.grantee.id}/${inviteTag(r)}`)]),
      displayName: 'Notifications',
    };
  }

  private noticeResource(owner: Account, kind: 'invite' | 'reply', invite: ShareInvite, body: Buffer | null = null): DavResource {
    return {
      path: davPath([this.mount, owner.address, kind === 'invite' ? noticeName(invite) : replyName(invite)]),
      collection: false,
      etag: etagOf([kind, inviteTag(invite)]),
      lastModified: invite.share.modifiedAt,
      createdAt: invite.share.createdAt,
      contentLength: body?.length ?? null,
      contentType: 'application/xml; charset=utf-8',
      displayName: null,
      privileges: NOTICE_PRIVILEGES,
      backend: this,
      data: { kind, owner, invite, body } satisfies NotificationData,
    };
  }

  async members(_ctx: DavContext, collection: DavResource): Promise<DavResource[]> {
    const d = this.data(collection);
    return d.kind === 'collection' ? [...d.invites.map((i) => this.noticeResource(d.owner, 'invite', i)), ...d.replies.map((r) => this.noticeResource(d.owner, 'reply', r))] : [];
  }

  async read(ctx: DavContext, resource: DavResource): Promise<Buffer> {
    const d = this.data(resource);
    if (d.kind === 'collection') throw new DavError(405, 'a notification collection has no content');
    if (d.body) return d.body;
    return Buffer.from(d.kind === 'invite' ? await inviteNotificationXml(ctx, this.directory, d.owner, d.invite) : await inviteReplyXml(ctx, this.directory, d.owner, d.invite));
  }

  async remove(ctx: DavContext, resource: DavResource): Promise<void> {
    const d = this.data(resource);
    if (d.kind === 'collection') throw new DavError(403, 'a notification collection is not deleted');
    try {
      if (d.kind === 'invite') await this.store.dismissShareNotice(d.invite.collection.id, d.owner.id);
      else await this.store.dismissReplyNotice(d.invite.collection.id, d.invite.share.grantee.id);
    } catch (error) {
      if (isPalabreError(error, 'not-found')) throw new DavError(404, 'no such notification');
      throw error;
    }
    ctx.log.info({ kind: d.kind === 'invite' ? 'dismiss' : 'dismiss-reply', collection: d.invite.collection.id }, 'caldav.changed');
  }
}

/** The owner's collection as the sharee is invited to it (CS:hosturl), in the owner's home. */
export function hostUrl(ctx: DavContext, owner: Account, invite: ShareInvite): string {
  return ctx.dav.href(davPath([invite.collection.kind === 'calendar' ? CALENDARS : ADDRESSBOOKS, owner.address, invite.collection.name]), true);
}

const dtstamp = (invite: ShareInvite) => invite.share.modifiedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/**
 * The owner's notice of a sharee's answer (caldav-sharing.txt `CS:invite-reply`): who answered, how,
 * which collection (`CS:hosturl`) and which invitation (`CS:in-reply-to`, the uid of the sharee's notice).
 */
export async function inviteReplyXml(ctx: DavContext, directory: DirectoryStore, owner: Account, reply: ShareInvite): Promise<string> {
  const sharee = await directory.getAccount(reply.share.grantee.id).catch(() => null);
  const calendar = reply.collection.kind === 'calendar';
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n<CS:notification xmlns:CS="${CS}" xmlns:d="${DAV}">` +
    `<CS:dtstamp>${dtstamp(reply)}</CS:dtstamp>` +
    `<CS:invite-reply shared-type="${calendar ? 'calendar' : 'addressbook'}">` +
    (sharee ? hrefXml(`mailto:${sharee.address}`) : '') +
    `<CS:${INVITE_STATUS_ELEMENT[reply.share.status]}/>` +
    `<CS:hosturl>${hrefXml(hostUrl(ctx, owner, reply))}</CS:hosturl>` +
    `<CS:in-reply-to>${reply.collection.id}</CS:in-reply-to>` +
    `<CS:summary>${escapeText(reply.collection.displayName ?? reply.collection.name)}</CS:summary>` +
    (sharee ? `<CS:common-name>${escapeText(sharee.displayName)}</CS:common-name>` : '') +
    `</CS:invite-reply></CS:notification>\n`
  );
}

/** The body of one invite notification, as CalendarServer serves it (text of a GET on the notice). */
export async function inviteNotificationXml(ctx: DavContext, directory: DirectoryStore, sharee: Account, invite: ShareInvite): Promise<string> {
  const owner = invite.collection.accountId ? await directory.getAccount(invite.collection.accountId).catch(() => null) : null;
  const calendar = invite.collection.kind === 'calendar';
  const organizer = owner
    ? `<CS:organizer>${hrefXml(`mailto:${owner.address}`)}<CS:common-name>${escapeText(owner.displayName)}</CS:common-name></CS:organizer>`
    : '';
  const components = calendar
    ? `<C:supported-calendar-component-set xmlns:C="urn:ietf:params:xml:ns:caldav">${invite.collection.components.map((c) => `<C:comp name="${c}"/>`).join('')}</C:supported-calendar-component-set>`
    : '';
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n<CS:notification xmlns:CS="${CS}" xmlns:d="${DAV}">` +
    `<CS:dtstamp>${dtstamp(invite)}</CS:dtstamp>` +
    `<CS:invite-notification shared-type="${calendar ? 'calendar' : 'addressbook'}">` +
    `<CS:uid>${invite.collection.id}</CS:uid>${hrefXml(`mailto:${sharee.address}`)}<CS:${INVITE_STATUS_ELEMENT[invite.share.status]}/>` +
    `<CS:access>${invite.share.access === 'read-write' ? '<CS:read-write/>' : '<CS:read/>'}</CS:access>` +
    (owner ? `<CS:hosturl>${hrefXml(hostUrl(ctx, owner, invite))}</CS:hosturl>` : '') +
    organizer +
    `<CS:summary>${escapeText(invite.collection.displayName ?? invite.collection.name)}</CS:summary>${components}` +
    `</CS:invite-notification></CS:notification>\n`
  );
}
