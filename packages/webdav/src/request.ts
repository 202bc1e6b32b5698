import type { DavLock } from '@palabre/core';
import { hasBody, headerOf, readBody } from './body.js';
import { evaluateConditional } from './conditional.js';
import { DAV, DavError } from './errors.js';
import type { DavPath } from './href.js';
import { evaluateIf, parseIfHeader, submittedTokens } from './if-header.js';
import { hrefXml } from './multistatus.js';
import type { DavContext, DavResource, Privilege } from './resource.js';
import { parseXml, type XmlElement } from './xml-codec.js';

/**
 * What every method reads of a request the same way: the privilege it needs, Depth, Destination,
 * Overwrite, the If header and the HTTP conditionals, and its XML body. Methods of the engine and of
 * plugins (CalDAV, CardDAV) all go through these, so a header means one thing everywhere.
 */

/** The element of a privilege in Clark or short form, for need-privileges and privilege sets. */
export function privilegeXml(privilege: Privilege, ns: (uri: string, local: string) => string): string {
  if (!privilege.startsWith('{')) return `<d:privilege><d:${privilege}/></d:privilege>`;
  const end = privilege.indexOf('}');
  return `<d:privilege>${ns(privilege.slice(1, end), privilege.slice(end + 1))}</d:privilege>`;
}

/** 403 with DAV:need-privileges unless the principal holds `privilege` (or DAV:all) on the resource. */
export function requirePrivilege(ctx: DavContext, resource: DavResource, privilege: Privilege): void {
  if (resource.privileges.has(privilege) || resource.privileges.has('all')) return;
  const tag = (uri: string, local: string) => ctx.dav.namespaces.tag(uri, local).empty;
  throw new DavError(403, `${privilege} privilege required`, {
    condition: `{${DAV}}need-privileges`,
    conditionXml: `<d:resource>${hrefXml(ctx.dav.hrefOf(resource))}${privilegeXml(privilege, tag)}</d:resource>`,
  });
}

/** Depth header: one of `allowed`, or `fallback` when absent; 400 otherwise. */
export function depthOf<T extends '0' | '1' | 'infinity'>(ctx: DavContext, allowed: readonly T[], fallback: T): T {
  const raw = headerOf(ctx.req, 'depth');
  if (raw === undefined) return fallback;
  const v = raw.trim().toLowerCase() as T;
  if (!allowed.includes(v)) throw new DavError(400, `Depth must be ${allowed.join(' or ')}`);
  return v;
}

/** Overwrite header (RFC 4918 §10.6), T by default. */
export function overwriteOf(ctx: DavContext): boolean {
  const raw = headerOf(ctx.req, 'overwrite');
  if (raw === undefined) return true;
  const v = raw.trim().toUpperCase();
  if (v !== 'T' && v !== 'F') throw new DavError(400, 'Overwrite must be T or F');
  return v === 'T';
}

/** The Destination header as a path of this engine (502 for another server, 400 when malformed). */
export function destinationOf(ctx: DavContext): DavPath {
  const raw = headerOf(ctx.req, 'destination');
  if (!raw) throw new DavError(400, 'Destination header required');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new DavError(400, 'malformed Destination');
    }
    const host = ctx.req.headers.host;
    if (host && url.host.toLowerCase() !== host.toLowerCase()) throw new DavError(502, 'the destination is on another server');
  }
  const path = ctx.dav.pathOf(raw);
  if (!path) throw new DavError(502, 'the destination is outside this DAV service');
  return path;
}

/**
 * Evaluate the If header (412 when it fails) and return the lock tokens it submits. `resource` is what
 * the request-URI maps to (null if unmapped).
 */
export async function ifHeaderOf(ctx: DavContext, resource: DavResource | null, path: DavPath): Promise<Set<string>> {
  const raw = headerOf(ctx.req, 'if');
  if (raw === undefined) return new Set();
  const lists = parseIfHeader(raw);
  const store = ctx.dav.locks.store;
  const tokensAt = async (p: DavPath) => new Set<string>((await store.covering(p.key, ctx.now)).map((l: DavLock) => l.token));
  const ok = await evaluateIf(lists, async (tag) => {
    if (tag === null) return { etag: resource?.etag ?? null, tokens: await tokensAt(path) };
    let other: DavPath | null = null;
    try {
      other = ctx.dav.pathOf(tag);
    } catch {
      other = null;
    }
    if (!other) return { etag: null, tokens: new Set<string>() };
    const found = await ctx.dav.lookup(ctx, other).catch(() => null);
    return { etag: found?.resource?.etag ?? null, tokens: await tokensAt(other) };
  });
  if (!ok) throw new DavError(412, 'the If header does not hold');
  return submittedTokens(lists);
}

/**
 * A GET or HEAD's validators (ETag, Last-Modified) set on the answer; true when the conditional headers
 * made it a 304, already sent.
 */
export function answeredNotModified(ctx: DavContext, resource: DavResource): boolean {
  const res = ctx.res;
  if (resource.etag) res.setHeader('etag', resource.etag);
  if (resource.lastModified) res.setHeader('last-modified', resource.lastModified.toUTCString());
  if (conditionalOf(ctx, resource, true) !== 'not-modified') return false;
  res.statusCode = 304;
  res.end();
  return true;
}

/** If-Match / If-None-Match / If-(Un)Modified-Since. */
export function conditionalOf(ctx: DavContext, resource: DavResource | null, safe: boolean): 'proceed' | 'not-modified' {
  const outcome = evaluateConditional(ctx.req.headers, resource, safe);
  if (outcome === 'failed') throw new DavError(412, 'precondition failed');
  return outcome;
}

/** The XML request body, or null when there is none. Read it only once the request is authorised (100 Continue goes out then). */
export async function readXmlBody(ctx: DavContext): Promise<XmlElement | null> {
  if (!hasBody(ctx.req)) {
    ctx.req.resume();
    return null;
  }
  const body = await readBody(ctx.req, ctx.res, ctx.dav.limits.maxXmlBody);
  if (body.length === 0) return null;
  return parseXml(body, ctx.dav.xmlLimits);
}

/** The entity tag an If-Match names for an atomic recheck by the backend ('*', one tag, or none). */
export function ifMatchOf(ctx: DavContext, resource: DavResource | null): string | undefined {
  const ifMatch = ctx.req.headers['if-match'];
  if (!ifMatch) return undefined;
  return ifMatch.trim() === '*' ? '*' : (resource?.etag ?? undefined);
}

/**
 * RFC 8144: `Prefer: return=minimal` (and Microsoft's `Brief: t`) leave the 404 propstats out of a
 * multistatus. Returns whether it applies; the response then says so.
 */
export function preferMinimal(ctx: DavContext): boolean {
  const prefer = headerOf(ctx.req, 'prefer') ?? '';
  const brief = (headerOf(ctx.req, 'brief') ?? '').trim().toLowerCase();
  const minimal = /(^|[,;\s])return\s*=\s*"?minimal"?(?=$|[,;\s])/i.test(prefer) || brief === 't';
  ctx.res.setHeader('vary', 'Brief, Prefer');
  if (minimal) ctx.res.setHeader('preference-applied', 'return=minimal');
  return minimal;
}
