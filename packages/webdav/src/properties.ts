import type { DavLock } from '@palabre/core';
import { DAV } from './errors.js';
import { lockApplies } from './lock.js';
import { hrefXml } from './multistatus.js';
import { privilegeXml } from './request.js';
import type { Ace, DavResource, DavServices, Privilege, PropertyDefinition } from './resource.js';

const d = (name: string) => `{${DAV}}${name}`;

/** RFC 4918 creationdate: RFC 3339 in UTC. */
export function iso(date: Date): string {
  return memoDate(isoDates, date, (d) => `${d.toISOString().slice(0, 19)}Z`);
}

/** getlastmodified: an HTTP-date (RFC 9110 §5.6.7). */
function httpDate(date: Date): string {
  return memoDate(httpDates, date, (d) => d.toUTCString());
}

// The files of a folder share their times to the second more often than not (a copy, a sync, a batch
// upload): each text is made once, not once per member per listing. Bounded, emptied when full.
const isoDates = new Map<number, string>();
const httpDates = new Map<number, string>();
function memoDate(memo: Map<number, string>, date: Date, format: (d: Date) => string): string {
  const second = Math.floor(date.getTime() / 1000);
  let text = memo.get(second);
  if (text === undefined) {
    if (memo.size >= 4096) memo.clear();
    text = format(date);
    memo.set(second, text);
  }
  return text;
}

export interface PrivilegeDefinition {
  readonly name: Privilege;
  /** The privilege it is aggregated under (RFC 3744 §3.12); none for the root (DAV:all). */
  readonly parent?: Privilege;
  readonly abstract?: boolean;
  readonly description: string;
}

/** RFC 3744 §3's privileges as this engine grants them. */
export const DAV_PRIVILEGES: readonly PrivilegeDefinition[] = [
  { name: 'all', abstract: true, description: 'All' },
  { name: 'read', parent: 'all', description: 'Read' },
  { name: 'read-current-user-privilege-set', parent: 'read', description: 'Read own privileges' },
  { name: 'write', parent: 'all', description: 'Write' },
  { name: 'write-properties', parent: 'write', description: 'Write properties' },
  { name: 'write-content', parent: 'write', description: 'Write content' },
  { name: 'bind', parent: 'write', description: 'Add members' },
  { name: 'unbind', parent: 'write', description: 'Remove members' },
  { name: 'unlock', parent: 'all', description: 'Unlock' },
  { name: 'read-acl', parent: 'all', description: 'Read ACL' },
  { name: 'write-acl', parent: 'all', description: 'Write ACL' },
];

/** DAV:supported-privilege-set from the registered privileges. */
export function privilegeTreeXml(privileges: readonly PrivilegeDefinition[], tag: (ns: string, name: string) => string): string {
  const children = (parent: Privilege | undefined): string =>
    privileges
      .filter((p) => p.parent === parent)
      .map(
        (p) =>
          `<d:supported-privilege>${privilegeXml(p.name, tag)}${p.abstract ? '<d:abstract/>' : ''}<d:description xml:lang="en">${p.description}</d:description>${children(p.name)}</d:supported-privilege>`,
      )
      .join('');
  return children(undefined);
}

export function privilegesXml(dav: Pick<DavServices, 'namespaces'>, privileges: Iterable<Privilege>): string {
  const tag = (ns: string, name: string) => dav.namespaces.tag(ns, name).empty;
  let out = '';
  for (const p of privileges) out += privilegeXml(p, tag);
  return out;
}

export function aceXml(dav: Pick<DavServices, 'href' | 'namespaces'>, ace: Ace): string {
  const principal = typeof ace.principal === 'string' ? `<d:${ace.principal}/>` : hrefXml(dav.href(ace.principal, true));
  return (
    `<d:ace><d:principal>${principal}</d:principal><d:grant>${privilegesXml(dav, ace.privileges)}</d:grant>` +
    `${ace.protected ? '<d:protected/>' : ''}${ace.inherited ? `<d:inherited>${hrefXml(dav.href(ace.inherited, true))}</d:inherited>` : ''}</d:ace>`
  );
}

// Values the same for most resources, made once: a listing returns them as they are, no object per file.
const NO_XML = { xml: '' };
const COLLECTION_XML = { xml: '<d:collection/>' };
const LOCK_ENTRIES = {
  xml:
    '<d:lockentry><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>' +
    '<d:lockentry><d:lockscope><d:shared/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>',
};

/** DAV:resourcetype: DAV:collection and the resource's own types. */
function resourceType(dav: Pick<DavServices, 'namespaces'>, r: DavResource): { xml: string } {
  if (!r.resourceTypes?.length) return r.collection ? COLLECTION_XML : NO_XML;
  return { xml: resourceTypeXml(dav, r) };
}

function resourceTypeXml(dav: Pick<DavServices, 'namespaces'>, r: DavResource): string {
  let xml = r.collection ? '<d:collection/>' : '';
  for (const t of r.resourceTypes ?? []) {
    const end = t.indexOf('}');
    xml += dav.namespaces.tag(t.slice(1, end), t.slice(end + 1)).empty;
  }
  return xml;
}

/** The live properties of RFC 4918, 4331 (quota), 5397 (current-user-principal), 3744 (ACL, read side) and 3253 (supported-report-set). */
export function builtinProperties(): PropertyDefinition<any>[] {
  // Only collections have them, and a file answers at once (no promise per member of a listing).
  const quota = (ctx: Parameters<PropertyDefinition['get']>[0], r: DavResource) => (r.collection && r.backend.quota ? r.backend.quota(ctx, r) : null);
  return [
    { name: d('resourcetype'), allprop: true, stable: true, get: (ctx, r) => resourceType(ctx.dav, r) },
    { name: d('getetag'), allprop: true, stable: true, get: (_c, r) => r.etag ?? undefined },
    { name: d('getlastmodified'), allprop: true, stable: true, get: (_c, r) => (r.lastModified ? httpDate(r.lastModified) : undefined) },
    { name: d('creationdate'), allprop: true, stable: true, get: (_c, r) => (r.createdAt ? iso(r.createdAt) : undefined) },
    { name: d('getcontentlength'), allprop: true, stable: true, get: (_c, r) => (r.collection || r.contentLength === null ? undefined : String(r.contentLength)) },
    { name: d('getcontenttype'), allprop: true, stable: true, get: (_c, r) => (r.collection ? undefined : (r.contentType ?? 'application/octet-stream')) },
    // A backend may keep a client-set displayname as a dead property (writableProperties): it answers when this is absent.
    { name: d('displayname'), allprop: true, stable: true, get: (_c, r) => r.displayName ?? undefined },
    {
      name: d('supportedlock'),
      allprop: true,
      stable: true,
      get: (_c, r) => (r.backend.write || r.collection ? LOCK_ENTRIES : NO_XML),
    },
    {
      name: d('lockdiscovery'),
      allprop: true,
      prepare: (ctx, resources) => ctx.dav.locks.forBatch(resources.map((r) => r.path), ctx.now),
      get: (ctx, r, locks: DavLock[]) => {
        let xml = '';
        for (const l of locks) if (lockApplies(l, r.path.key)) xml += ctx.dav.locks.activeLockXml(ctx.dav, l, ctx.now);
        return xml ? { xml } : NO_XML;
      },
    },
    // RFC 4331 keeps these out of allprop; they are in it here because common clients (the webdav npm
    // client, file managers) only ever ask with allprop. Only collections have them: one query per space.
    { name: d('quota-used-bytes'), allprop: true, get: (ctx, r) => quota(ctx, r)?.then((q) => q?.used.toString()) },
    {
      name: d('quota-available-bytes'),
      allprop: true,
      get: (ctx, r) =>
        quota(ctx, r)?.then((q) => {
          if (!q) return undefined;
          return q.available === null ? undefined : String(Math.max(0, q.available));
        }),
    },
    { name: d('current-user-principal'), get: (ctx) => ({ xml: hrefXml(ctx.dav.href(ctx.dav.principals.user(ctx.principal.address), true)) }) },
    { name: d('principal-collection-set'), get: (ctx) => ({ xml: hrefXml(ctx.dav.href(ctx.dav.principals.collection(), true)) }) },
    { name: d('current-user-privilege-set'), privilege: 'read-current-user-privilege-set', stable: true, get: (ctx, r) => ({ xml: privilegesXml(ctx.dav, r.privileges) }) },
    { name: d('supported-privilege-set'), get: (ctx) => ({ xml: ctx.dav.privilegeTree }) },
    { name: d('acl-restrictions'), get: () => ({ xml: '<d:grant-only/><d:no-invert/>' }) },
    { name: d('inherited-acl-set'), get: () => ({ xml: '' }) },
    {
      name: d('owner'),
      get: async (ctx, r) => {
        const owner = r.backend.owner ? await r.backend.owner(ctx, r) : null;
        return { xml: owner ? hrefXml(ctx.dav.href(owner, true)) : '' };
      },
    },
    {
      name: d('acl'),
      privilege: 'read-acl',
      get: async (ctx, r) => (r.backend.acl ? { xml: (await r.backend.acl(ctx, r)).map((a) => aceXml(ctx.dav, a)).join('') } : undefined),
    },
    {
      name: d('supported-report-set'),
      get: (ctx, r) => ({
        xml: ctx.dav
          .reportsOf(r)
          .map((report) => {
            const end = report.name.indexOf('}');
            return `<d:supported-report><d:report>${ctx.dav.namespaces.tag(report.name.slice(1, end), report.name.slice(end + 1)).empty}</d:report></d:supported-report>`;
          })
          .join(''),
      }),
    },
  ];
}
