import type { DavEngine } from './engine.js';
import { DAV, DavError } from './errors.js';
import type { Ace, DavContext, Privilege } from './resource.js';
import { child, clark, elements } from './xml-codec.js';

/** REPORT: dispatched by the body's root element to a report a plugin registered. */
export async function reportMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
  const { resource } = await engine.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  engine.require(ctx, resource, 'read');
  const body = await engine.readXml(ctx);
  if (!body) throw new DavError(400, 'REPORT needs a body');
  const handler = engine.reports.get(clark(body));
  if (!handler) throw new DavError(403, 'unsupported report', { condition: `{${DAV}}supported-report` });
  await handler(ctx, resource, body);
}

const GRANTABLE: readonly Privilege[] = ['read', 'write', 'write-properties', 'write-content', 'bind', 'unbind', 'unlock', 'read-acl', 'write-acl', 'all'];

/**
 * ACL (RFC 3744 §8.1), grant-only: the body replaces the resource's non-protected, non-inherited ACEs.
 * Principals are hrefs of principals of this server; deny ACEs and inverted principals are refused.
 */
export async function aclMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
  const { resource } = await engine.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  engine.require(ctx, resource, 'write-acl');
  if (!resource.backend.setAcl) throw new DavError(403, 'access control cannot be changed here', { condition: `{${DAV}}not-supported-privilege` });
  const submitted = await engine.ifHeader(ctx, resource, ctx.path);
  await engine.locks.assertUnlocked(engine, ctx, [{ path: ctx.path }], submitted);
  const body = await engine.readXml(ctx);
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
      const path = engine.pathOf(text);
      if (!path) throw new DavError(403, 'not a principal of this server', { condition: `{${DAV}}recognized-principal` });
      principal = path;
    } else if (who?.ns === DAV && (who.name === 'all' || who.name === 'authenticated' || who.name === 'self')) {
      principal = who.name;
    } else throw new DavError(403, 'unsupported principal', { condition: `{${DAV}}recognized-principal` });
    const privileges: Privilege[] = [];
    for (const p of elements(grant)) {
      const name = elements(p)[0];
      if (!name || name.ns !== DAV || !GRANTABLE.includes(name.name as Privilege)) {
        throw new DavError(403, 'unsupported privilege', { condition: `{${DAV}}not-supported-privilege` });
      }
      privileges.push(name.name as Privilege);
    }
    aces.push({ principal, privileges });
  }
  await resource.backend.setAcl(ctx, resource, aces);
  ctx.res.statusCode = 200;
  ctx.res.setHeader('content-length', '0');
  ctx.res.end();
}
