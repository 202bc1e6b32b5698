import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { causeChain, lazyChild, silentLogger, systemClock, type Clock, type DavLock, type HttpAuthenticator, type LockStore, type Logger } from '@palabre/core';
import { hasBody, headerOf, readBody, settleBody, DEFAULT_MAX_XML_BODY } from './body.js';
import { evaluateConditional } from './conditional.js';
import { copyMethod, moveMethod } from './copy-move.js';
import { DAV, DavError, toDavError } from './errors.js';
import { deleteMethod, getMethod, mkcolMethod, optionsMethod, putMethod } from './methods.js';
import { davPath, hrefOf, normaliseBase, parseTarget, ROOT, type DavPath } from './href.js';
import { evaluateIf, parseIfHeader, submittedTokens } from './if-header.js';
import { LockManager, lockMethod, unlockMethod, type LockOptions } from './lock.js';
import { hrefXml, Namespaces, sendXml } from './multistatus.js';
import { registerBuiltinProperties } from './properties.js';
import { propfindMethod } from './propfind.js';
import { proppatchMethod } from './proppatch.js';
import { aclMethod, reportMethod } from './report.js';
import {
  virtualCollection,
  type DavBackend,
  type DavContext,
  type DavLookup,
  type DavResource,
  type MethodHandler,
  type Privilege,
  type PropertyDefinition,
  type ReportHandler,
} from './resource.js';
import { escapeText, parseXml, type XmlElement, type XmlLimits } from './xml-codec.js';

export interface DavLimits {
  /** Largest XML request body (bytes). Default 1 MiB. */
  maxXmlBody?: number;
  /** Most resources one Depth: infinity PROPFIND or COPY may cover. Default 10,000. */
  maxInfinity?: number;
}

/** What a plugin may add to the engine. */
export interface DavPluginHost {
  /** Serve a backend under a top-level segment (`files`, `principals`, `calendars`…). */
  mount(segment: string, backend: DavBackend): void;
  addProperty<P>(definition: PropertyDefinition<P>): void;
  /** A method the engine does not know (MKCALENDAR…), or a replacement for one it knows. */
  addMethod(method: string, handler: MethodHandler): void;
  addReport(name: string, handler: ReportHandler): void;
  addNamespace(prefix: string, ns: string): void;
  /** A compliance class for the DAV response header (`calendar-access`…). */
  addCompliance(token: string): void;
  on<K extends keyof DavHooks>(hook: K, fn: DavHooks[K]): void;
  readonly locks: LockManager;
  readonly engine: DavEngine;
}

export interface DavHooks {
  /** Before any method, after authentication. Throw a DavError to refuse. */
  beforeMethod(ctx: DavContext): Promise<void> | void;
  /** Before a new member is bound (PUT, MKCOL, COPY/MOVE destination, LOCK of an unmapped URL). */
  beforeBind(ctx: DavContext, parent: DavResource, path: DavPath, collection: boolean): Promise<void> | void;
  /** Members listed by PROPFIND (and GET on a collection): a plugin may hide some. */
  filterMembers(ctx: DavContext, collection: DavResource, members: DavResource[]): DavResource[];
  /** After anything changed (for notifications): kind and the paths touched. */
  afterChange(ctx: DavContext, change: { kind: 'put' | 'mkcol' | 'delete' | 'move' | 'copy' | 'proppatch'; path: DavPath; destination?: DavPath }): Promise<void> | void;
}

export interface DavPlugin {
  readonly name: string;
  setup(host: DavPluginHost): void;
}

export interface DavHandlerOptions {
  /** Public path the handler answers under, e.g. `/dav` (default). Hrefs are built from it. */
  basePath?: string;
  authenticator: HttpAuthenticator;
  locks: LockStore;
  plugins?: readonly DavPlugin[];
  logger?: Logger;
  clock?: Clock;
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

/**
 * The DAV engine: authentication, paths, the If header, locks, properties and the RFC 4918 methods, with
 * backends mounted per top-level segment and plugins adding methods, reports, properties and hooks.
 */
export class DavEngine {
  readonly base: string;
  readonly baseSegments: readonly string[];
  readonly namespaces = new Namespaces();
  readonly properties = new Map<string, PropertyDefinition<unknown>>();
  readonly reports = new Map<string, ReportHandler>();
  readonly methods = new Map<string, MethodHandler>();
  readonly compliance = ['1', '2', '3', 'access-control', 'extended-mkcol'];
  readonly mounts = new Map<string, DavBackend>();
  readonly locks: LockManager;
  readonly log: Logger;
  readonly clock: Clock;
  readonly limits: Required<DavLimits>;
  readonly xmlLimits: XmlLimits = { maxDepth: 64, maxNodes: 100_000 };
  private readonly hookLists: { [K in keyof DavHooks]: DavHooks[K][] } = { beforeMethod: [], beforeBind: [], filterMembers: [], afterChange: [] };
  readonly hooks: DavHooks;
  private readonly rootResource: DavResource;

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
      filterMembers: (ctx, collection, members) => lists.filterMembers.reduce((m, fn) => fn(ctx, collection, m), members),
      afterChange: async (ctx, change) => {
        for (const fn of lists.afterChange) await fn(ctx, change);
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
    for (const [method, fn] of [
      ['OPTIONS', optionsMethod],
      ['GET', getMethod],
      ['HEAD', getMethod],
      ['PUT', putMethod],
      ['DELETE', deleteMethod],
      ['MKCOL', mkcolMethod],
      ['COPY', copyMethod],
      ['MOVE', moveMethod],
      ['PROPFIND', propfindMethod],
      ['PROPPATCH', proppatchMethod],
      ['LOCK', lockMethod],
      ['UNLOCK', unlockMethod],
      ['REPORT', reportMethod],
      ['ACL', aclMethod],
    ] as const) {
      this.methods.set(method, (ctx) => fn(this, ctx));
    }
    registerBuiltinProperties(this);
    const host: DavPluginHost = {
      mount: (segment, backend) => {
        if (!/^[a-z][a-z0-9-]*$/.test(segment) || this.mounts.has(segment)) throw new Error(`cannot mount ${segment}`);
        this.mounts.set(segment, backend);
      },
      addProperty: (definition) => {
        this.properties.set(definition.name, definition as PropertyDefinition<unknown>);
      },
      addMethod: (method, handler) => {
        if (!/^[A-Z][A-Z-]*$/.test(method)) throw new Error(`invalid method ${method}`);
        this.methods.set(method, handler);
      },
      addReport: (name, handler) => {
        this.reports.set(name, handler);
      },
      addNamespace: (prefix, ns) => this.namespaces.add(prefix, ns),
      addCompliance: (token) => {
        if (!this.compliance.includes(token)) this.compliance.push(token);
      },
      on: (hook, fn) => {
        (this.hookLists[hook] as unknown[]).push(fn);
      },
      locks: this.locks,
      engine: this,
    };
    for (const plugin of options.plugins ?? []) plugin.setup(host);
  }

  /** Methods for the Allow header. */
  allowedMethods(): string {
    return [...this.methods.keys()].join(', ');
  }

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

  async members(ctx: DavContext, collection: DavResource): Promise<DavResource[]> {
    return this.hooks.filterMembers(ctx, collection, await collection.backend.members(ctx, collection));
  }

  /** Everything below, parents first; 'too-many' past the limit. */
  async descendants(ctx: DavContext, collection: DavResource, limit: number): Promise<DavResource[] | 'too-many'> {
    if (collection.backend.descendants) {
      const all = await collection.backend.descendants(ctx, collection, limit);
      if (all === 'too-many') return all;
      const hidden = new Set(all.filter((r) => !this.hooks.filterMembers(ctx, collection, [r]).length).map((r) => r.path.key));
      return hidden.size ? all.filter((r) => ![...hidden].some((h) => r.path.key === h || r.path.key.startsWith(`${h}/`))) : all;
    }
    const out: DavResource[] = [];
    const walk = async (c: DavResource): Promise<boolean> => {
      for (const m of await this.members(ctx, c)) {
        out.push(m);
        if (out.length > limit) return false;
        if (m.collection && !(await walk(m))) return false;
      }
      return true;
    };
    return (await walk(collection)) ? out : 'too-many';
  }

  /** 403 with DAV:need-privileges unless the principal holds `privilege` on the resource. */
  require(ctx: DavContext, resource: DavResource, privilege: Privilege): void {
    if (resource.privileges.has(privilege) || resource.privileges.has('all')) return;
    throw new DavError(403, `${privilege} privilege required`, {
      condition: `{${DAV}}need-privileges`,
      conditionXml: `<d:resource>${hrefXml(this.hrefOf(resource))}<d:privilege><d:${privilege}/></d:privilege></d:resource>`,
    });
  }

  /**
   * Evaluate the If header (412 when it fails) and return the lock tokens it submits. `resource` is what
   * the request-URI maps to (null if unmapped).
   */
  async ifHeader(ctx: DavContext, resource: DavResource | null, path: DavPath): Promise<Set<string>> {
    const raw = headerOf(ctx.req, 'if');
    if (raw === undefined) return new Set();
    const lists = parseIfHeader(raw);
    const tokensAt = async (p: DavPath) => new Set<string>((await this.locks.store.covering(p.key, ctx.now)).map((l: DavLock) => l.token));
    const ok = await evaluateIf(lists, async (tag) => {
      if (tag === null) return { etag: resource?.etag ?? null, tokens: await tokensAt(path) };
      let other: DavPath | null = null;
      try {
        other = this.pathOf(tag);
      } catch {
        other = null;
      }
      if (!other) return { etag: null, tokens: new Set<string>() };
      const found = await this.lookup(ctx, other).catch(() => null);
      return { etag: found?.resource?.etag ?? null, tokens: await tokensAt(other) };
    });
    if (!ok) throw new DavError(412, 'the If header does not hold');
    return submittedTokens(lists);
  }

  /** If-Match / If-None-Match / If-(Un)Modified-Since. */
  conditional(ctx: DavContext, resource: DavResource | null, safe: boolean): 'proceed' | 'not-modified' {
    const outcome = evaluateConditional(ctx.req.headers, resource, safe);
    if (outcome === 'failed') throw new DavError(412, 'precondition failed');
    return outcome;
  }

  /** Depth header: one of `allowed`, or `fallback` when absent; 400 otherwise. */
  depth<T extends '0' | '1' | 'infinity'>(ctx: DavContext, allowed: readonly T[], fallback: T): T {
    const raw = headerOf(ctx.req, 'depth');
    if (raw === undefined) return fallback;
    const v = raw.trim().toLowerCase() as T;
    if (!allowed.includes(v)) throw new DavError(400, `Depth must be ${allowed.join(' or ')}`);
    return v;
  }

  /** The Destination header as a path of this engine (502 for another server, 400 when malformed). */
  destination(ctx: DavContext): DavPath {
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
    const path = this.pathOf(raw);
    if (!path) throw new DavError(502, 'the destination is outside this DAV service');
    return path;
  }

  /** The XML request body, or null when there is none. Read it only once the request is authorised (100 Continue goes out then). */
  async readXml(ctx: DavContext): Promise<XmlElement | null> {
    if (!hasBody(ctx.req)) {
      ctx.req.resume();
      return null;
    }
    const body = await readBody(ctx.req, ctx.res, this.limits.maxXmlBody);
    if (body.length === 0) return null;
    return parseXml(body, this.xmlLimits);
  }

  sendLockDiscovery(ctx: DavContext, status: number, lock: DavLock): void {
    sendXml(ctx.res, status, `<d:lockdiscovery>${this.locks.activeLockXml(this, lock, ctx.now)}</d:lockdiscovery>`, this.namespaces, 'prop');
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
      if (method === 'OPTIONS' || atServerRoot) {
        res.setHeader('dav', this.compliance.join(', '));
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
      const target = atServerRoot ? { segments: [], trailingSlash: true } : parseTarget(`/${inner}`);
      const ctx: DavContext = {
        principal: auth.principal,
        requestId,
        log: log.child({ account: auth.principal.address }),
        now: this.clock.now(),
        method,
        req,
        res,
        path: this.canonical(davPath(target.segments)),
        trailingSlash: target.trailingSlash,
        memo: new Map(),
      };
      await this.hooks.beforeMethod(ctx);
      const handler = atServerRoot ? this.methods.get('PROPFIND') : this.methods.get(method);
      if (!handler) throw new DavError(501, `${method} is not implemented`, { headers: { allow: this.allowedMethods() } });
      await handler(ctx);
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
