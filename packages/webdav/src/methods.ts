import { pipeline } from 'node:stream/promises';
import { declaredLength, hasBody, headerOf, refuseContentCoding, requestBody } from './body.js';
import { dispositionOf, USER_CONTENT_CSP } from './content-disposition.js';
import { DAV, DavError } from './errors.js';
import { extendedMkcol } from './extended-mkcol.js';
import { nameOf, parentOf } from './href.js';
import { parseEtagList } from './conditional.js';
import { parseRange } from './range.js';
import { answeredNotModified, conditionalOf, depthOf, ifHeaderOf, ifMatchOf, readXmlBody, requirePrivilege } from './request.js';
import type { DavContext, DavResource } from './resource.js';
import { clark, escapeAttr, escapeText } from './xml-codec.js';

/** Members a browser's index of a collection shows at most. */
const INDEX_LIMIT = 5000;

/** OPTIONS: the compliance classes and methods (the DAV header was set by the engine). */
export async function optionsMethod(ctx: DavContext): Promise<void> {
  if (hasBody(ctx.req)) ctx.req.resume();
  ctx.res.setHeader('allow', ctx.dav.allowedMethods(ctx.path));
  ctx.res.setHeader('accept-ranges', 'bytes');
  ctx.res.setHeader('content-length', '0');
  ctx.res.statusCode = 200;
  ctx.res.end();
}

/** GET and HEAD: ETag, Last-Modified, single Range, conditional 304; a small HTML index for collections. */
export async function getMethod(ctx: DavContext): Promise<void> {
  const { resource } = await ctx.dav.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  requirePrivilege(ctx, resource, 'read');
  const head = ctx.method === 'HEAD';
  const res = ctx.res;
  if (answeredNotModified(ctx, resource)) return;
  if (resource.collection) return collectionIndex(ctx, resource, head);
  if (!resource.backend.read) throw new DavError(405, 'this resource has no content');
  const size = resource.contentLength ?? 0;
  const type = resource.contentType ?? 'application/octet-stream';
  res.setHeader('content-type', type);
  res.setHeader('accept-ranges', 'bytes');
  // Stored content, maybe someone else's, on the DAV API's origin: sandboxed, and displayed only when passive.
  res.setHeader('content-security-policy', USER_CONTENT_CSP);
  const disposition = dispositionOf(type);
  if (disposition) res.setHeader('content-disposition', disposition);
  let range = parseRange(ctx.req.headers.range, size);
  const ifRange = headerOf(ctx.req, 'if-range');
  if (range && ifRange !== undefined) {
    const matches = ifRange.trim().startsWith('"') || ifRange.trim().startsWith('W/')
      ? parseEtagList(ifRange)[0] === resource.etag
      : resource.lastModified !== null && Date.parse(ifRange) >= Math.floor(resource.lastModified.getTime() / 1000) * 1000;
    if (!matches) range = null;
  }
  if (range === 'unsatisfiable') {
    throw new DavError(416, 'range not satisfiable', { headers: { 'content-range': `bytes */${size}` } });
  }
  if (range) {
    res.statusCode = 206;
    res.setHeader('content-range', `bytes ${range.start}-${range.end}/${size}`);
    res.setHeader('content-length', range.end - range.start + 1);
  } else {
    res.statusCode = 200;
    res.setHeader('content-length', size);
  }
  if (head || size === 0) {
    res.end();
    return;
  }
  const content = await resource.backend.read(ctx, resource, range ?? undefined);
  if (Buffer.isBuffer(content)) {
    res.end(content);
    return;
  }
  try {
    await pipeline(content, res);
  } catch (error) {
    // A download the client cut short is an expected event (499, logged at info), not a failure.
    if (res.destroyed || ctx.req.socket?.destroyed) throw new DavError(499, 'the download was interrupted', { cause: error });
    throw error;
  }
}

async function collectionIndex(ctx: DavContext, resource: DavResource, head: boolean): Promise<void> {
  const members: DavResource[] = [];
  for await (const page of ctx.dav.memberPages(ctx, resource)) {
    members.push(...page);
    if (members.length > INDEX_LIMIT) break;
  }
  const rows = members
    .map((m) => `<li><a href="${escapeAttr(ctx.dav.hrefOf(m))}">${escapeText(nameOf(m.path))}${m.collection ? '/' : ''}</a></li>`)
    .join('\n');
  const title = escapeText(ctx.dav.hrefOf(resource));
  const html = `<!doctype html>\n<html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><ul>\n${rows}\n</ul></body></html>\n`;
  ctx.res.statusCode = 200;
  ctx.res.setHeader('content-type', 'text/html; charset=utf-8');
  ctx.res.setHeader('content-security-policy', "default-src 'none'");
  ctx.res.setHeader('content-length', Buffer.byteLength(html));
  ctx.res.end(head ? undefined : html);
}

/** PUT: streamed into the backend; 201 when created, 204 when replaced, with the new ETag. */
export async function putMethod(ctx: DavContext): Promise<void> {
  const req = ctx.req;
  refuseContentCoding(req);
  if (req.headers['content-range']) throw new DavError(400, 'partial PUT (Content-Range) is not supported');
  const length = declaredLength(req);
  const expectedHeader = headerOf(req, 'x-expected-entity-length');
  let expected = length;
  if (expected === null && typeof expectedHeader === 'string') {
    if (!/^\d{1,15}$/.test(expectedHeader)) throw new DavError(400, 'invalid X-Expected-Entity-Length');
    expected = Number(expectedHeader);
  }
  const { resource, parent } = await ctx.dav.lookup(ctx, ctx.path);
  if (resource?.collection) throw new DavError(405, 'PUT cannot replace a collection', { headers: { allow: ctx.dav.allowedMethods(ctx.path) } });
  if (!resource) {
    if (!parent) throw new DavError(409, 'the parent collection does not exist');
    requirePrivilege(ctx, parent, 'bind');
  } else requirePrivilege(ctx, resource, 'write-content');
  conditionalOf(ctx, resource, false);
  const submitted = await ifHeaderOf(ctx, resource, ctx.path);
  await ctx.dav.locks.assertUnlocked(ctx, [{ path: resource ? ctx.path : parentOf(ctx.path) }, ...(resource ? [] : [{ path: ctx.path }])], submitted);
  const into = parent ?? (await ctx.dav.lookup(ctx, parentOf(ctx.path))).resource;
  if (!into?.backend.write) throw new DavError(405, 'resources cannot be written here');
  if (!resource) await ctx.dav.hooks.beforeBind(ctx, into, ctx.path, false);
  // The body is asked for (100 Continue) when the backend starts reading it: after its quota check.
  const { resource: written, created } = await into.backend.write(ctx, into, nameOf(ctx.path), {
    body: requestBody(req, ctx.res),
    freshPieces: true,
    contentType: req.headers['content-type'] ?? null,
    expectedLength: expected,
    ifMatch: ifMatchOf(ctx, resource),
    ifNoneMatchAny: req.headers['if-none-match']?.trim() === '*',
    existing: resource,
  });
  if (written.etag) ctx.res.setHeader('etag', written.etag);
  if (written.lastModified) ctx.res.setHeader('last-modified', written.lastModified.toUTCString());
  await ctx.dav.hooks.afterChange(ctx, { kind: 'put', path: ctx.path });
  ctx.res.statusCode = created ? 201 : 204;
  if (created) ctx.res.setHeader('location', ctx.dav.hrefOf(written));
  ctx.res.setHeader('content-length', '0');
  ctx.res.end();
}

/** DELETE: the resource and everything below it, or nothing (423/412/403 first). */
export async function deleteMethod(ctx: DavContext): Promise<void> {
  const { resource, parent } = await ctx.dav.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  if (resource.collection) depthOf(ctx, ['infinity'], 'infinity');
  if (!parent || !resource.backend.remove) throw new DavError(403, 'this resource cannot be deleted');
  requirePrivilege(ctx, parent, 'unbind');
  conditionalOf(ctx, resource, false);
  const submitted = await ifHeaderOf(ctx, resource, ctx.path);
  await ctx.dav.locks.assertUnlocked(ctx, [{ path: parentOf(ctx.path) }, { path: ctx.path, deep: resource.collection }], submitted);
  if (hasBody(ctx.req)) ctx.req.resume();
  await resource.backend.remove(ctx, resource, { ifMatch: ifMatchOf(ctx, resource) });
  await ctx.dav.locks.store.removeTree(ctx.path.key);
  await ctx.dav.hooks.afterChange(ctx, { kind: 'delete', path: ctx.path });
  ctx.res.statusCode = 204;
  ctx.res.end();
}

/** MKCOL (RFC 4918 §9.3) and extended MKCOL (RFC 5689): a plain collection, or one with a resource type and properties. */
export async function mkcolMethod(ctx: DavContext): Promise<void> {
  await extendedMkcol(ctx, { root: `{${DAV}}mkcol`, responseRoot: `{${DAV}}mkcol-response`, resourceTypes: [] });
}

/**
 * POST: handed to the plugin whose handler matches the body's root element (XML bodies: CalendarServer
 * sharing requests) or the content type (a schedule outbox's text/calendar), for the target's mount.
 * Each handler checks the privilege its operation needs.
 */
export async function postMethod(ctx: DavContext): Promise<void> {
  const { resource } = await ctx.dav.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  const mount = ctx.path.segments[0];
  const handlers = ctx.dav.postHandlers.filter((h) => !h.mount || h.mount === mount);
  if (handlers.length === 0) throw new DavError(405, 'POST is not supported here', { headers: { allow: ctx.dav.allowedMethods(ctx.path) } });
  const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const byType = handlers.find((h) => h.contentType === type);
  if (byType) return byType.handle(ctx, resource, null);
  if (type !== 'application/xml' && type !== 'text/xml') throw new DavError(415, `POST of ${type || 'an untyped body'} is not supported here`);
  requirePrivilege(ctx, resource, 'read');
  const body = await readXmlBody(ctx);
  const root = body ? clark(body) : '';
  const byRoot = handlers.find((h) => h.root === root);
  if (!byRoot || !body) throw new DavError(400, 'this POST body is not understood here');
  await byRoot.handle(ctx, resource, body);
}
