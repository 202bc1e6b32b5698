import { DAV, DavError } from './errors.js';
import { ifHeaderOf, readXmlBody, requirePrivilege } from './request.js';
import type { Ace, DavContext, Privilege } from './resource.js';
import { child, clark, elements } from './xml-codec.js';

/**
 * REPORT (RFC 3253 §3.6): dispatched by the body's root element to a report that applies to the
 * target (403 DAV:supported-report otherwise), with the privilege that report needs (read, or e.g.
 * CALDAV:read-free-busy for a free-busy-query). The body is asked for only once the caller holds the
 * privilege of at least one report the resource supports.
 */
export async function reportMethod(ctx: DavContext): Promise<void> {
  const { resource } = await ctx.dav.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  const reports = ctx.dav.reportsOf(resource);
  const held = (p: Privilege) => resource.privileges.has(p) || resource.privileges.has('all');
  if (!reports.some((r) => held(r.privilege ?? 'read'))) requirePrivilege(ctx, resource, 'read');
  const body = await readXmlBody(ctx);
  if (!body) throw new DavError(400, 'REPORT needs a body');
  const report = reports.find((r) => r.name === clark(body));
  if (!report) throw new DavError(403, 'this report does not apply here', { condition: `{${DAV}}supported-report` });
  requirePrivilege(ctx, resource, report.privilege ?? 'read');
  await report.handler(ctx, resource, body);
}

/**
 * ACL (RFC 3744 §8.1), grant-only: the body replaces the resource's non-protected, non-inherited ACEs.
 * Principals are hrefs of principals of this server; deny ACEs and inverted principals are refused.
 */
export async function aclMethod(ctx: DavContext): Promise<void> {
  const { resource } = await ctx.dav.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  requirePrivilege(ctx, resource, 'write-acl');
  if (!resource.backend.setAcl) throw new DavError(403, 'access control cannot be changed here', { condition: `{${DAV}}not-supported-privilege` });
  const submitted = await ifHeaderOf(ctx, resource, ctx.path);
  await ctx.dav.locks.assertUnlocked(ctx, [{ path: ctx.path }], submitted);
  const body = await readXmlBody(ctx);
  if (!body || body.ns !== DAV || body.name !== 'acl') throw new DavError(400, 'the body must be a DAV:acl');
  const aces: Ace[] = [];
  for (const ace of elements(body)) {
    if (ace.ns !== DAV || ace.name !== 'ace') continue;
    if (child(ace, DAV, 'deny')) throw new DavError(403, 'only grant ACEs are supported', { condition: `{${DAV}}grant-only` });
    if (child(ace, DAV, 'invert')) throw new DavError(403, 'inverted principals are not supported', { condition: `{${DAV}}no-invert` });
    if (child(ace, DAV, 'protected') || child(ace, DAV, 'inherited')) continue;
    const principalEl = child(ace, DAV, 'principal');
    const grant = child(ace, DAV, 'grant');
    if (!principalEl || !grant) throw new DavError(400, 'an ACE needs a principal and a grant');
    const who = elements(principalEl)[0];
    let principal: Ace['principal'];
    if (who?.ns === DAV && who.name === 'href') {
      const text = who.children.filter((c): c is string => typeof c === 'string').join('').trim();
      const path = ctx.dav.pathOf(text);
      if (!path) throw new DavError(403, 'not a principal of this server', { condition: `{${DAV}}recognized-principal` });
      principal = path;
    } else if (who?.ns === DAV && (who.name === 'all' || who.name === 'authenticated' || who.name === 'self')) {
      principal = who.name;
    } else throw new DavError(403, 'unsupported principal', { condition: `{${DAV}}recognized-principal` });
    const privileges: Privilege[] = [];
    for (const p of elements(grant)) {
      const name = elements(p)[0];
      const privilege = (name && (name.ns === DAV ? name.name : clark(name))) as Privilege | undefined;
      if (!privilege || !ctx.dav.isGrantable(privilege)) {
        throw new DavError(403, 'unsupported privilege', { condition: `{${DAV}}not-supported-privilege` });
      }
      privileges.push(privilege);
    }
    aces.push({ principal, privileges });
  }
  await resource.backend.setAcl(ctx, resource, aces);
  await ctx.dav.hooks.afterChange(ctx, { kind: 'acl', path: ctx.path });
  ctx.res.statusCode = 200;
  ctx.res.setHeader('content-length', '0');
  ctx.res.end();
}
