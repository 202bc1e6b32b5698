import type { DeadProperty } from '@palabre/core';
import { DAV, DavError } from './errors.js';
import { hrefXml, statusXml } from './multistatus.js';
import type { DavContext, DavResource, PropertyDefinition } from './resource.js';
import { clark, elements, escapeText, parseClark, type XmlElement } from './xml-codec.js';

/**
 * The one propstat renderer: PROPFIND and every REPORT that returns properties (multiget,
 * calendar-query, sync-collection…) describe what they want as a PropRequest and get the same
 * <d:response> elements, with the same privilege checks, batching and RFC 8144 minimal form.
 */
export type PropRequest =
  | { readonly mode: 'allprop'; readonly include: readonly string[] }
  | { readonly mode: 'propname' }
  /** `elements` keeps each requested element: a getter may read its attributes and children (calendar-data comp/expand). */
  | { readonly mode: 'prop'; readonly names: readonly string[]; readonly elements: ReadonlyMap<string, XmlElement> };

/** A DAV:prop element as a request for those properties. */
export function propRequestOf(prop: XmlElement): PropRequest {
  const elementsByName = new Map<string, XmlElement>();
  for (const el of elements(prop)) if (!elementsByName.has(clark(el))) elementsByName.set(clark(el), el);
  return { mode: 'prop', names: [...elementsByName.keys()], elements: elementsByName };
}

/** The body of a PROPFIND (RFC 4918 §9.1), absent meaning allprop. */
export function parsePropfind(body: XmlElement | null): PropRequest {
  if (!body) return { mode: 'allprop', include: [] };
  if (body.ns !== DAV || body.name !== 'propfind') throw new DavError(400, 'the body must be a DAV:propfind');
  const kids = elements(body).filter((e) => e.ns === DAV);
  const include = kids.find((e) => e.name === 'include');
  if (kids.some((e) => e.name === 'propname')) return { mode: 'propname' };
  if (kids.some((e) => e.name === 'allprop')) return { mode: 'allprop', include: include ? elements(include).map(clark) : [] };
  const prop = kids.find((e) => e.name === 'prop');
  if (prop) return propRequestOf(prop);
  throw new DavError(400, 'propfind must hold allprop, propname or prop');
}

export interface RenderOptions {
  /** The href to give the first resource instead of its own (the server root "/"). */
  readonly firstHref?: string | null;
  /** RFC 8144 return=minimal: no 404 propstats. */
  readonly minimal?: boolean;
}

/** One property a response asks of resources with one set of definitions, its tags looked up once. */
interface PlannedProperty {
  readonly name: string;
  readonly def: PropertyDefinition | undefined;
  readonly tag: { readonly open: string; readonly close: string; readonly empty: string };
  /** The last text value and its element: a listing's getcontenttype is one string for 25,000 resources. */
  lastValue: string | undefined;
  lastXml: string;
}

/**
 * <d:response> elements for a batch of resources: one dead-property query and one prepare() per property.
 * What each resource is asked is planned once per set of definitions (resources of one backend share
 * one), so a listing of 1,000 files costs per file only its getters and the text they give.
 */
export async function renderResponses(ctx: DavContext, batch: readonly DavResource[], request: PropRequest, options: RenderOptions = {}): Promise<string> {
  return (await renderResponseList(ctx, batch, request, options)).join('');
}

/**
 * renderResponses() as one string per resource, for a caller that streams them (XmlStream.append): a
 * long listing is then never one string of concatenations, which costs more to send than to build.
 */
export async function renderResponseList(ctx: DavContext, batch: readonly DavResource[], request: PropRequest, options: RenderOptions = {}): Promise<string[]> {
  const out: string[] = [];
  if (batch.length === 0) return out;
  const ns = ctx.dav.namespaces;
  const tagOf = (name: string) => ns.tagOfClark(name);
  // A `prop` request looks only at the names it asks for (a listing of 25,000 objects would otherwise try
  // every definition of every plugin on each of them).
  const defsOf = batch.map((r) => (request.mode === 'prop' ? ctx.dav.propertiesNamed(r, request.names) : ctx.dav.propertiesOf(r)));
  const plans = new Map<ReadonlyMap<string, PropertyDefinition>, PlannedProperty[]>();
  const planOf = (defs: ReadonlyMap<string, PropertyDefinition>): PlannedProperty[] => {
    let plan = plans.get(defs);
    if (plan) return plan;
    plan = [];
    if (request.mode === 'prop') {
      for (const name of request.names) plan.push({ name, def: defs.get(name), tag: tagOf(name), lastValue: undefined, lastXml: '' });
    } else {
      for (const def of defs.values()) {
        if (request.mode === 'propname' || def.allprop || request.include.includes(def.name)) plan.push({ name: def.name, def, tag: tagOf(def.name), lastValue: undefined, lastXml: '' });
      }
    }
    plans.set(defs, plan);
    return plan;
  };
  const plansOf = defsOf.map(planOf);
  // Which live properties that prepare() for a batch are wanted, for which resources of the batch.
  const wanted = new Map<string, { def: PropertyDefinition; resources: DavResource[] }>();
  for (let k = 0; k < batch.length; k++) {
    for (const { def } of plansOf[k]!) {
      if (!def?.prepare) continue;
      let entry = wanted.get(def.name);
      if (!entry) wanted.set(def.name, (entry = { def, resources: [] }));
      entry.resources.push(batch[k]!);
    }
  }
  const requestedEl = (name: string) => (request.mode === 'prop' ? (request.elements.get(name) ?? null) : null);
  const prepared = new Map<string, unknown>();
  for (const { def, resources } of wanted.values()) prepared.set(def.name, await def.prepare!(ctx, resources, requestedEl(def.name)));
  const needDead = request.mode !== 'prop' || batch.some((r, k) => plansOf[k]!.some((p) => !p.def) || request.names.some((n) => r.backend.writableProperties?.(r).has(n)));
  const dead = needDead ? await deadOf(ctx, batch) : new Map<DavResource, DeadProperty[]>();
  const propname = request.mode === 'propname';
  const named = request.mode === 'prop';

  for (let k = 0; k < batch.length; k++) {
    const r = batch[k]!;
    const defs = defsOf[k]!;
    const deadProps = dead.get(r);
    let found = '';
    let missing = '';
    let forbidden = '';
    let refused = '';
    for (const planned of plansOf[k]!) {
      const { name, def, tag } = planned;
      if (!def) {
        // Not a live property here: a dead one, or absent (only a named request asks for those).
        const hit = deadProps?.find((p) => p.name === name);
        if (hit) found += hit.value;
        else missing += tag.empty;
        continue;
      }
      if (def.privilege && !r.privileges.has(def.privilege) && !r.privileges.has('all')) {
        if (named) forbidden += tag.empty;
        continue;
      }
      let value;
      try {
        value = def.get(ctx, r, prepared.get(name), named ? requestedEl(name) : null);
        if (value instanceof Promise) value = await value;
      } catch (error) {
        // A property this resource cannot give as asked (an expansion past its bounds): refused in its own
        // propstat with its precondition, the other properties and resources answered as usual.
        if (!(error instanceof DavError) || error.status >= 500) throw error;
        refused += propstatOf(tag.empty, error, tagOf);
        continue;
      }
      if (value === undefined) {
        // A live property the backend lets clients set and keeps with the dead ones ({DAV:}displayname).
        const stored = deadProps?.find((p) => p.name === name);
        if (stored) found += propname ? tag.empty : stored.value;
        else if (named) missing += tag.empty;
        continue;
      }
      if (propname) found += tag.empty;
      else if (typeof value === 'string') {
        if (planned.lastValue !== value) {
          planned.lastValue = value;
          planned.lastXml = value ? `${tag.open}${escapeText(value)}${tag.close}` : tag.empty;
        }
        found += planned.lastXml;
      } else found += value.xml ? `${tag.open}${value.xml}${tag.close}` : tag.empty;
    }
    if (!named && deadProps) {
      for (const p of deadProps) {
        if (defs.has(p.name)) continue;
        found += propname ? tagOf(p.name).empty : p.value;
      }
    }
    if (options.minimal) missing = '';
    let xml = `<d:response>${hrefXml(k === 0 && options.firstHref ? options.firstHref : ctx.href(r.path, r.collection))}`;
    if (found || (!missing && !forbidden && !refused)) xml += `<d:propstat><d:prop>${found}</d:prop>${STATUS_200}</d:propstat>`;
    xml += refused;
    if (forbidden) xml += `<d:propstat><d:prop>${forbidden}</d:prop>${statusXml(403)}</d:propstat>`;
    if (missing) xml += `<d:propstat><d:prop>${missing}</d:prop>${statusXml(404)}</d:propstat>`;
    out.push(`${xml}</d:response>`);
  }
  return out;
}

const STATUS_200 = statusXml(200);

/** One property refused by its getter: RFC 4918 §14.22 lets a propstat carry the DAV:error. */
function propstatOf(prop: string, error: DavError, tagOf: (name: string) => { empty: string }): string {
  const condition = error.condition ? `<d:error>${tagOf(error.condition).empty}</d:error>` : '';
  return `<d:propstat><d:prop>${prop}</d:prop>${statusXml(error.status)}${condition}<d:responsedescription>${escapeText(error.message)}</d:responsedescription></d:propstat>`;
}

/** A <d:response> with a status and no properties (a multiget href that does not exist, a sync deletion). */
export function statusResponse(href: string, status: number): string {
  return `<d:response>${hrefXml(href)}${statusXml(status)}</d:response>`;
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
