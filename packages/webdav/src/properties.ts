import type { DavLock } from '@palabre/core';
import type { DavEngine } from './engine.js';
import { DAV } from './errors.js';
import { davPath } from './href.js';
import { lockApplies } from './lock.js';
import { hrefXml } from './multistatus.js';
import type { Ace, DavResource, Privilege, PropertyDefinition } from './resource.js';

const d = (name: string) => `{${DAV}}${name}`;

/** RFC 4918 creationdate: RFC 3339 in UTC. */
export function iso(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

const PRIVILEGE_TREE = `<d:supported-privilege><d:privilege><d:all/></d:privilege><d:abstract/><d:description xml:lang="en">All</d:description>
<d:supported-privilege><d:privilege><d:read/></d:privilege><d:description xml:lang="en">Read</d:description>
<d:supported-privilege><d:privilege><d:read-current-user-privilege-set/></d:privilege><d:description xml:lang="en">Read own privileges</d:description></d:supported-privilege></d:supported-privilege>
<d:supported-privilege><d:privilege><d:write/></d:privilege><d:description xml:lang="en">Write</d:description>
<d:supported-privilege><d:privilege><d:write-properties/></d:privilege><d:description xml:lang="en">Write properties</d:description></d:supported-privilege>
<d:supported-privilege><d:privilege><d:write-content/></d:privilege><d:description xml:lang="en">Write content</d:description></d:supported-privilege>
<d:supported-privilege><d:privilege><d:bind/></d:privilege><d:description xml:lang="en">Add members</d:description></d:supported-privilege>
<d:supported-privilege><d:privilege><d:unbind/></d:privilege><d:description xml:lang="en">Remove members</d:description></d:supported-privilege></d:supported-privilege>
<d:supported-privilege><d:privilege><d:unlock/></d:privilege><d:description xml:lang="en">Unlock</d:description></d:supported-privilege>
<d:supported-privilege><d:privilege><d:read-acl/></d:privilege><d:description xml:lang="en">Read ACL</d:description></d:supported-privilege>
<d:supported-privilege><d:privilege><d:write-acl/></d:privilege><d:description xml:lang="en">Write ACL</d:description></d:supported-privilege>
</d:supported-privilege>`.replace(/\n/g, '');

export function privilegesXml(privileges: Iterable<Privilege>): string {
  let out = '';
  for (const p of privileges) out += `<d:privilege><d:${p}/></d:privilege>`;
  return out;
}

export function aceXml(engine: DavEngine, ace: Ace): string {
  const principal =
    typeof ace.principal === 'string' ? `<d:${ace.principal}/>` : hrefXml(engine.href(ace.principal, true));
  return (
    `<d:ace><d:principal>${principal}</d:principal><d:grant>${privilegesXml(ace.privileges)}</d:grant>` +
    `${ace.protected ? '<d:protected/>' : ''}${ace.inherited ? `<d:inherited>${hrefXml(engine.href(ace.inherited, true))}</d:inherited>` : ''}</d:ace>`
  );
}

/** The live properties of RFC 4918, 4331 (quota), 5397 (current-user-principal) and 3744 (ACL, read side). */
export function registerBuiltinProperties(engine: DavEngine): void {
  const add = <P>(def: PropertyDefinition<P>) => engine.properties.set(def.name, def as PropertyDefinition<unknown>);
  add({ name: d('resourcetype'), allprop: true, get: (_c, r) => ({ xml: `${r.collection ? '<d:collection/>' : ''}${resourceTypeExtra(r)}` }) });
  add({ name: d('getetag'), allprop: true, get: (_c, r) => r.etag ?? undefined });
  add({ name: d('getlastmodified'), allprop: true, get: (_c, r) => r.lastModified?.toUTCString() });
  add({ name: d('creationdate'), allprop: true, get: (_c, r) => (r.createdAt ? iso(r.createdAt) : undefined) });
  add({ name: d('getcontentlength'), allprop: true, get: (_c, r) => (r.collection || r.contentLength === null ? undefined : String(r.contentLength)) });
  add({ name: d('getcontenttype'), allprop: true, get: (_c, r) => (r.collection ? undefined : (r.contentType ?? 'application/octet-stream')) });
  add({ name: d('displayname'), allprop: true, get: (_c, r) => r.displayName ?? undefined });
  add({
    name: d('supportedlock'),
    allprop: true,
    get: (_c, r) =>
      r.backend.write || r.collection
        ? {
            xml:
              '<d:lockentry><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>' +
              '<d:lockentry><d:lockscope><d:shared/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>',
          }
        : { xml: '' },
  });
  add<DavLock[]>({
    name: d('lockdiscovery'),
    allprop: true,
    prepare: (ctx, resources) => engine.locks.forBatch(resources.map((r) => r.path), ctx.now),
    get: (ctx, r, locks) => ({
      xml: locks
        .filter((l) => lockApplies(l, r.path.key))
        .map((l) => engine.locks.activeLockXml(engine, l, ctx.now))
        .join(''),
    }),
  });
  const quota = async (ctx: Parameters<NonNullable<PropertyDefinition['prepare']>>[0], r: DavResource) =>
    r.collection && r.backend.quota ? r.backend.quota(ctx, r) : null;
  // RFC 4331 keeps these out of allprop; they are in it here because common clients (the webdav npm
  // client, file managers) only ever ask with allprop. Only collections have them: one query per space.
  add({ name: d('quota-used-bytes'), allprop: true, get: async (ctx, r) => (await quota(ctx, r))?.used.toString() });
  add({
    name: d('quota-available-bytes'),
    allprop: true,
    get: async (ctx, r) => {
      const q = await quota(ctx, r);
      if (!q) return undefined;
      return q.available === null ? undefined : String(Math.max(0, q.available));
    },
  });
  add({
    name: d('current-user-principal'),
    get: (ctx) => ({ xml: hrefXml(engine.href(davPath(['principals', 'users', ctx.principal.address]), true)) }),
  });
  add({ name: d('principal-collection-set'), get: () => ({ xml: hrefXml(engine.href(davPath(['principals']), true)) }) });
  add({
    name: d('current-user-privilege-set'),
    privilege: 'read-current-user-privilege-set',
    get: (_c, r) => ({ xml: privilegesXml(r.privileges) }),
  });
  add({ name: d('supported-privilege-set'), get: () => ({ xml: PRIVILEGE_TREE }) });
  add({ name: d('acl-restrictions'), get: () => ({ xml: '<d:grant-only/><d:no-invert/>' }) });
  add({ name: d('inherited-acl-set'), get: () => ({ xml: '' }) });
  add({
    name: d('owner'),
    get: async (ctx, r) => {
      const owner = r.backend.owner ? await r.backend.owner(ctx, r) : null;
      return { xml: owner ? hrefXml(engine.href(owner, true)) : '' };
    },
  });
  add({
    name: d('acl'),
    privilege: 'read-acl',
    get: async (ctx, r) => (r.backend.acl ? { xml: (await r.backend.acl(ctx, r)).map((a) => aceXml(engine, a)).join('') } : undefined),
  });
  add({
    name: d('supported-report-set'),
    get: () => ({
      xml: [...engine.reports.keys()]
        .map((name) => {
          const end = name.indexOf('}');
          return `<d:supported-report><d:report>${engine.namespaces.tag(name.slice(1, end), name.slice(end + 1)).empty}</d:report></d:supported-report>`;
        })
        .join(''),
    }),
  });
}

/** Extra resourcetype children a backend sets (e.g. `<d:principal/>`), as `data.resourceTypeXml`. */
function resourceTypeExtra(r: DavResource): string {
  const extra = (r.data as { resourceTypeXml?: unknown } | undefined)?.resourceTypeXml;
  return typeof extra === 'string' ? extra : '';
}
