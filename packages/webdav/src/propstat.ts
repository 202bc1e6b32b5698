import type { DeadProperty } from '@palabre/core';
import { DAV, DavError } from './errors.js';
import { hrefXml, statusXml } from './multistatus.js';
import type { DavContext, DavResource, PropertyDefinition, PropertyValue } from './resource.js';
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
  /** What it renders depends on the resource object alone, given that the resource has no dead property (see `stable`). */
  readonly stable: boolean;
  /** The last text value and its element: a listing's getcontenttype is one string for 25,000 resources. */
  lastValue: string | undefined;
  lastXml: string;
}

/** The parts of one <d:response> as its properties are rendered. */
interface Parts {
  found: string;
  missing: string;
  forbidden: string;
  refused: string;
}

/**
 * What was rendered for a resource object that its backend hands out again (DavBackend.reusesResources),
 * for one plan: the stable properties' parts, made once, and the last whole <d:response> with what it was
 * made of besides them (its href, the other properties' parts), reused while those are the same. Only
 * resources without dead properties are kept, so that a PROPPATCH (which changes no version) is seen at
 * once; anything else (locks, quota, the principal's own properties) is rendered again every time.
 */
interface Rendered {
  readonly plan: readonly PlannedProperty[];
  readonly stable: Parts;
  href: string;
  minimal: boolean;
  others: Parts | null;
  xml: string;
}

/** Per reused resource object: what was rendered for it, for at most two plans (a client's allprop and its named request). */
const renderedOf = new WeakMap<DavResource, Rendered[]>();
/** Plans by set of definitions and request: the same listing asked again plans nothing. */
const plansOf = new WeakMap<ReadonlyMap<string, PropertyDefinition>, Map<string, PlannedProperty[]>>();

function requestKey(request: PropRequest): string {
  if (request.mode === 'propname') return 'n';
  return request.mode === 'allprop' ? `a ${request.include.join('\n')}` : `p ${request.names.join('\n')}`;
}

function planFor(ctx: DavContext, defs: ReadonlyMap<string, PropertyDefinition>, request: PropRequest, key: string): PlannedProperty[] {
  let byRequest = plansOf.get(defs);
  if (!byRequest) plansOf.set(defs, (byRequest = new Map()));
  let plan = byRequest.get(key);
  if (plan) return plan;
  const tagOf = (name: string) => ctx.dav.namespaces.tagOfClark(name);
  const planned = (name: string, def: PropertyDefinition | undefined): PlannedProperty => ({
    name,
    def,
    tag: tagOf(name),
    stable: request.mode !== 'propname' && (def === undefined || def.stable === true),
    lastValue: undefined,
    lastXml: '',
  });
  plan = [];
  if (request.mode === 'prop') {
    for (const name of request.names) plan.push(planned(name, defs.get(name)));
  } else {
    for (const def of defs.values()) {
      if (request.mode === 'propname' || def.allprop || request.include.includes(def.name)) plan.push(planned(def.name, def));
    }
  }
  // Bounded: clients choose the requests.
  if (byRequest.size >= 64) byRequest.clear();
  byRequest.set(key, plan);
  return plan;
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
  // A `prop` request looks only at the names it asks for (a listing of 25,000 objects would otherwise try
  // every definition of every plugin on each of them).
  const defsOf = batch.map((r) => (request.mode === 'prop' ? ctx.dav.propertiesNamed(r, request.names) : ctx.dav.propertiesOf(r)));
  const key = requestKey(request);
  const plansOfBatch = defsOf.map((defs) => planFor(ctx, defs, request, key));
  // Which live properties are wanted, for which resources of the batch.
  const wanted = new Map<string, { def: PropertyDefinition; resources: DavResource[] }>();
  for (let k = 0; k < batch.length; k++) {
    for (const { def } of plansOfBatch[k]!) {
      if (!def || !def.prepare) continue;
      let entry = wanted.get(def.name);
      if (!entry) wanted.set(def.name, (entry = { def, resources: [] }));
      entry.resources.push(batch[k]!);
    }
  }
  const requestedEl = (name: string) => (request.mode === 'prop' ? (request.elements.get(name) ?? null) : null);
  const prepared = new Map<string, unknown>();
  for (const { def, resources } of wanted.values()) prepared.set(def.name, await def.prepare!(ctx, resources, requestedEl(def.name)));
  const needDead = request.mode !== 'prop' || batch.some((r, k) => request.names.some((n) => !defsOf[k]!.has(n) || r.backend.writableProperties?.(r).has(n)));
  const dead = needDead ? await deadOf(ctx, batch) : new Map<DavResource, DeadProperty[]>();
  const propname = request.mode === 'propname';
  const named = request.mode === 'prop';
  const minimal = options.minimal === true;

  const how: How = { ctx, prepared, named, propname, requestedEl };
  /** One planned property of `r` added to `parts`; a Promise only when its getter answered with one. */
  const add = (r: DavResource, planned: PlannedProperty, deadProps: readonly DeadProperty[] | undefined, parts: Parts) => addProperty(how, r, planned, deadProps, parts);

  for (let k = 0; k < batch.length; k++) {
    const r = batch[k]!;
    const defs = defsOf[k]!;
    const plan = plansOfBatch[k]!;
    const deadProps = dead.get(r);
    const href = k === 0 && options.firstHref ? options.firstHref : ctx.href(r.path, r.collection);
    if (r.backend.reusesResources && !propname && !deadProps?.length) {
      let xml = renderReused(r, plan, href, minimal, add);
      if (xml instanceof Promise) xml = await xml;
      if (xml !== null) {
        out.push(xml);
        continue;
      }
    }
    const parts: Parts = { found: '', missing: '', forbidden: '', refused: '' };
    for (const planned of plan) {
      const pending = add(r, planned, deadProps, parts);
      if (pending) await pending;
    }
    if (!named && deadProps) {
      for (const p of deadProps) {
        if (defs.has(p.name)) continue;
        parts.found += propname ? ctx.dav.namespaces.tagOfClark(p.name).empty : p.value;
      }
    }
    out.push(responseXml(href, parts, minimal));
  }
  return out;
}

/**
 * A reused resource's <d:response>: its stable properties rendered once, the others every time, the
 * whole string itself again when nothing differs from the last time. Null when a stable getter would not
 * answer at once (a promise, a refusal): that resource is rendered as any other.
 */
function renderReused(
  r: DavResource,
  plan: readonly PlannedProperty[],
  href: string,
  minimal: boolean,
  add: (r: DavResource, planned: PlannedProperty, deadProps: undefined, parts: Parts) => void | Promise<void>,
): string | null | Promise<string | null> {
  let list = renderedOf.get(r);
  let entry = list && (list[0]!.plan === plan ? list[0] : list[1]?.plan === plan ? list[1] : undefined);
  if (!entry) {
    const stable: Parts = { found: '', missing: '', forbidden: '', refused: '' };
    for (const planned of plan) {
      if (!planned.stable) continue;
      const pending = add(r, planned, undefined, stable);
      if (pending) {
        // Not stable after all (it answered later): this resource is rendered as any other.
        pending.catch(() => undefined);
        return null;
      }
    }
    if (stable.refused) return null;
    entry = { plan, stable, href: '', minimal, others: null, xml: '' };
    list = [entry, ...(list ?? [])].slice(0, 2);
    renderedOf.set(r, list);
  }
  const others: Parts = { found: '', missing: '', forbidden: '', refused: '' };
  let pending: Promise<void> | null = null;
  for (const planned of plan) {
    if (planned.stable) continue;
    // Each in turn, as a getter may answer later (a collection's quota).
    pending = pending ? pending.then(() => add(r, planned, undefined, others)) : (add(r, planned, undefined, others) ?? null);
  }
  const done = entry;
  return pending ? pending.then(() => reuse(done, others, href, minimal)) : reuse(done, others, href, minimal);
}

/** The entry's last <d:response> when made of the same href and other parts, else a new one (kept). */
function reuse(entry: Rendered, others: Parts, href: string, minimal: boolean): string {
  const last = entry.others;
  if (
    last &&
    entry.href === href &&
    entry.minimal === minimal &&
    last.found === others.found &&
    last.missing === others.missing &&
    last.forbidden === others.forbidden &&
    last.refused === others.refused
  ) {
    return entry.xml;
  }
  const { stable } = entry;
  const xml = responseXml(
    href,
    { found: stable.found + others.found, missing: stable.missing + others.missing, forbidden: stable.forbidden + others.forbidden, refused: others.refused },
    minimal,
  );
  entry.href = href;
  entry.minimal = minimal;
  entry.others = others;
  entry.xml = xml;
  return xml;
}

/** What adding a property needs of the request. */
interface How {
  readonly ctx: DavContext;
  readonly prepared: ReadonlyMap<string, unknown>;
  readonly named: boolean;
  readonly propname: boolean;
  readonly requestedEl: (name: string) => XmlElement | null;
}

/** One planned property of `r` added to `parts`; a Promise only when its getter answered with one. */
function addProperty(how: How, r: DavResource, planned: PlannedProperty, deadProps: readonly DeadProperty[] | undefined, parts: Parts): void | Promise<void> {
  const { name, def, tag } = planned;
  if (!def) {
    // Not a live property here: a dead one, or absent (only a named request asks for those).
    const hit = deadProps?.find((p) => p.name === name);
    if (hit) parts.found += hit.value;
    else parts.missing += tag.empty;
    return;
  }
  if (def.privilege && !r.privileges.has(def.privilege) && !r.privileges.has('all')) {
    if (how.named) parts.forbidden += tag.empty;
    return;
  }
  let value;
  try {
    value = def.get(how.ctx, r, how.prepared.get(name), how.named ? how.requestedEl(name) : null);
  } catch (error) {
    return refuseProperty(how, planned, parts, error);
  }
  if (value instanceof Promise) {
    return value.then(
      (v: PropertyValue | undefined) => settleProperty(how, planned, deadProps, parts, v),
      (error: unknown) => refuseProperty(how, planned, parts, error),
    );
  }
  settleProperty(how, planned, deadProps, parts, value);
}

function settleProperty(how: How, planned: PlannedProperty, deadProps: readonly DeadProperty[] | undefined, parts: Parts, value: PropertyValue | undefined): void {
  const { tag } = planned;
  if (value === undefined) {
    // A live property the backend lets clients set and keeps with the dead ones ({DAV:}displayname).
    const stored = deadProps?.find((p) => p.name === planned.name);
    if (stored) parts.found += how.propname ? tag.empty : stored.value;
    else if (how.named) parts.missing += tag.empty;
  } else if (how.propname) parts.found += tag.empty;
  else if (typeof value === 'string') {
    if (planned.lastValue !== value) {
      planned.lastValue = value;
      planned.lastXml = value ? `${tag.open}${escapeText(value)}${tag.close}` : tag.empty;
    }
    parts.found += planned.lastXml;
  } else parts.found += value.xml ? `${tag.open}${value.xml}${tag.close}` : tag.empty;
}

/**
 * A property this resource cannot give as asked (an expansion past its bounds): refused in its own
 * propstat with its precondition, the other properties and resources answered as usual.
 */
function refuseProperty(how: How, planned: PlannedProperty, parts: Parts, error: unknown): void {
  if (!(error instanceof DavError) || error.status >= 500) throw error;
  parts.refused += propstatOf(planned.tag.empty, error, (n) => how.ctx.dav.namespaces.tagOfClark(n));
}

/** One <d:response>: the found properties (200), then the refused, forbidden (403) and missing (404) ones. */
function responseXml(href: string, parts: Parts, minimal: boolean): string {
  const missing = minimal ? '' : parts.missing;
  const { found, forbidden, refused } = parts;
  let xml = `<d:response>${hrefXml(href)}`;
  if (found || (!missing && !forbidden && !refused)) xml += `<d:propstat><d:prop>${found}</d:prop>${STATUS_200}</d:propstat>`;
  xml += refused;
  if (forbidden) xml += `<d:propstat><d:prop>${forbidden}</d:prop>${statusXml(403)}</d:propstat>`;
  if (missing) xml += `<d:propstat><d:prop>${missing}</d:prop>${statusXml(404)}</d:propstat>`;
  return `${xml}</d:response>`;
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
