import { randomUUID } from 'node:crypto';
import { isPalabreError, lockPrefix, MAX_LOCK_TIMEOUT_SECONDS, type DavLock, type LockStore } from '@palabre/core';
import { headerOf, readBody, hasBody } from './body.js';
import { DAV, DavError } from './errors.js';
import { davPath, parentOf, type DavPath } from './href.js';
import { ifHeaderOf, requirePrivilege } from './request.js';
import type { DavContext, DavServices } from './resource.js';
import { child, elements, parseXml, serializeElement } from './xml-codec.js';
import { hrefXml, sendXml } from './multistatus.js';

export interface LockOptions {
  /** Timeout when the client asks for none (seconds). Default 1800. */
  defaultTimeout?: number;
  /** Longest timeout granted, Infinite included (seconds). Default 86400. */
  maxTimeout?: number;
}

/** Does a lock apply to a path (its root, or below a depth-infinity root)? */
export function lockApplies(lock: DavLock, key: string): boolean {
  return lock.root === key || (lock.depth === 'infinity' && key.startsWith(lockPrefix(lock.root)));
}

/**
 * The engine's view of the lock table: write checks (RFC 4918 §7: a lock token must be submitted, in the
 * If header, by the principal that took the lock), lockdiscovery and the LOCK/UNLOCK methods.
 */
export class LockManager {
  readonly defaultTimeout: number;
  readonly maxTimeout: number;

  constructor(
    readonly store: LockStore,
    options: LockOptions = {},
  ) {
    this.maxTimeout = Math.min(options.maxTimeout ?? 86_400, MAX_LOCK_TIMEOUT_SECONDS);
    this.defaultTimeout = Math.min(options.defaultTimeout ?? 1800, this.maxTimeout);
  }

  /**
   * 423 Locked unless every lock protecting the targets is matched by a submitted token of its owner.
   * A target is a path whose content or membership changes; `deep` adds the locks below it (DELETE/MOVE of
   * a collection, replacing a collection).
   */
  async assertUnlocked(ctx: DavContext, targets: readonly { path: DavPath; deep?: boolean }[], submitted: ReadonlySet<string>): Promise<void> {
    const held = (l: DavLock) => submitted.has(l.token) && l.principalId === ctx.principal.accountId;
    const blocked = new Set<string>();
    // The locks on every target in one read (a new member and its folder, the two ends of a MOVE).
    const live = await this.store.covering(
      targets.map((t) => t.path.key),
      ctx.now,
    );
    for (const t of targets) {
      const covering = live.filter((l) => lockApplies(l, t.path.key));
      if (covering.length && !covering.some(held)) blocked.add(covering[0]!.root);
      if (t.deep) for (const l of await this.store.below(t.path.key, ctx.now)) if (!held(l)) blocked.add(l.root);
    }
    if (blocked.size) {
      throw new DavError(423, 'the resource is locked', {
        condition: `{${DAV}}lock-token-submitted`,
        hrefs: [...blocked].map((root) => ctx.dav.href(pathOfKey(root), false)),
      });
    }
  }

  /** Live locks that apply to any of these paths, fetched at once for a PROPFIND batch. */
  async forBatch(paths: readonly DavPath[], now: Date): Promise<DavLock[]> {
    if (paths.length === 0) return [];
    let common = paths[0]!.segments;
    for (const p of paths) {
      let n = 0;
      while (n < common.length && n < p.segments.length && common[n] === p.segments[n]) n++;
      common = common.slice(0, n);
    }
    const base = davPath(common);
    const [covering, below] = await Promise.all([this.store.covering(base.key, now), this.store.below(base.key, now)]);
    return [...covering, ...below];
  }

  activeLockXml(dav: Pick<DavServices, 'href'>, lock: DavLock, now: Date): string {
    const remaining = Math.max(0, Math.ceil((lock.expiresAt.getTime() - now.getTime()) / 1000));
    return (
      `<d:activelock><d:locktype><d:write/></d:locktype><d:lockscope><d:${lock.scope}/></d:lockscope>` +
      `<d:depth>${lock.depth === 'infinity' ? 'infinity' : '0'}</d:depth>${lock.owner ?? ''}` +
      `<d:timeout>Second-${remaining}</d:timeout><d:locktoken>${hrefXml(lock.token)}</d:locktoken>` +
      `<d:lockroot>${hrefXml(dav.href(pathOfKey(lock.root), false))}</d:lockroot></d:activelock>`
    );
  }

  /** Timeout header (RFC 4918 §10.7): the first value we understand, clamped. */
  timeoutOf(header: string | undefined): number {
    if (!header) return this.defaultTimeout;
    for (const part of header.split(',')) {
      const v = part.trim();
      if (/^infinite$/i.test(v)) return this.maxTimeout;
      const m = /^second-(\d{1,12})$/i.exec(v);
      if (m) return Math.max(1, Math.min(Number(m[1]), this.maxTimeout));
    }
    return this.defaultTimeout;
  }
}

export function pathOfKey(key: string): DavPath {
  return davPath(key === '/' ? [] : key.slice(1).split('/'));
}

/** LOCK (RFC 4918 §9.10): new locks (on mapped or unmapped URLs) and refreshes. */
export async function lockMethod(ctx: DavContext): Promise<void> {
  const manager = ctx.dav.locks;
  const depthHeader = headerOf(ctx.req, 'depth');
  if (depthHeader !== undefined && !/^(0|infinity)$/i.test(depthHeader.trim())) throw new DavError(400, 'LOCK Depth is 0 or infinity');
  const timeout = manager.timeoutOf(headerOf(ctx.req, 'timeout'));
  const { resource, parent } = await ctx.dav.lookup(ctx, ctx.path);
  // A body asks for a new lock: the privilege to take it is checked before the body is asked for.
  const authorise = () => {
    if (resource) requirePrivilege(ctx, resource, 'write-content');
    else {
      if (!parent) throw new DavError(409, 'the parent collection does not exist');
      requirePrivilege(ctx, parent, 'bind');
    }
  };
  if (hasBody(ctx.req)) authorise();
  const body = hasBody(ctx.req) ? await readBody(ctx.req, ctx.res, ctx.dav.limits.maxXmlBody) : Buffer.alloc(0);

  if (body.length === 0) {
    // Refresh: the If header names the lock.
    if (!resource) throw new DavError(404, 'no such resource');
    const submitted = await ifHeaderOf(ctx, resource, ctx.path);
    if (submitted.size === 0) throw new DavError(400, 'a LOCK refresh needs the lock token in an If header');
    for (const token of submitted) {
      const lock = await manager.store.get(token, ctx.now);
      if (!lock || !lockApplies(lock, ctx.path.key)) continue;
      if (lock.principalId !== ctx.principal.accountId) throw new DavError(403, 'this lock belongs to someone else');
      const refreshed = await manager.store.refresh(token, timeout, ctx.now);
      if (!refreshed) continue;
      ctx.log.debug({ path: ctx.path.key, timeout }, 'dav.lock.refreshed');
      sendLockDiscovery(ctx, 200, refreshed);
      return;
    }
    throw new DavError(412, 'no lock of yours matches the If header', { condition: `{${DAV}}lock-token-matches-request-uri` });
  }

  const info = parseXml(body, ctx.dav.xmlLimits);
  if (info.ns !== DAV || info.name !== 'lockinfo') throw new DavError(400, 'LOCK body must be a DAV:lockinfo');
  const scopeEl = child(info, DAV, 'lockscope');
  const scopeName = scopeEl ? elements(scopeEl)[0] : undefined;
  if (!scopeName || scopeName.ns !== DAV || (scopeName.name !== 'exclusive' && scopeName.name !== 'shared')) throw new DavError(400, 'lockscope must be exclusive or shared');
  const typeEl = child(info, DAV, 'locktype');
  const typeName = typeEl ? elements(typeEl)[0] : undefined;
  if (!typeName || typeName.ns !== DAV || typeName.name !== 'write') throw new DavError(400, 'only write locks exist');
  const ownerEl = child(info, DAV, 'owner');
  const owner = ownerEl ? serializeElement(ownerEl) : null;
  if (owner && owner.length > 4096) throw new DavError(400, 'the lock owner is too long');
  const depth: 0 | 'infinity' = depthHeader !== undefined && depthHeader.trim() === '0' ? 0 : 'infinity';

  authorise();
  const submitted = await ifHeaderOf(ctx, resource, ctx.path);
  let created = false;
  let target = resource;
  if (!target) {
    // RFC 4918 §7.3: locking an unmapped URL creates an empty resource, which stays after UNLOCK.
    await manager.assertUnlocked(ctx, [{ path: parentOf(ctx.path) }], submitted);
    const backend = parent!.backend;
    if (!backend.write) throw new DavError(405, 'resources cannot be created here');
    await ctx.dav.hooks.beforeBind(ctx, parent!, ctx.path, false);
    target = (await backend.write(ctx, parent!, ctx.path.segments[ctx.path.segments.length - 1]!, { body: emptyBody(), contentType: null, expectedLength: 0, ifNoneMatchAny: true }))
      .resource;
    created = true;
  }
  const lock = {
    token: `opaquelocktoken:${randomUUID()}`,
    root: ctx.path.key,
    depth: target.collection ? depth : (0 as const),
    scope: scopeName.name as 'exclusive' | 'shared',
    owner,
    principalId: ctx.principal.accountId,
    timeoutSeconds: timeout,
  };
  let taken: DavLock;
  try {
    taken = await manager.store.acquire(lock, ctx.now);
  } catch (error) {
    if (created) await target.backend.remove?.(ctx, target).catch(() => undefined);
    if (isPalabreError(error, 'conflict') && (error.detail as { reason?: string } | undefined)?.reason === 'locked') {
      const roots = ((error.detail as { locks?: string[] }).locks ?? []).map((r) => ctx.dav.href(pathOfKey(r), false));
      throw new DavError(423, 'the resource is locked', { condition: `{${DAV}}no-conflicting-lock`, hrefs: roots });
    }
    throw error;
  }
  ctx.log.info({ path: ctx.path.key, scope: taken.scope, depth: taken.depth, timeout }, 'dav.lock.acquired');
  ctx.res.setHeader('lock-token', `<${taken.token}>`);
  sendLockDiscovery(ctx, created ? 201 : 200, taken);
}

/** UNLOCK (RFC 4918 §9.11). Accepts a Lock-Token without angle brackets (Windows mini-redirector). */
export async function unlockMethod(ctx: DavContext): Promise<void> {
  const header = headerOf(ctx.req, 'lock-token');
  if (!header || !header.trim()) throw new DavError(400, 'UNLOCK needs a Lock-Token header');
  const token = header.trim().replace(/^<(.*)>$/, '$1').trim();
  const { resource } = await ctx.dav.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  requirePrivilege(ctx, resource, 'read');
  const lock = await ctx.dav.locks.store.get(token, ctx.now);
  if (!lock || !lockApplies(lock, ctx.path.key)) {
    throw new DavError(409, 'that lock token does not apply to this resource', { condition: `{${DAV}}lock-token-matches-request-uri` });
  }
  if (lock.principalId !== ctx.principal.accountId) throw new DavError(403, 'this lock belongs to someone else');
  await ctx.dav.locks.store.release(token);
  ctx.log.info({ path: ctx.path.key }, 'dav.lock.released');
  ctx.res.statusCode = 204;
  ctx.res.end();
}

async function* emptyBody(): AsyncIterable<Uint8Array> {}

/** A LOCK answer: the lock's activelock inside DAV:prop/DAV:lockdiscovery. */
export function sendLockDiscovery(ctx: DavContext, status: number, lock: DavLock): void {
  sendXml(ctx.res, status, `<d:lockdiscovery>${ctx.dav.locks.activeLockXml(ctx.dav, lock, ctx.now)}</d:lockdiscovery>`, ctx.dav.namespaces, 'prop');
}
