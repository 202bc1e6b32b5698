import { pipeline } from 'node:stream/promises';
import { declaredLength, hasBody, headerOf, refuseContentCoding, requestBody } from './body.js';
import { dispositionOf, USER_CONTENT_CSP } from './content-disposition.js';
import type { DavEngine } from './engine.js';
import { DavError } from './errors.js';
import { nameOf, parentOf } from './href.js';
import { parseEtagList } from './conditional.js';
import { parseRange } from './range.js';
import type { DavContext, DavResource } from './resource.js';
import { escapeAttr, escapeText } from './xml-codec.js';

/** OPTIONS: the compliance classes and methods (the DAV header was set by the engine). */
export async function optionsMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
  if (hasBody(ctx.req)) ctx.req.resume();
  ctx.res.setHeader('allow', engine.allowedMethods());
  ctx.res.setHeader('accept-ranges', 'bytes');
  ctx.res.setHeader('content-length', '0');
  ctx.res.statusCode = 200;
  ctx.res.end();
}

/** GET and HEAD: ETag, Last-Modified, single Range, conditional 304; a small HTML index for collections. */
export async function getMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
  const { resource } = await engine.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  engine.require(ctx, resource, 'read');
  const head = ctx.method === 'HEAD';
  const res = ctx.res;
  if (resource.etag) res.setHeader('etag', resource.etag);
  if (resource.lastModified) res.setHeader('last-modified', resource.lastModified.toUTCString());
  if (engine.conditional(ctx, resource, true) === 'not-modified') {
    res.statusCode = 304;
    res.end();
    return;
  }
  if (resource.collection) return collectionIndex(engine, ctx, resource, head);
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

async function collectionIndex(engine: DavEngine, ctx: DavContext, resource: DavResource, head: boolean): Promise<void> {
  const members = await engine.members(ctx, resource);
  const rows = members
    .map((m) => `<li><a href="${escapeAttr(engine.hrefOf(m))}">${escapeText(nameOf(m.path))}${m.collection ? '/' : ''}</a></li>`)
    .join('\n');
  const title = escapeText(engine.hrefOf(resource));
  const html = `<!doctype html>\n<html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><ul>\n${rows}\n</ul></body></html>\n`;
  ctx.res.statusCode = 200;
  ctx.res.setHeader('content-type', 'text/html; charset=utf-8');
  ctx.res.setHeader('content-security-policy', "default-src 'none'");
  ctx.res.setHeader('content-length', Buffer.byteLength(html));
  ctx.res.end(head ? undefined : html);
}

/** PUT: streamed into the backend; 201 when created, 204 when replaced, with the new ETag. */
export async function putMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
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
  const { resource, parent } = await engine.lookup(ctx, ctx.path);
  if (resource?.collection) throw new DavError(405, 'PUT cannot replace a collection', { headers: { allow: engine.allowedMethods() } });
  if (!resource) {
    if (!parent) throw new DavError(409, 'the parent collection does not exist');
    engine.require(ctx, parent, 'bind');
  } else engine.require(ctx, resource, 'write-content');
  engine.conditional(ctx, resource, false);
  const submitted = await engine.ifHeader(ctx, resource, ctx.path);
  await engine.locks.assertUnlocked(engine, ctx, [{ path: resource ? ctx.path : parentOf(ctx.path) }, ...(resource ? [] : [{ path: ctx.path }])], submitted);
  const into = parent ?? (await engine.lookup(ctx, parentOf(ctx.path))).resource;
  if (!into?.backend.write) throw new DavError(405, 'resources cannot be written here');
  if (!resource) await engine.hooks.beforeBind(ctx, into, ctx.path, false);
  const ifMatch = req.headers['if-match'];
  // The body is asked for (100 Continue) when the backend starts reading it: after its quota check.
  const { resource: written, created } = await into.backend.write(ctx, into, nameOf(ctx.path), {
    body: requestBody(req, ctx.res),
    contentType: req.headers['content-type'] ?? null,
    expectedLength: expected,
    ifMatch: ifMatch ? (ifMatch.trim() === '*' ? '*' : resource?.etag ?? undefined) : undefined,
    ifNoneMatchAny: req.headers['if-none-match']?.trim() === '*',
    existing: resource,
  });
  if (written.etag) ctx.res.setHeader('etag', written.etag);
  if (written.lastModified) ctx.res.setHeader('last-modified', written.lastModified.toUTCString());
  await engine.hooks.afterChange(ctx, { kind: 'put', path: ctx.path });
  ctx.res.statusCode = created ? 201 : 204;
  if (created) ctx.res.setHeader('location', engine.hrefOf(written));
  ctx.res.setHeader('content-length', '0');
  ctx.res.end();
}

/** DELETE: the resource and everything below it, or nothing (423/412/403 first). */
export async function deleteMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
  const { resource, parent } = await engine.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  if (resource.collection) engine.depth(ctx, ['infinity'], 'infinity');
  if (!parent || !resource.backend.remove) throw new DavError(403, 'this resource cannot be deleted');
  engine.require(ctx, parent, 'unbind');
  engine.conditional(ctx, resource, false);
  const submitted = await engine.ifHeader(ctx, resource, ctx.path);
  await engine.locks.assertUnlocked(engine, ctx, [{ path: parentOf(ctx.path) }, { path: ctx.path, deep: resource.collection }], submitted);
  if (hasBody(ctx.req)) ctx.req.resume();
  await resource.backend.remove(ctx, resource);
  await engine.locks.store.removeTree(ctx.path.key);
  await engine.hooks.afterChange(ctx, { kind: 'delete', path: ctx.path });
  ctx.res.statusCode = 204;
  ctx.res.end();
}

/** MKCOL: 201, 405 when mapped, 409 without a parent, 415 with a body (no extended MKCOL bodies here). */
export async function mkcolMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
  if (hasBody(ctx.req)) throw new DavError(415, 'MKCOL with a body is not supported');
  const { resource, parent } = await engine.lookup(ctx, ctx.path);
  if (resource) throw new DavError(405, 'something already exists here', { headers: { allow: engine.allowedMethods() } });
  if (!parent) throw new DavError(409, 'the parent collection does not exist');
  engine.require(ctx, parent, 'bind');
  const submitted = await engine.ifHeader(ctx, null, ctx.path);
  await engine.locks.assertUnlocked(engine, ctx, [{ path: parentOf(ctx.path) }], submitted);
  if (!parent.backend.makeCollection) throw new DavError(403, 'collections cannot be created here');
  await engine.hooks.beforeBind(ctx, parent, ctx.path, true);
  await parent.backend.makeCollection(ctx, parent, nameOf(ctx.path));
  await engine.hooks.afterChange(ctx, { kind: 'mkcol', path: ctx.path });
  ctx.res.statusCode = 201;
  ctx.res.setHeader('content-length', '0');
  ctx.res.end();
}
