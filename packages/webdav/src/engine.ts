import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { causeChain, lazyChild, silentLogger, systemClock, type Clock, type HttpAuthenticator, type LockStore, type Logger, type Notifier } from '@palabre/core';
import { settleBody, DEFAULT_MAX_XML_BODY } from './body.js';
import { DavError, toDavError } from './errors.js';
import { davPath, decodeSegment, encodeSegment, hrefOf, normaliseBase, parseTarget, ROOT, type DavPath } from './href.js';
import { LockManager, type LockOptions } from './lock.js';
import { hrefXml, Namespaces, sendXml } from './multistatus.js';
import type { DavPlugin, DavPluginHost } from './plugin.js';
import { DAV_PRIVILEGES, privilegeTreeXml, type PrivilegeDefinition } from './properties.js';
import { rfc4918Plugin, unhandled } from './rfc4918.js';
import {
  virtualCollection,
  type DavBackend,
  type DavChange,
  type DavContext,
  type DavHooks,
  type DavLimits,
  type DavLookup,
  type DavResource,
  type DavServices,
  type MethodHandler,
  type PostHandler,
  type PrincipalExtension,
  type PrincipalUrls,
  type PropertyDefinition,
  type ReportDefinition,
} from './resource.js';
import { escapeText, type XmlLimits } from './xml-codec.js';

export type { DavPlugin, DavPluginHost } from './plugin.js';
export type { DavHooks, DavLimits } from './resource.js';

export interface DavHandlerOptions {
  /** Public path the handler answers under, e.g. `/dav` (default). Hrefs are built from it. */
  basePath?: string;
  authenticator: HttpAuthenticator;
  locks: LockStore;
  plugins?: readonly DavPlugin[];
  logger?: Logger;
  clock?: Clock;
  /** Change notifications to other sessions and nodes (push, sync): every committed change is published on `dav.<mount>`. */
  notifier?: Notifier;
  /** Whether a request arrived over a secure channel (default: TLS sockets only). */
  isSecure?: (req: IncomingMessage) => boolean;
  /**
   * Answer OPTIONS and PROPFIND on the server root "/" too (the Windows mini-redirector probes it with
   * `MS-Author-Via: DAV`). Use when the handler sees every request of the listener.
   */
  serverRoot?: boolean;
  lockOptions?: LockOptions;
  limits?: DavLimits;
}

/** A request handler for node:http (and, through their raw request/response, Express, Fastify, Hono). */
export interface DavHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** True when the handler would answer this request target. */
  handles(url: string, method?: string): boolean;
  readonly engine: DavEngine;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PROPFIND', 'REPORT']);
const DAV_CLASSES = ['1', '2', '3', 'access-control', 'extended-mkcol'];
/** Largest number of resources asked of a backend in one lookupMany call. */
const LOOKUP_CHUNK = 500;

/** The topic a DAV change is published on: one per mount, so a subscriber picks what it follows. */
export function davTopic(mount: string): string {
  return `dav.${mount}`;
}

const DEFAULT_PRINCIPALS: PrincipalUrls = {
  user: (address) => davPath(['principals', 'users', address]),
  group: (name) => davPath(['principals', 'groups', name]),
  collection: () => davPath(['principals']),
};

/**
 * The DAV engine: a dispatcher and a registry. It authenticates, parses the request path once (in
 * canonical form), and hands the request to the method chain its plugins registered (RFC 4918's
 * methods are the first plugin); backends are mounted per top-level segment, and properties, reports,
 * POST handlers, privileges and compliance classes are each plugin's own, scoped to what they apply to.
 */
export class DavEngine implements DavServices {
  readonly base: string;
  readonly baseSegments: readonly string[];
  readonly namespaces = new Namespaces();
  readonly mounts = new Map<string, DavBackend>();
  readonly locks: LockManager;
  readonly log: Logger;
  readonly clock: Clock;
  readonly limits: Required<DavLimits>;
  readonly xmlLimits: XmlLimits = { maxDepth: 64, maxNodes: 100_000 };
  readonly hooks: DavHooks;
  readonly postHandlers: PostHandler[] = [];
  readonly principalExtensions: PrincipalExtension[] = [];
  principals: PrincipalUrls = DEFAULT_PRINCIPALS;
  private readonly methodChains = new Map<string, { mount: string | null; handler: MethodHandler }[]>();
  private readonly propertyList: PropertyDefinition<unknown>[] = [];
  /** propertiesOf's answers by the pattern of appliesTo() results; emptied when a property is registered. */
  private readonly propertySets = new Map<string, ReadonlyMap<string, PropertyDefinition>>();
  /** The definitions of each property name, latest first: a PROPFIND naming two properties tries those, not all of them. */
  private readonly propertiesByName = new Map<string, PropertyDefinition<unknown>[]>();
  /** propertiesNamed's answers, by the request's list of names (one request's) and the pattern of definitions chosen. */
  private namedSets = new WeakMap<readonly string[], Map<string, ReadonlyMap<string, PropertyDefinition>>>();
  private readonly reportList: ReportDefinition[] = [];
  private readonly privilegeList: PrivilegeDefinition[] = [...DAV_PRIVILEGES];
  private readonly complianceTokens: { token: string; mount: string | null }[] = DAV_CLASSES.map((token) => ({ token, mount: null }));
  private readonly hookLists: { [K in keyof DavHooks]: DavHooks[K][] } = { beforeMethod: [], beforeBind: [], beforeWrite: [], afterWrite: [], filterMembers: [], afterChange: [] };
  private readonly rootResource: DavResource;
  private privilegeXmlCache: string | null = null;

  constructor(readonly options: DavHandlerOptions) {
    this.base = normaliseBase(options.basePath ?? '/dav');
    this.baseSegments = parseTarget(`${this.base}/`).segments;
    this.log = (options.logger ?? silentLogger).child({ component: 'dav' });
    this.clock = options.clock ?? systemClock;
    this.limits = { maxXmlBody: options.limits?.maxXmlBody ?? DEFAULT_MAX_XML_BODY, maxInfinity: options.limits?.maxInfinity ?? 10_000 };
    this.locks = new LockManager(options.locks, options.lockOptions);
    const lists = this.hookLists;
    this.hooks = {
      beforeMethod: async (ctx) => {
        for (const fn of lists.beforeMethod) await fn(ctx);
      },
      beforeBind: async (ctx, parent, path, collection) => {
        for (const fn of lists.beforeBind) await fn(ctx, parent, path, collection);
      },
      beforeWrite: async (ctx, write) => {
        for (const fn of lists.beforeWrite) await fn(ctx, write);
      },
      afterWrite: async (ctx, write) => {
        for (const fn of lists.afterWrite) await fn(ctx, write);
      },
      filterMembers: (ctx, collection, members) => lists.filterMembers.reduce((m, fn) => fn(ctx, collection, m), members),
      afterChange: async (ctx, change) => {
        for (const fn of lists.afterChange) await fn(ctx, change);
        this.publish(change);
      },
    };
    const engine = this;
    this.rootResource = virtualCollection(ROOT, {
      lookup: async () => ({ resource: engine.rootResource, parent: null }),
      members: async (ctx) => {
        const out: DavResource[] = [];
        for (const segment of engine.mounts.keys()) {
          const found = await engine.lookup(ctx, davPath([segment])).catch(() => null);
          if (found?.resource?.privileges.has('read')) out.push(found.resource);
        }
        return out;
      },
    });
    const host: DavPluginHost = {
      mount: (segment, backend) => {
        if (!/^[a-z][a-z0-9-]*$/.test(segment) || this.mounts.has(segment)) throw new Error(`cannot mount ${segment}`);
        this.mounts.set(segment, backend);
      },
      addProperty: (definition) => {
        this.propertyList.push(definition as PropertyDefinition<unknown>);
        this.propertySets.clear();
        this.namedSets = new WeakMap();
        const named = this.propertiesByName.get(definition.name) ?? [];
        named.unshift(definition as PropertyDefinition<unknown>);
        this.propertiesByName.set(definition.name, named);
      },
      addMethod: (method, handler, opts) => {
        if (!/^[A-Z][A-Z-]*$/.test(method)) throw new Error(`invalid method ${method}`);
        const chain = this.methodChains.get(method) ?? [];
        chain.push({ mount: opts?.mount ?? null, handler });
        this.methodChains.set(method, chain);
      },
      addReport: (definition) => {
        this.reportList.push(definition);
      },
      addPost: (handler) => {
        this.postHandlers.push(handler);
      },
      addPrivilege: (definition) => {
        if (!this.privilegeList.some((p) => p.name === definition.name)) this.privilegeList.push(definition);
        this.privilegeXmlCache = null;
      },
      addNamespace: (prefix, ns) => this.namespaces.add(prefix, ns),
      addCompliance: (token, opts) => {
        const mount = opts?.mount ?? null;
        if (!this.complianceTokens.some((c) => c.token === token && c.mount === mount)) this.complianceTokens.push({ token, mount });
      },
      on: (hook, fn) => {
        (this.hookLists[hook] as unknown[]).push(fn);
      },
      setPrincipalUrls: (urls) => {
        this.principals = urls;
      },
      addPrincipalExtension: (extension) => {
        this.principalExtensions.push(extension);
      },
      locks: this.locks,
      dav: this,
    };
    for (const plugin of [rfc4918Plugin(), ...(options.plugins ?? [])]) plugin.setup(host);
  }

  // ------------------------------------------------------------ registry

  /** Methods answered on a path's mount (Allow). */
  allowedMethods(path: DavPath = ROOT): string {
    const mount = path.segments[0] ?? null;
    const methods = [...this.methodChains].filter(([, chain]) => chain.some((h) => h.mount === null || h.mount === mount)).map(([m]) => m);
    return methods.join(', ');
  }

  compliance(path: DavPath = ROOT): string[] {
    const mount = path.segments[0] ?? null;
    const backend = mount ? this.mounts.get(mount) : undefined;
    const tokens = this.complianceTokens.filter((c) => c.mount === null || c.mount === mount).map((c) => c.token);
    for (const t of backend?.compliance ?? []) if (!tokens.includes(t)) tokens.push(t);
    return tokens;
  }

  propertiesOf(resource: DavResource): ReadonlyMap<string, PropertyDefinition> {
    // The set depends only on which appliesTo() accept the resource: one map per such combination,
    // shared by every resource that has it (a listing of 1,000 files builds it once, not 1,000 times).
    let key = '';
    for (const def of this.propertyList) if (def.appliesTo) key += def.appliesTo(resource) ? '1' : '0';
    const known = this.propertySets.get(key);
    if (known) return known;
    const out = new Map<string, PropertyDefinition>();
    // Later plugins' definitions win over earlier ones for the resources they apply to.
    for (let i = this.propertyList.length - 1; i >= 0; i--) {
      const def = this.propertyList[i]!;
      if (out.has(def.name)) continue;
      if (def.appliesTo && !def.appliesTo(resource)) continue;
      out.set(def.name, def);
    }
    this.propertySets.set(key, out);
    return out;
  }

  propertiesNamed(resource: DavResource, names: readonly string[]): ReadonlyMap<string, PropertyDefinition> {
    // As propertiesOf: one map per pattern of the definitions chosen, shared by the resources that have it
    // (the renderer plans once per map, so 25,000 objects of a listing are planned once, not 25,000 times).
    let key = '';
    for (const name of names) {
      const defs = this.propertiesByName.get(name);
      let chosen = -1;
      if (defs) {
        for (let i = 0; i < defs.length; i++) {
          const d = defs[i]!;
          if (!d.appliesTo || d.appliesTo(resource)) {
            chosen = i;
            break;
          }
        }
      }
      key += `${chosen},`;
    }
    let byKey = this.namedSets.get(names);
    if (!byKey) this.namedSets.set(names, (byKey = new Map()));
    const known = byKey.get(key);
    if (known) return known;
    const out = new Map<string, PropertyDefinition>();
    const picks = key.split(',');
    names.forEach((name, i) => {
      const chosen = Number(picks[i]);
      if (chosen >= 0) out.set(name, this.propertiesByName.get(name)![chosen]!);
    });
    byKey.set(key, out);
    return out;
  }

  reportsOf(resource: DavResource): ReportDefinition[] {
    return this.reportList.filter((r) => !r.appliesTo || r.appliesTo(resource));
  }

  report(name: string): ReportDefinition | undefined {
    return this.reportList.find((r) => r.name === name);
  }

  get privilegeTree(): string {
    this.privilegeXmlCache ??= privilegeTreeXml(this.privilegeList, (ns, name) => this.namespaces.tag(ns, name).empty);
    return this.privilegeXmlCache;
  }

  isGrantable(privilege: string): boolean {
    return this.privilegeList.some((p) => p.name === privilege);
  }

  // ------------------------------------------------------------ paths and resources

  href(path: DavPath, collection: boolean): string {
    return hrefOf(this.base, path, collection);
  }

  hrefOf(resource: DavResource): string {
    return hrefOf(this.base, resource.path, resource.collection);
  }

  /**
   * A path of this engine in its canonical form: the mount's backend folds spellings that name one
   * resource (a home's address in any case, %40, a trailing dot, NFD) into one. Every path the engine reads
   * comes through here (request-URI, Destination, If-header tags, ACL principals), so locks, ACLs, ETags
   * and change logs all see one key.
   *
   * Canonicalise and continue rather than redirect (301/308) to the canonical URL: a redirect cannot
   * cover the Destination and If headers, which must name the same lock keys as the request-URI anyway;
   * DAV clients do not follow redirects on PUT, LOCK, MOVE or PROPFIND (the Windows mini-redirector, Finder
   * and davfs2 report an error, and a PUT body already sent would have to be sent again); and every href
   * the engine answers is built from the backends' resources, in canonical form (multistatus hrefs,
   * Location, lockroot), so a client that keeps the hrefs it is given (Windows, Finder) moves to the
   * canonical spelling after its first PROPFIND.
   */
  canonical(path: DavPath): DavPath {
    const backend = path.segments.length ? this.mounts.get(path.segments[0]!) : undefined;
    return backend?.canonical ? backend.canonical(path) : path;
  }

  /** A request target, resource tag, Destination or principal href as a canonical path, or null when outside this engine. */
  pathOf(uri: string): DavPath | null {
    const target = parseTarget(uri);
    const base = this.baseSegments;
    if (target.segments.length < base.length || base.some((s, i) => target.segments[i] !== s)) return null;
    return this.canonical(davPath(target.segments.slice(base.length)));
  }

  async lookup(ctx: DavContext, path: DavPath): Promise<DavLookup> {
    if (path.segments.length === 0) return { resource: this.rootResource, parent: null };
    const backend = this.mounts.get(path.segments[0]!);
    if (!backend) return { resource: null, parent: path.segments.length === 1 ? this.rootResource : null };
    return backend.lookup(ctx, path);
  }

  async lookupMany(ctx: DavContext, paths: readonly DavPath[]): Promise<Map<string, DavResource>> {
    const out = new Map<string, DavResource>();
    const byMount = new Map<string, DavPath[]>();
    for (const p of paths) {
      const mount = p.segments[0];
      if (mount === undefined) {
        out.set(p.key, this.rootResource);
        continue;
      }
      const list = byMount.get(mount) ?? [];
      list.push(p);
      byMount.set(mount, list);
    }
    for (const [mount, list] of byMount) {
      const backend = this.mounts.get(mount);
      if (!backend) continue;
      for (let i = 0; i < list.length; i += LOOKUP_CHUNK) {
        const part = list.slice(i, i + LOOKUP_CHUNK);
        if (backend.lookupMany) {
          for (const [key, r] of await backend.lookupMany(ctx, part)) out.set(key, r);
        } else {
          for (const p of part) {
            const { resource } = await backend.lookup(ctx, p).catch(() => ({ resource: null }));
            if (resource) out.set(p.key, resource);
          }
        }
      }
    }
    return out;
  }

  /** Members the caller may read, page by page (a backend's pages, or its whole list as one), with plugins' filters. */
  async *memberPages(ctx: DavContext, collection: DavResource): AsyncIterable<DavResource[]> {
    const listed = collection.backend.members(ctx, collection);
    const pages: AsyncIterable<readonly DavResource[]> =
      Symbol.asyncIterator in (listed as object)
        ? (listed as AsyncIterable<readonly DavResource[]>)
        : (async function* () {
            yield await (listed as Promise<DavResource[]>);
          })();
    for await (const page of pages) {
      const readable = page.filter((m) => m.privileges.has('read') || m.privileges.has('all'));
      yield this.hooks.filterMembers(ctx, collection, readable);
    }
  }

  /** Everything below that the caller may read, parents first; 'too-many' past the limit. */
  async descendants(ctx: DavContext, collection: DavResource, limit: number): Promise<DavResource[] | 'too-many'> {
    if (collection.backend.descendants) {
      const all = await collection.backend.descendants(ctx, collection, limit);
      if (all === 'too-many') return all;
      const hidden = new Set(
        all.filter((r) => !(r.privileges.has('read') || r.privileges.has('all')) || !this.hooks.filterMembers(ctx, collection, [r]).length).map((r) => r.path.key),
      );
      return hidden.size ? all.filter((r) => ![...hidden].some((h) => r.path.key === h || r.path.key.startsWith(`${h}/`))) : all;
    }
    const out: DavResource[] = [];
    const walk = async (c: DavResource): Promise<boolean> => {
      for await (const page of this.memberPages(ctx, c)) {
        for (const m of page) {
          out.push(m);
          if (out.length > limit) return false;
          if (m.collection && !(await walk(m))) return false;
        }
      }
      return true;
    };
    return (await walk(collection)) ? out : 'too-many';
  }

  /** Tell other sessions and nodes: a committed change, on its mount's topic (a notifier failure never fails the request). */
  private publish(change: DavChange): void {
    const notifier = this.options.notifier;
    const mount = change.path.segments[0];
    if (!notifier || !mount) return;
    const payload = { kind: change.kind, path: change.path.key.slice(0, 1000), ...(change.destination ? { destination: change.destination.key.slice(0, 1000) } : {}) };
    notifier.publish(davTopic(mount), payload).catch((error: unknown) => this.log.warn({ err: (error as Error)?.message }, 'dav.notify-failed'));
  }

  sendError(ctx: { res: ServerResponse }, error: DavError): void {
    const res = ctx.res;
    let condition = '';
    if (error.condition) {
      const end = error.condition.indexOf('}');
      const ns = error.condition.slice(1, end);
      const tag = this.namespaces.tag(ns, error.condition.slice(end + 1));
      const inner = error.conditionXml ?? error.hrefs.map(hrefXml).join('');
      condition = inner ? `${tag.open}${inner}${tag.close}` : tag.empty;
    }
    for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v as string | string[]);
    if (error.status === 304 || error.status === 204) {
      res.statusCode = error.status;
      res.end();
      return;
    }
    sendXml(res, error.status, `${condition}<p:message xmlns:p="urn:palabre:dav">${escapeText(error.message)}</p:message>`, this.namespaces, 'error');
  }

  // ------------------------------------------------------------ dispatch

  /** Run a method's chain for the request's mount: mount-specific handlers first, latest first, then the global ones. */
  private dispatch(method: string, ctx: DavContext): Promise<void> {
    const mount = ctx.path.segments[0] ?? null;
    const chain = this.methodChains.get(method) ?? [];
    const handlers = [...chain.filter((h) => h.mount !== null && h.mount === mount).reverse(), ...chain.filter((h) => h.mount === null).reverse()];
    if (handlers.length === 0) {
      if (this.methodChains.has(method)) return Promise.reject(unhandled(method, this.allowedMethods(ctx.path)));
      throw new DavError(501, `${method} is not implemented`, { headers: { allow: this.allowedMethods(ctx.path) } });
    }
    const run = (i: number): Promise<void> => (i < handlers.length ? handlers[i]!.handler(ctx, () => run(i + 1)) : Promise.reject(unhandled(method, this.allowedMethods(ctx.path))));
    return run(0);
  }

  /** Serve one request. */
  async handle(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): Promise<void> {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const requestId = randomUUID();
    const log = lazyChild(this.log, { requestId });
    const inner = this.relativeTarget(raw);
    const atServerRoot = inner === null && this.options.serverRoot === true && raw.split('?')[0] === '/' && (method === 'OPTIONS' || method === 'PROPFIND');
    if (inner === null && !atServerRoot) {
      if (next) next();
      else {
        settleBody(req, res);
        this.sendError({ res }, new DavError(404, 'not found'));
      }
      return;
    }
    res.setHeader('x-request-id', requestId);
    // No answer of ours (a stored file above all) is ever to be read as another type than it says.
    res.setHeader('x-content-type-options', 'nosniff');
    let status = 500;
    try {
      if (raw.includes('#')) throw new DavError(400, 'a request target cannot contain a fragment');
      const target = atServerRoot ? { segments: [], trailingSlash: true } : parseTarget(`/${inner}`);
      const path = this.canonical(davPath(target.segments));
      if (method === 'OPTIONS' || atServerRoot) {
        res.setHeader('dav', this.compliance(path).join(', '));
        res.setHeader('ms-author-via', 'DAV');
      }
      if (method === 'OPTIONS' && atServerRoot) {
        settleBody(req, res);
        res.setHeader('allow', this.allowedMethods());
        res.setHeader('content-length', '0');
        res.statusCode = 200;
        res.end();
        status = 200;
        return;
      }
      const auth = await this.options.authenticator.authenticate({
        authorization: req.headers.authorization,
        ip: req.socket?.remoteAddress ?? null,
        secure: (this.options.isSecure ?? defaultIsSecure)(req),
      });
      if (!auth.ok) {
        log.info({ status: auth.status, reason: auth.reason, method }, 'dav.auth.refused');
        const headers: Record<string, string | readonly string[]> = {};
        if (auth.status === 401) headers['www-authenticate'] = [...this.options.authenticator.challenges()];
        if (auth.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(auth.retryAfterMs / 1000)));
        throw new DavError(auth.status, auth.status === 401 ? 'authentication required' : 'authentication refused', { headers });
      }
      const ctx: DavContext = {
        principal: auth.principal,
        requestId,
        log: log.child({ account: auth.principal.address }),
        now: this.clock.now(),
        method,
        req,
        res,
        path,
        trailingSlash: target.trailingSlash,
        memo: new Map(),
        dav: this,
        href: this.requestHrefs(raw, path),
      };
      await this.hooks.beforeMethod(ctx);
      await this.dispatch(atServerRoot ? 'PROPFIND' : method, ctx);
      status = res.statusCode;
    } catch (caught) {
      const error = toDavError(caught);
      status = error.status;
      // Only what nobody expected is an error: a client can cause any other status at will (quota 507,
      // 501, 502 for a foreign Destination, downloads it cuts), and must not be able to flood the error log.
      if (error.status === 500) {
        log.error({ method, status: error.status, cause: causeChain(caught) }, 'dav.request.failed');
      } else if (error.status === 499) {
        log.info({ method }, 'dav.request.aborted');
      } else {
        log.debug({ method, status: error.status, reason: error.message }, 'dav.request.rejected');
      }
      if (res.headersSent || error.status === 499) {
        res.destroy();
      } else {
        settleBody(req, res);
        this.sendError({ res }, error);
      }
    } finally {
      const level = READ_METHODS.has(method) ? 'debug' : 'info';
      log[level]({ method, status, ms: Date.now() - started }, 'dav.request');
    }
  }

  /** Hrefs below the request-URI in the client's own spelling of it (see DavContext.href). */
  private requestHrefs(raw: string, path: DavPath): (p: DavPath, collection: boolean) => string {
    const target = raw.split(/[?#]/)[0]!.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
    const spelled = target.split('/').filter(Boolean);
    const base = this.baseSegments.length;
    // Only an encoding of the canonical path is echoed (`%40` for `@`): another spelling of a home's
    // address (case, NFD) is answered with the canonical hrefs, which a client then keeps.
    const same = spelled.length === base + path.segments.length && spelled.slice(base).every((s, i) => {
      try {
        return decodeSegment(s) === path.segments[i];
      } catch {
        return false;
      }
    });
    if (!same) return (p, collection) => this.href(p, collection);
    const prefix = `/${spelled.join('/')}`;
    const at = path.segments;
    // Once per resource of a listing: index loops, no closure or slice per call.
    return (p, collection) => {
      const segments = p.segments;
      if (segments.length < at.length) return this.href(p, collection);
      for (let i = 0; i < at.length; i++) if (segments[i] !== at[i]) return this.href(p, collection);
      let href = prefix;
      for (let i = at.length; i < segments.length; i++) href += `/${encodeSegment(segments[i]!)}`;
      return collection || segments.length === 0 ? `${href}/` : href;
    };
  }

  /** The request target below the base path (without the leading "/"), or null when outside it. */
  relativeTarget(raw: string): string | null {
    let path = raw;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
      const slash = path.indexOf('/', path.indexOf('//') + 2);
      path = slash < 0 ? '/' : path.slice(slash);
    }
    if (this.base === '') return path.replace(/^\/+/, '');
    if (path === this.base || path.startsWith(`${this.base}?`)) return '';
    if (path.startsWith(`${this.base}/`)) return path.slice(this.base.length + 1);
    return null;
  }
}

function defaultIsSecure(req: IncomingMessage): boolean {
  return Boolean((req.socket as TLSSocket | undefined)?.encrypted);
}

/** A DAV request handler mountable in node:http, Express, Fastify or Hono (see README). */
export function createDavHandler(options: DavHandlerOptions): DavHandler {
  const engine = new DavEngine(options);
  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => {
    void engine.handle(req, res, next);
  }) as DavHandler;
  Object.defineProperty(handler, 'engine', { value: engine });
  handler.handles = (url: string, method?: string) =>
    engine.relativeTarget(url) !== null ||
    (options.serverRoot === true && url.split('?')[0] === '/' && (method === undefined || method === 'OPTIONS' || method === 'PROPFIND'));
  return handler;
}
