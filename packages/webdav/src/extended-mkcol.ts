import { isPalabreError } from '@palabre/core';
import { hasBody } from './body.js';
import { DAV, DavError, PropertyPatchError, toDavError } from './errors.js';
import { nameOf, parentOf } from './href.js';
import { statusXml } from './multistatus.js';
import { toPatch } from './proppatch.js';
import { ifHeaderOf, readXmlBody, requirePrivilege } from './request.js';
import type { DavContext } from './resource.js';
import { clark, elements, parseClark, type XmlElement } from './xml-codec.js';

export interface ExtendedMkcolOptions {
  /** The body's root (`{DAV:}mkcol`, `{urn:ietf:params:xml:ns:caldav}mkcalendar`). */
  readonly root: string;
  /** The root of the answer to a body (`{DAV:}mkcol-response`, CALDAV:mkcalendar-response). */
  readonly responseRoot: string;
  /** Resource types the method gives by itself (MKCALENDAR: CALDAV:calendar). */
  readonly resourceTypes: readonly string[];
}

/**
 * MKCOL with a body (RFC 5689) and the methods built like it (MKCALENDAR, RFC 4791 §5.3.1): the
 * collection is made with its resource type and properties in one go, or not at all; a refusal is
 * answered with a propstat per property (403 for the refused ones, 424 for the others).
 */
export async function extendedMkcol(ctx: DavContext, options: ExtendedMkcolOptions): Promise<void> {
  const dav = ctx.dav;
  const { resource, parent } = await dav.lookup(ctx, ctx.path);
  if (resource) throw new DavError(405, 'something already exists here', { headers: { allow: dav.allowedMethods(ctx.path) } });
  if (!parent) throw new DavError(409, 'the parent collection does not exist');
  requirePrivilege(ctx, parent, 'bind');
  const submitted = await ifHeaderOf(ctx, null, ctx.path);
  await dav.locks.assertUnlocked(ctx, [{ path: parentOf(ctx.path) }], submitted);
  if (!parent.backend.makeCollection) throw new DavError(403, 'collections cannot be created here');
  const withBody = hasBody(ctx.req);
  // RFC 5689 §3: a body is an XML request; anything else is refused with 415 (RFC 4918 §9.3).
  const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (withBody && type !== '' && type !== 'application/xml' && type !== 'text/xml') throw new DavError(415, 'an extended MKCOL body is XML');
  const body = withBody ? await readXmlBody(ctx) : null;
  if (withBody && body && clark(body) !== options.root) throw new DavError(415, `the body must be a ${parseClark(options.root).name} element`);
  const props: XmlElement[] = [];
  for (const block of body ? elements(body) : []) {
    if (block.ns !== DAV || block.name !== 'set') throw new DavError(400, `${parseClark(options.root).name} holds DAV:set elements`);
    for (const prop of elements(block)) if (prop.ns === DAV && prop.name === 'prop') props.push(...elements(prop));
  }
  const typeEl = props.find((p) => p.ns === DAV && p.name === 'resourcetype');
  const requestedTypes = typeEl ? elements(typeEl).map(clark).filter((t) => t !== `{${DAV}}collection`) : [];
  const resourceTypes = [...new Set([...options.resourceTypes, ...requestedTypes])];
  const others = props.filter((p) => p !== typeEl);
  await dav.hooks.beforeBind(ctx, parent, ctx.path, true);
  try {
    await parent.backend.makeCollection(ctx, parent, nameOf(ctx.path), { resourceTypes, properties: toPatch(others.map((p) => ({ name: clark(p), set: p }))) });
  } catch (error) {
    if (!body) throw error;
    let refused: ReadonlyMap<string, { status: number; condition?: string }>;
    if (error instanceof PropertyPatchError) refused = error.refused;
    else if (isPalabreError(error) && [400, 403, 409, 413, 507].includes(toDavError(error).status)) refused = new Map(props.map((p) => [clark(p), { status: toDavError(error).status }]));
    else throw error;
    const names = props.map(clark);
    let xml = '';
    for (const name of new Set(names)) {
      const r = refused.get(name) ?? { status: 424 };
      const tag = dav.namespaces.tag(parseClark(name).ns, parseClark(name).name).empty;
      const condition = r.condition ? `<d:error>${dav.namespaces.tag(parseClark(r.condition).ns, parseClark(r.condition).name).empty}</d:error>` : '';
      xml += `<d:propstat><d:prop>${tag}</d:prop>${statusXml(r.status)}${condition}</d:propstat>`;
    }
    sendRooted(ctx, 403, options.responseRoot, xml);
    return;
  }
  await dav.hooks.afterChange(ctx, { kind: 'mkcol', path: ctx.path });
  if (body) {
    ctx.res.setHeader('cache-control', 'no-cache');
    sendRooted(ctx, 201, options.responseRoot, props.length ? `<d:propstat><d:prop>${props.map((p) => dav.namespaces.tag(p.ns, p.name).empty).join('')}</d:prop>${statusXml(200)}</d:propstat>` : '');
    return;
  }
  ctx.res.statusCode = 201;
  ctx.res.setHeader('content-length', '0');
  ctx.res.end();
}

/** A small XML answer whose root may be in any namespace (mkcol-response, mkcalendar-response). */
export function sendRooted(ctx: DavContext, status: number, rootClark: string, inner: string): void {
  const { ns, name } = parseClark(rootClark);
  const prefix = ctx.dav.namespaces.prefixOf(ns);
  const root = prefix ? `${prefix}:${name}` : name;
  const extra = prefix ? '' : ` xmlns="${ns}"`;
  const doc = `<?xml version="1.0" encoding="utf-8"?>\n<${root} ${ctx.dav.namespaces.declarations()}${extra}>${inner}</${root}>\n`;
  ctx.res.statusCode = status;
  ctx.res.setHeader('content-type', 'application/xml; charset=utf-8');
  ctx.res.setHeader('content-length', Buffer.byteLength(doc));
  ctx.res.end(doc);
}

