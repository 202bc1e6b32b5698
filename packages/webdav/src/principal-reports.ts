import type { Account, DirectoryStore } from '@palabre/core';
import { foldName, MAX_SEARCH_TEXT } from '@palabre/core';
import { DAV, DavError } from './errors.js';
import type { DavPath } from './href.js';
import { hrefXml, sendXml, statusXml, XmlStream } from './multistatus.js';
import type { DavPluginHost } from './plugin.js';
import { depthOf, preferMinimal } from './request.js';
import { propRequestOf, renderResponses, type PropRequest } from './propstat.js';
import type { DavContext, DavResource, PrincipalSearchProperty } from './resource.js';
import { attribute, child, clark, elements, parseXml, textOf, type XmlElement } from './xml-codec.js';

/**
 * RFC 3744 §9's principal reports and RFC 3253 §3.8's expand-property, what address pickers and
 * Apple's delegation pane ask: principal-property-search (answered from the directory's indexed search,
 * within the caller's own domain: a ministry's directory is its own), principal-search-property-set,
 * principal-match (DAV:self, or DAV:owner of a collection's members), expand-property.
 */

/** Principals one principal-property-search answers; past it the request-URI is 507 number-of-matches-within-limits. */
export const MAX_PRINCIPAL_MATCHES = 50;
/** Levels of nested DAV:property one expand-property follows. */
const MAX_EXPAND_DEPTH = 3;
/** Resources one expand-property report expands in all (nested levels multiply otherwise). */
const MAX_EXPANDED = 500;

const d = (name: string) => `{${DAV}}${name}`;

/** What the engine itself lets a principal-property-search name. */
export const DAV_SEARCH_PROPERTIES: readonly PrincipalSearchProperty[] = [
  { name: d('displayname'), field: 'name', description: 'Display name' },
  { name: d('alternate-URI-set'), field: 'address', description: 'Email address' },
];

interface Condition {
  readonly field: 'name' | 'address' | null;
  readonly text: string;
  readonly contains: boolean;
}

function propsOf(body: XmlElement): PropRequest {
  const prop = child(body, DAV, 'prop');
  return prop ? propRequestOf(prop) : { mode: 'prop', names: [], elements: new Map() };
}

async function multistatus(ctx: DavContext, resources: readonly DavResource[], request: PropRequest, trailer = ''): Promise<void> {
  const out = new XmlStream(ctx.res, ctx.dav.namespaces);
  out.begin(207);
  await out.write(await renderResponses(ctx, resources, request, { minimal: preferMinimal(ctx) }));
  await out.write(trailer);
  await out.end();
}

export function setupPrincipalReports(host: DavPluginHost, directory: DirectoryStore, isPrincipals: (r: DavResource) => boolean): void {
  const searchable = (ctx: DavContext) => [...DAV_SEARCH_PROPERTIES, ...ctx.dav.principalExtensions.flatMap((e) => e.searchProperties ?? [])];

  host.addReport({
    name: d('principal-search-property-set'),
    appliesTo: isPrincipals,
    handler: async (ctx) => {
      depthOf(ctx, ['0'], '0');
      const tag = (name: string) => {
        const end = name.indexOf('}');
        return ctx.dav.namespaces.tag(name.slice(1, end), name.slice(end + 1)).empty;
      };
      const body = searchable(ctx)
        .map((p) => `<d:principal-search-property><d:prop>${tag(p.name)}</d:prop><d:description xml:lang="en">${p.description}</d:description></d:principal-search-property>`)
        .join('');
      sendXml(ctx.res, 200, body, ctx.dav.namespaces, 'principal-search-property-set');
    },
  });

  host.addReport({
    name: d('principal-property-search'),
    appliesTo: isPrincipals,
    handler: async (ctx, _resource, body) => {
      const fields = new Map(searchable(ctx).map((p) => [p.name, p.field]));
      const allof = attribute(body, '', 'test') === 'allof';
      const conditions: Condition[] = [];
      for (const ps of elements(body).filter((e) => e.ns === DAV && e.name === 'property-search')) {
        const prop = child(ps, DAV, 'prop');
        const match = child(ps, DAV, 'match');
        if (!prop || !match) throw new DavError(400, 'a property-search holds a DAV:prop and a DAV:match');
        const text = textOf(match);
        if (text.length > MAX_SEARCH_TEXT) throw new DavError(400, `a DAV:match is at most ${MAX_SEARCH_TEXT} characters`);
        // CalendarServer's match-type: starts-with, or contains, answered as a prefix of a name or of an
        // address, the only searches an index answers over a 70,000-name directory.
        const type = attribute(match, '', 'match-type') ?? 'contains';
        if (!['starts-with', 'contains', 'equals'].includes(type)) throw new DavError(400, 'match-type is starts-with, contains or equals');
        for (const p of elements(prop)) conditions.push({ field: fields.get(clark(p)) ?? null, text: text.trim().replace(/^mailto:/i, ''), contains: type === 'contains' });
      }
      if (!conditions.length) throw new DavError(400, 'a principal-property-search holds at least one DAV:property-search');
      if (conditions.length > 16) throw new DavError(400, 'at most 16 property-searches');
      const request = propsOf(body);
      const found = await searchPrincipals(ctx, directory, conditions, allof);
      const paths = found.accounts.map((a) => ctx.dav.principals.user(a.address));
      const byKey = await ctx.dav.lookupMany(ctx, paths);
      const resources = paths.map((p) => byKey.get(p.key)).filter((r): r is DavResource => r !== undefined);
      const trailer = found.truncated ? `<d:response>${hrefXml(ctx.href(ctx.path, true))}${statusXml(507)}<d:error><d:number-of-matches-within-limits/></d:error></d:response>` : '';
      await multistatus(ctx, resources, request, trailer);
    },
  });

  host.addReport({
    name: d('principal-match'),
    handler: async (ctx, resource, body) => {
      depthOf(ctx, ['0', '1'], '0');
      const request = propsOf(body);
      if (child(body, DAV, 'self')) {
        // The caller's principal and the group principals it is a member of.
        const me = await directory.getAccount(ctx.principal.accountId);
        const paths: DavPath[] = [ctx.dav.principals.user(me.address), ...(await directory.groupsOfAccount(me.id)).map((g) => ctx.dav.principals.group(g.name))];
        for (const e of ctx.dav.principalExtensions) if (e.membershipsOf) paths.push(...(await e.membershipsOf(ctx, me)));
        const byKey = new Map<string, DavResource>();
        for (const p of paths) {
          const r = (await ctx.dav.lookup(ctx, p)).resource;
          if (r) byKey.set(p.key, r);
        }
        return multistatus(ctx, [...byKey.values()], request);
      }
      const property = child(body, DAV, 'principal-property');
      const which = property ? elements(property)[0] : undefined;
      if (!which) throw new DavError(400, 'a principal-match holds DAV:self or DAV:principal-property');
      // DAV:owner of the members: which of them are the caller's.
      if (!resource.collection || clark(which) !== d('owner')) return multistatus(ctx, [], request);
      const mine = ctx.dav.principals.user(ctx.principal.address).key;
      const matches: DavResource[] = [];
      for await (const page of ctx.dav.memberPages(ctx, resource)) {
        for (const m of page) if ((await m.backend.owner?.(ctx, m))?.key === mine) matches.push(m);
      }
      return multistatus(ctx, matches, request);
    },
  });

  host.addReport({
    name: d('expand-property'),
    handler: async (ctx, resource, body) => {
      depthOf(ctx, ['0'], '0');
      // Whole before anything is sent: past the budget the answer is one 507, not half a multistatus.
      const xml = await expand(ctx, resource, body, 0, { left: MAX_EXPANDED });
      const out = new XmlStream(ctx.res, ctx.dav.namespaces);
      out.begin(207);
      await out.write(xml);
      await out.end();
    },
  });
}

/**
 * Candidates from the directory (its indexed prefix search, in the caller's domain), then every
 * condition checked on each: its name or one of its addresses starting with the text.
 */
async function searchPrincipals(ctx: DavContext, directory: DirectoryStore, conditions: readonly Condition[], allof: boolean): Promise<{ accounts: Account[]; truncated: boolean }> {
  const usable = conditions.filter((c) => c.field !== null && c.text.length > 0);
  if (!usable.length || (allof && usable.length < conditions.length)) return { accounts: [], truncated: false };
  const candidates = new Map<string, Account>();
  for (const c of allof ? usable.slice(0, 1) : usable) {
    for (const a of await directory.search(ctx.principal.domainId, c.text, MAX_PRINCIPAL_MATCHES + 1)) candidates.set(a.id, a);
  }
  const aliases = await directory.aliasesOf([...candidates.keys()]);
  const holds = (a: Account, c: Condition) => {
    if (c.field === 'name') return foldName(a.displayName).startsWith(foldName(c.text));
    const text = c.text.normalize('NFC').toLowerCase();
    return [a.address, ...(aliases.get(a.id) ?? []).map((x) => x.address)].some((addr) => addr.startsWith(text));
  };
  const matched = [...candidates.values()].filter((a) => (allof ? usable.every((c) => holds(a, c)) : usable.some((c) => holds(a, c))));
  return { accounts: matched.slice(0, MAX_PRINCIPAL_MATCHES), truncated: matched.length > MAX_PRINCIPAL_MATCHES };
}

/**
 * One DAV:response for `resource` with the properties `spec` names; a DAV:property with nested ones is
 * replaced by a DAV:response for each href its value holds, expanded in turn (RFC 3253 §3.8).
 */
async function expand(ctx: DavContext, resource: DavResource, spec: XmlElement, depth: number, budget: { left: number }): Promise<string> {
  const plain: XmlElement[] = [];
  const nested: { name: string; spec: XmlElement }[] = [];
  for (const p of elements(spec).filter((e) => e.ns === DAV && e.name === 'property')) {
    const local = attribute(p, '', 'name');
    if (!local) throw new DavError(400, 'a DAV:property has a name');
    const name = `{${attribute(p, '', 'namespace') ?? DAV}}${local}`;
    // A property named twice is answered once (the first spec), as a PROPFIND would.
    if (nested.some((n) => n.name === name) || plain.some((e) => clark(e) === name)) continue;
    if (elements(p).some((e) => e.ns === DAV && e.name === 'property') && depth < MAX_EXPAND_DEPTH) nested.push({ name, spec: p });
    else plain.push({ ns: attribute(p, '', 'namespace') ?? DAV, name: local, attributes: [], children: [] });
  }
  const names = [...plain.map(clark), ...nested.map((n) => n.name)];
  const xml = await renderResponses(ctx, [resource], { mode: 'prop', names, elements: new Map(plain.map((e) => [clark(e), e])) });
  if (!nested.length) return xml;
  // Positions in the resource's own response (each property once), replaced from the last one back.
  const cuts: { start: number; end: number; xml: string }[] = [];
  for (const n of nested) {
    const tag = ctx.dav.namespaces.tag(n.name.slice(1, n.name.indexOf('}')), n.name.slice(n.name.indexOf('}') + 1));
    const start = xml.indexOf(tag.open);
    if (start < 0) continue;
    const end = xml.indexOf(tag.close, start);
    // The value as the property's own definition rendered it, read back by the one XML codec.
    const value = parseXml(`<d:value ${ctx.dav.namespaces.declarations()}>${xml.slice(start + tag.open.length, end)}</d:value>`, ctx.dav.xmlLimits);
    const hrefs = elements(value)
      .filter((e) => e.ns === DAV && e.name === 'href')
      .map((e) => textOf(e).trim());
    let responses = '';
    for (const href of hrefs) {
      const path = safePath(ctx, href);
      const target = path ? (await ctx.dav.lookup(ctx, path)).resource : null;
      if (--budget.left < 0) throw new DavError(507, `an expand-property expands at most ${MAX_EXPANDED} resources`, { condition: `{${DAV}}number-of-matches-within-limits` });
      if (target && (target.privileges.has('read') || target.privileges.has('all'))) responses += await expand(ctx, target, n.spec, depth + 1, budget);
      else responses += `<d:response>${hrefXml(href)}${statusXml(404)}</d:response>`;
    }
    cuts.push({ start: start + tag.open.length, end, xml: responses });
  }
  let expanded = xml;
  for (const c of cuts.sort((a, b) => b.start - a.start)) expanded = expanded.slice(0, c.start) + c.xml + expanded.slice(c.end);
  return expanded;
}

function safePath(ctx: DavContext, href: string): DavPath | null {
  try {
    return ctx.dav.pathOf(href);
  } catch {
    return null;
  }
}
