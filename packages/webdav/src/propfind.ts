import type { DeadProperty } from '@palabre/core';
import type { DavEngine } from './engine.js';
import { DAV, DavError } from './errors.js';
import { hrefXml, statusXml, XmlStream } from './multistatus.js';
import type { DavContext, DavResource, PropertyDefinition } from './resource.js';
import { clark, elements, escapeText, parseClark, type XmlElement } from './xml-codec.js';

/** Resources written per batch: each batch costs one dead-property query and one prepare() per property. */
const BATCH = 1000;

export type PropfindRequest = { mode: 'allprop'; include: string[] } | { mode: 'propname' } | { mode: 'prop'; names: string[] };

export function parsePropfind(body: XmlElement | null): PropfindRequest {
  if (!body) return { mode: 'allprop', include: [] };
  if (body.ns !== DAV || body.name !== 'propfind') throw new DavError(400, 'the body must be a DAV:propfind');
  const kids = elements(body).filter((e) => e.ns === DAV);
  const include = kids.find((e) => e.name === 'include');
  const names = (el: XmlElement) => elements(el).map(clark);
  if (kids.some((e) => e.name === 'propname')) return { mode: 'propname' };
  if (kids.some((e) => e.name === 'allprop')) return { mode: 'allprop', include: include ? names(include) : [] };
  const prop = kids.find((e) => e.name === 'prop');
  if (prop) return { mode: 'prop', names: [...new Set(names(prop))] };
  throw new DavError(400, 'propfind must hold allprop, propname or prop');
}

/** PROPFIND (RFC 4918 §9.1): Depth 0, 1 or a bounded infinity, streamed as it is computed. */
export async function propfindMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
  const raw = ((ctx.req as { originalUrl?: string }).originalUrl ?? ctx.req.url ?? '').split('?')[0];
  const serverRoot = raw === '/' && engine.base !== '';
  const depth = serverRoot ? '0' : engine.depth(ctx, ['0', '1', 'infinity'], 'infinity');
  const { resource } = await engine.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  engine.require(ctx, resource, 'read');
  const request = parsePropfind(await engine.readXml(ctx));
  let resources: DavResource[] = [resource];
  if (resource.collection && depth === '1') resources = resources.concat(await engine.members(ctx, resource));
  else if (resource.collection && depth === 'infinity') {
    const below = await engine.descendants(ctx, resource, engine.limits.maxInfinity);
    if (below === 'too-many') {
      throw new DavError(403, `Depth: infinity covers more than ${engine.limits.maxInfinity} resources here; use Depth 1`, {
        condition: `{${DAV}}propfind-finite-depth`,
      });
    }
    resources = resources.concat(below);
  }
  const out = new XmlStream(ctx.res, engine.namespaces);
  // Compute the first batch before committing to 207, so an error there is still a proper status.
  let pending = await renderBatch(engine, ctx, resources.slice(0, BATCH), request, serverRoot ? '/' : null);
  out.begin(207);
  for (let i = BATCH; ; i += BATCH) {
    await out.write(pending);
    if (i >= resources.length) break;
    pending = await renderBatch(engine, ctx, resources.slice(i, i + BATCH), request, null);
  }
  await out.end();
}

async function renderBatch(engine: DavEngine, ctx: DavContext, batch: DavResource[], request: PropfindRequest, firstHref: string | null): Promise<string> {
  const live = engine.properties;
  const wanted: PropertyDefinition[] =
    request.mode === 'prop'
      ? request.names.map((n) => live.get(n)).filter((d): d is PropertyDefinition => d !== undefined)
      : request.mode === 'allprop'
        ? [...live.values()].filter((d) => d.allprop || request.include.includes(d.name))
        : [...live.values()];
  const needDead = request.mode !== 'prop' || request.names.some((n) => !live.has(n));
  const prepared = new Map<string, unknown>();
  for (const def of wanted) if (def.prepare) prepared.set(def.name, await def.prepare(ctx, batch));
  const dead = needDead ? await deadOf(ctx, batch) : new Map<DavResource, DeadProperty[]>();

  // Tags and names are worked out once per batch, not once per resource.
  const columns = wanted.map((def) => {
    const { ns, name } = parseClark(def.name);
    return { def, tag: engine.namespaces.tag(ns, name), prepared: prepared.get(def.name) };
  });
  const requestedDead =
    request.mode === 'prop'
      ? request.names.filter((n) => !live.has(n)).map((n) => ({ name: n, empty: engine.namespaces.tag(parseClark(n).ns, parseClark(n).name).empty }))
      : [];
  let xml = '';
  for (let k = 0; k < batch.length; k++) {
    const r = batch[k]!;
    let found = '';
    let missing = '';
    let forbidden = '';
    for (const { def, tag, prepared: p } of columns) {
      if (def.privilege && !r.privileges.has(def.privilege) && !r.privileges.has('all')) {
        if (request.mode === 'prop') forbidden += tag.empty;
        continue;
      }
      let value = def.get(ctx, r, p);
      if (value instanceof Promise) value = await value;
      if (value === undefined) {
        if (request.mode === 'prop') missing += tag.empty;
        continue;
      }
      if (request.mode === 'propname') found += tag.empty;
      else if (typeof value === 'string') found += value ? `${tag.open}${escapeText(value)}${tag.close}` : tag.empty;
      else found += value.xml ? `${tag.open}${value.xml}${tag.close}` : tag.empty;
    }
    const deadProps = dead.get(r) ?? [];
    if (request.mode === 'prop') {
      for (const n of requestedDead) {
        const hit = deadProps.find((p) => p.name === n.name);
        if (hit) found += hit.value;
        else missing += n.empty;
      }
    } else {
      for (const p of deadProps) {
        if (live.has(p.name)) continue;
        if (request.mode === 'propname') {
          const { ns, name } = parseClark(p.name);
          found += engine.namespaces.tag(ns, name).empty;
        } else found += p.value;
      }
    }
    xml += `<d:response>${hrefXml(k === 0 && firstHref ? firstHref : engine.hrefOf(r))}`;
    if (found || (!missing && !forbidden)) xml += `<d:propstat><d:prop>${found}</d:prop>${statusXml(200)}</d:propstat>`;
    if (forbidden) xml += `<d:propstat><d:prop>${forbidden}</d:prop>${statusXml(403)}</d:propstat>`;
    if (missing) xml += `<d:propstat><d:prop>${missing}</d:prop>${statusXml(404)}</d:propstat>`;
    xml += '</d:response>';
  }
  return xml;
}

/** Dead properties of a batch, one call per backend. */
async function deadOf(ctx: DavContext, batch: readonly DavResource[]): Promise<Map<DavResource, DeadProperty[]>> {
  const byBackend = new Map<DavResource['backend'], DavResource[]>();
  for (const r of batch) {
    if (!r.backend.deadProperties) continue;
    const list = byBackend.get(r.backend) ?? [];
    list.push(r);
    byBackend.set(r.backend, list);
  }
  const out = new Map<DavResource, DeadProperty[]>();
  for (const [backend, list] of byBackend) for (const [r, props] of await backend.deadProperties!(ctx, list)) out.set(r, props);
  return out;
}
