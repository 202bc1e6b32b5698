import { checkQuota } from '../directory/directory-rules.js';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import type { DavLock, DescendantEntry, DriveNode, GrantAccess, GrantPrincipal, LockScope, NewLock, PropertyPatch } from './drive-store.js';
import { DRIVE_MAX_NAME_LENGTH } from './drive-store.js';

/**
 * Input rules and error shapes shared by every DriveStore and LockStore implementation, so that the
 * in-memory stores used in tests refuse exactly what the database stores refuse.
 */

const BAD_NAME_CHARS = /[\u0000-\u001f\u007f/]/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const GROUP_SPACE = /^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$/;
const CLARK = /^\{[^{}]*\}[^{}\s]+$/u;
export const MAX_PROPERTY_NAME = 512;
export const MAX_PROPERTY_VALUE = 64 * 1024;
export const MAX_PROPERTIES_PER_NODE = 256;
export const MAX_LOCK_PATH_BYTES = 2048;
export const MAX_LOCK_OWNER = 4096;
export const MAX_LOCK_TIMEOUT_SECONDS = 7 * 24 * 3600;
export const DEFAULT_COPY_LIMIT = 100_000;
const ID = /^[0-9a-f-]{36}$/;

export type DriveConflictReason = 'exists' | 'no-parent' | 'precondition' | 'not-a-folder' | 'cycle' | 'is-folder';

export function driveConflict(reason: DriveConflictReason, message: string): ConflictError {
  return new ConflictError(message, { detail: { reason } });
}

export function conflictReason(error: unknown): DriveConflictReason | undefined {
  return (error as { detail?: { reason?: DriveConflictReason } } | null)?.detail?.reason;
}

export function checkNodeName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidInputError('a name is required');
  if (name.length > DRIVE_MAX_NAME_LENGTH) throw new InvalidInputError(`names are at most ${DRIVE_MAX_NAME_LENGTH} characters`);
  if (name === '.' || name === '..') throw new InvalidInputError('"." and ".." are not names');
  if (BAD_NAME_CHARS.test(name)) throw new InvalidInputError('names cannot contain "/" or control characters');
  if (LONE_SURROGATE.test(name)) throw new InvalidInputError('names must be well-formed Unicode');
  return name;
}

export function checkGroupSpaceName(name: unknown): string {
  if (typeof name !== 'string' || !GROUP_SPACE.test(name)) {
    throw new InvalidInputError('a group folder name is 1-128 lower-case letters, digits, ".", "_" or "-"');
  }
  return name;
}

export function checkId(id: unknown, what = 'id'): string {
  if (typeof id !== 'string' || !ID.test(id)) throw new NotFoundError(`no such ${what}`);
  return id;
}

export function checkSize(size: unknown): number {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new InvalidInputError('size must be a whole number of bytes');
  return size;
}

export function checkBlobId(id: unknown): string {
  if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) throw new InvalidInputError('invalid blob id');
  return id;
}

export function checkContentType(type: unknown): string | null {
  if (type === undefined || type === null || type === '') return null;
  if (typeof type !== 'string' || type.length > 255 || /[\u0000-\u001f\u007f]/.test(type)) throw new InvalidInputError('invalid content type');
  return type;
}

export function checkTime(at: unknown): number {
  const time = at instanceof Date ? at.getTime() : NaN;
  if (!Number.isSafeInteger(time)) throw new InvalidInputError('invalid time');
  return time;
}

export function checkPropertyPatch(patch: readonly PropertyPatch[]): void {
  if (!Array.isArray(patch) || patch.length > MAX_PROPERTIES_PER_NODE * 2) throw new InvalidInputError('too many property updates');
  for (const op of patch) {
    if (typeof op.name !== 'string' || op.name.length > MAX_PROPERTY_NAME || !CLARK.test(op.name)) {
      throw new InvalidInputError('property names are {namespace}local-name');
    }
    if (op.op === 'set') {
      if (typeof op.value !== 'string' || Buffer.byteLength(op.value) > MAX_PROPERTY_VALUE) {
        throw new InvalidInputError(`property values are at most ${MAX_PROPERTY_VALUE} bytes`);
      }
    } else if (op.op !== 'remove') throw new InvalidInputError('property updates are set or remove');
  }
}

export function tooManyProperties(): InvalidInputError {
  return new InvalidInputError(`at most ${MAX_PROPERTIES_PER_NODE} dead properties per resource`);
}

export function checkGrants(grants: readonly { principal: GrantPrincipal; access: GrantAccess }[]): void {
  if (!Array.isArray(grants) || grants.length > 1000) throw new InvalidInputError('too many grants');
  for (const g of grants) {
    if (g.principal?.kind !== 'account' && g.principal?.kind !== 'group') throw new InvalidInputError('grants name an account or a group');
    checkId(g.principal.id, g.principal.kind);
    if (g.access !== 'read' && g.access !== 'write') throw new InvalidInputError('access is read or write');
  }
}

export function checkGroupQuota(value: unknown): number | null {
  return value === undefined ? null : checkQuota(value);
}

export function rootUntouchable(): ForbiddenError {
  return new ForbiddenError('the root of a drive cannot be removed, moved or replaced');
}

// ---------------------------------------------------------------- locks

export function checkLockPath(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || (path.length > 1 && path.endsWith('/')) || path.includes('//')) {
    throw new InvalidInputError('lock paths are canonical: "/a/b", no trailing slash');
  }
  if (Buffer.byteLength(path) > MAX_LOCK_PATH_BYTES) throw new InvalidInputError('lock path too long');
  return path;
}

export function checkNewLock(lock: NewLock): void {
  checkLockPath(lock.root);
  if (typeof lock.token !== 'string' || lock.token.length === 0 || lock.token.length > 100) throw new InvalidInputError('invalid lock token');
  if (lock.depth !== 0 && lock.depth !== 'infinity') throw new InvalidInputError('lock depth is 0 or infinity');
  if (lock.scope !== 'exclusive' && lock.scope !== 'shared') throw new InvalidInputError('lock scope is exclusive or shared');
  if (lock.owner !== null && (typeof lock.owner !== 'string' || lock.owner.length > MAX_LOCK_OWNER)) throw new InvalidInputError('lock owner too long');
  if (typeof lock.principalId !== 'string' || lock.principalId.length === 0 || lock.principalId.length > 36) {
    throw new InvalidInputError('invalid lock principal');
  }
  checkLockTimeout(lock.timeoutSeconds);
}

export function checkLockTimeout(seconds: unknown): number {
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_LOCK_TIMEOUT_SECONDS) {
    throw new InvalidInputError(`lock timeouts are 1 to ${MAX_LOCK_TIMEOUT_SECONDS} seconds`);
  }
  return seconds;
}

/** "/a/b/c" → ["/", "/a", "/a/b"]. */
export function lockAncestors(path: string): string[] {
  if (path === '/') return [];
  const out = ['/'];
  let at = 0;
  for (;;) {
    at = path.indexOf('/', at + 1);
    if (at < 0) return out;
    out.push(path.slice(0, at));
  }
}

export function lockPrefix(path: string): string {
  return path === '/' ? '/' : `${path}/`;
}

/** Does a live lock apply to `path` (rooted there, or an ancestor's depth-infinity lock)? */
export function lockCovers(lock: DavLock, path: string): boolean {
  return lock.root === path || (lock.depth === 'infinity' && path.startsWith(lockPrefix(lock.root)));
}

/** Would a new lock of this scope conflict with an existing one? */
export function locksConflict(existing: LockScope, wanted: LockScope): boolean {
  return existing === 'exclusive' || wanted === 'exclusive';
}

export function lockConflict(roots: readonly string[]): ConflictError {
  return new ConflictError('the resource is locked', { detail: { reason: 'locked', locks: [...new Set(roots)] } });
}

/** Parents before members, members by name, with each node's path from the start. */
export function orderTree(startId: string, nodes: readonly DriveNode[]): DescendantEntry[] {
  const byParent = new Map<string, DriveNode[]>();
  for (const n of nodes) {
    const list = byParent.get(n.parentId!) ?? [];
    list.push(n);
    byParent.set(n.parentId!, list);
  }
  const out: DescendantEntry[] = [];
  const walk = (id: string, path: readonly string[]) => {
    const list = (byParent.get(id) ?? []).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const n of list) {
      const p = [...path, n.name];
      out.push({ node: n, path: p });
      if (n.kind === 'dir') walk(n.id, p);
    }
  };
  walk(startId, []);
  return out;
}

