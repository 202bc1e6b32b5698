import { randomUUID } from 'node:crypto';
import {
  DEFAULT_COPY_LIMIT,
  MAX_PROPERTIES_PER_NODE,
  checkBlobId,
  checkContentType,
  checkGrants,
  checkGroupQuota,
  checkGroupSpaceName,
  checkId,
  checkLockPath,
  checkLockTimeout,
  checkNewLock,
  checkNodeName,
  checkPropertyPatch,
  checkSize,
  checkTime,
  driveConflict,
  lockConflict,
  lockCovers,
  lockPrefix,
  locksConflict,
  orderTree,
  rootUntouchable,
  tooManyProperties,
} from '../../drive/drive-rules.js';
import { ConflictError, InvalidInputError, NotFoundError, QuotaExceededError, TooLargeError } from '../../errors.js';
import type { UsageStore } from '../../usage/usage-store.js';
import { MemoryUsageStore } from '../usage/memory-usage-store.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { DirectoryStore } from '../../directory/directory-store.js';
import type {
  DavLock,
  DeadProperty,
  DescendantEntry,
  DriveGrant,
  DriveNode,
  DriveSpace,
  DriveStore,
  FileContent,
  GrantAccess,
  GrantPrincipal,
  LockStore,
  NewGroupSpace,
  NewLock,
  PropertyPatch,
  SpaceFilter,
  TransferOptions,
  TransferOutcome,
  WriteExpectation,
  WriteOutcome,
} from '../../drive/drive-store.js';

type MutableNode = { -readonly [K in keyof DriveNode]: DriveNode[K] };

/**
 * DriveStore in memory, for tests of the protocol packages: the same rules and errors as SqlDriveStore
 * (the drive-store contract runs on both). Every method's work happens synchronously after its awaits,
 * so each is atomic with respect to the others, like a transaction.
 */
export class MemoryDriveStore implements DriveStore {
  private readonly spaces = new Map<string, DriveSpace>();
  private readonly nodes = new Map<string, MutableNode>();
  private readonly kids = new Map<string, Map<string, string>>();
  private readonly props = new Map<string, Map<string, string>>();
  private readonly grants = new Map<string, DriveGrant[]>();
  private readonly seqs = new Map<string, number>();
  readonly accountUsage: UsageStore;
  private readonly directory: DirectoryStore | undefined;
  private readonly clock: Clock;

  /** Quotas come from `directory` when given (else unlimited); usage goes to `usage`. */
  constructor(options: { directory?: DirectoryStore; usage?: UsageStore; clock?: Clock } = {}) {
    this.accountUsage = options.usage ?? new MemoryUsageStore();
    this.directory = options.directory;
    this.clock = options.clock ?? systemClock;
  }

  // ---------------------------------------------------------------- spaces

  async ensureHome(account: { id: string; address: string }): Promise<DriveSpace> {
    checkId(account.id, 'account');
    const found = [...this.spaces.values()].find((s) => s.accountId === account.id);
    return found ?? this.createSpace(account.address, 'home', account.id, null, null);
  }

  async createGroupSpace(input: NewGroupSpace): Promise<DriveSpace> {
    const name = checkGroupSpaceName(input.name);
    checkId(input.groupId, 'group');
    return this.createSpace(name, 'group', null, input.groupId, checkGroupQuota(input.quotaBytes));
  }

  private createSpace(name: string, kind: 'home' | 'group', accountId: string | null, groupId: string | null, quotaBytes: number | null): DriveSpace {
    if ([...this.spaces.values()].some((s) => s.name === name)) throw new ConflictError(`creating drive ${name}: already exists`);
    const at = this.clock.now();
    const space: DriveSpace = { id: randomUUID(), name, kind, accountId, groupId, rootId: randomUUID(), quotaBytes, createdAt: at };
    this.spaces.set(space.id, space);
    this.addNode({ id: space.rootId, spaceId: space.id, parentId: null, name: '', kind: 'dir', blobId: null, size: 0, contentType: null, version: 0, createdAt: at, modifiedAt: at });
    return space;
  }

  async findSpace(name: string): Promise<DriveSpace | null> {
    return [...this.spaces.values()].find((s) => s.name === name) ?? null;
  }

  async getSpace(id: string): Promise<DriveSpace> {
    checkId(id, 'drive');
    const space = this.spaces.get(id);
    if (!space) throw new NotFoundError('no such drive');
    return space;
  }

  async listSpaces(filter: SpaceFilter): Promise<DriveSpace[]> {
    const accounts = new Set(filter.accountIds ?? []);
    const groups = new Set(filter.groupIds ?? []);
    const grantees = new Set((filter.grantedTo ?? []).map((p) => `${p.kind}:${p.id}`));
    if (accounts.size + groups.size + grantees.size > 2000) throw new InvalidInputError('too many owners');
    const granted = (s: DriveSpace) => (this.grants.get(s.rootId) ?? []).some((g) => grantees.has(`${g.principal.kind}:${g.principal.id}`));
    return [...this.spaces.values()]
      .filter((s) => (s.accountId !== null && accounts.has(s.accountId)) || (s.groupId !== null && groups.has(s.groupId)) || granted(s))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async removeSpace(id: string): Promise<void> {
    const space = await this.getSpace(id);
    const root = this.nodes.get(space.rootId)!;
    if (space.accountId) await this.accountUsage.add(space.accountId, 'drive', -root.size);
    this.dropTree(root);
    this.spaces.delete(id);
    this.seqs.delete(id);
  }

  // ---------------------------------------------------------------- reads

  async resolve(fromId: string, names: readonly string[]): Promise<DriveNode[]> {
    const start = this.nodes.get(fromId);
    if (!start) return [];
    const chain: DriveNode[] = [{ ...start }];
    let at = start;
    for (const name of names) {
      const id = this.kids.get(at.id)?.get(name);
      const next = id ? this.nodes.get(id) : undefined;
      if (!next) break;
      chain.push({ ...next });
      at = next;
    }
    return chain;
  }

  async locate(spaceName: string, names: readonly string[]): Promise<{ space: DriveSpace; chain: DriveNode[] } | null> {
    const space = await this.findSpace(spaceName);
    return space ? { space, chain: await this.resolve(space.rootId, names) } : null;
  }

  async childProperties(folderId: string): Promise<Map<string, DeadProperty[]>> {
    return this.properties([...(this.kids.get(folderId)?.values() ?? [])]);
  }

  async getNode(id: string): Promise<DriveNode | null> {
    const n = this.nodes.get(id);
    return n ? { ...n } : null;
  }

  async children(folderId: string): Promise<DriveNode[]> {
    return [...(this.kids.get(folderId)?.values() ?? [])]
      .map((id) => ({ ...this.nodes.get(id)! }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async descendants(folderId: string, limit: number): Promise<DescendantEntry[] | 'too-many'> {
    const below = this.subtree(folderId);
    if (below.length > limit) return 'too-many';
    return orderTree(folderId, below.map((n) => ({ ...n })));
  }

  async properties(nodeIds: readonly string[]): Promise<Map<string, DeadProperty[]>> {
    const out = new Map<string, DeadProperty[]>();
    for (const id of nodeIds) {
      const p = this.props.get(id);
      if (p && p.size) out.set(id, [...p].map(([name, value]) => ({ name, value })));
    }
    return out;
  }

  // ---------------------------------------------------------------- writes

  async createFolder(parentId: string, name: string, options: { at?: Date } = {}): Promise<DriveNode> {
    checkNodeName(name);
    const at = options.at ? new Date(checkTime(options.at)) : this.clock.now();
    const parent = this.folder(parentId);
    if (this.kids.get(parent.id)?.has(name)) throw driveConflict('exists', 'something already has that name');
    const id = randomUUID();
    const seq = this.nextSeq(parent.spaceId);
    this.addNode({ id, spaceId: parent.spaceId, parentId: parent.id, name, kind: 'dir', blobId: null, size: 0, contentType: null, version: seq, createdAt: at, modifiedAt: at });
    this.bump(parent.id, seq, 0, at);
    return { ...this.nodes.get(id)! };
  }

  async writeFile(parentId: string, name: string, content: FileContent, expect: WriteExpectation = {}): Promise<WriteOutcome> {
    checkNodeName(name);
    const blobId = checkBlobId(content.blobId);
    const size = checkSize(content.size);
    const contentType = checkContentType(content.contentType);
    const modifiedAt = content.modifiedAt ? new Date(checkTime(content.modifiedAt)) : undefined;
    const quota = await this.quotaOf(this.nodes.get(parentId)?.spaceId);
    // From here on, no await: the write is atomic like a transaction.
    const parent = this.folder(parentId);
    const existingId = this.kids.get(parent.id)?.get(name);
    const existing = existingId ? this.nodes.get(existingId)! : null;
    if (expect.presence === 'absent' && existing) throw driveConflict('precondition', 'something already has that name');
    if (expect.presence === 'present' && !existing) throw driveConflict('precondition', 'nothing has that name');
    if (expect.version !== undefined && existing?.version !== expect.version) throw driveConflict('precondition', 'the file changed meanwhile');
    if (existing?.kind === 'dir') throw driveConflict('is-folder', 'a folder has that name');
    const delta = size - (existing?.size ?? 0);
    this.checkQuota(parent.spaceId, delta, quota);
    const now = this.clock.now();
    const seq = this.nextSeq(parent.spaceId);
    let node: MutableNode;
    if (existing) {
      Object.assign(existing, { blobId, size, contentType, version: seq, modifiedAt: modifiedAt ?? now });
      node = existing;
    } else {
      node = { id: randomUUID(), spaceId: parent.spaceId, parentId: parent.id, name, kind: 'file', blobId, size, contentType, version: seq, createdAt: now, modifiedAt: modifiedAt ?? now };
      this.addNode(node);
    }
    this.bump(parent.id, seq, delta, existing ? null : now);
    this.charge(parent.spaceId, delta);
    return { node: { ...node }, created: !existing };
  }

  async setModified(nodeId: string, at: Date): Promise<DriveNode> {
    const time = checkTime(at);
    const node = this.nodes.get(nodeId);
    if (!node) throw new NotFoundError('no such file or folder');
    const seq = this.nextSeq(node.spaceId);
    node.modifiedAt = new Date(time);
    node.version = seq;
    if (node.parentId) this.bump(node.parentId, seq, 0, null);
    return { ...node };
  }

  async patchProperties(nodeId: string, patch: readonly PropertyPatch[]): Promise<void> {
    checkPropertyPatch(patch);
    if (!this.nodes.has(nodeId)) throw new NotFoundError('no such file or folder');
    const next = new Map(this.props.get(nodeId) ?? []);
    for (const op of patch) {
      if (op.op === 'set') next.set(op.name, op.value);
      else next.delete(op.name);
    }
    if (next.size > MAX_PROPERTIES_PER_NODE) throw tooManyProperties();
    this.props.set(nodeId, next);
  }

  async remove(nodeId: string, expect: { version?: number } = {}): Promise<void> {
    const node = this.nodes.get(nodeId);
    if (!node) throw new NotFoundError('no such file or folder');
    if (node.parentId === null) throw rootUntouchable();
    if (expect.version !== undefined && expect.version !== node.version) throw driveConflict('precondition', 'the file changed meanwhile');
    this.unlink(node);
  }

  async move(nodeId: string, targetParentId: string, name: string, options: TransferOptions): Promise<TransferOutcome> {
    checkNodeName(name);
    const quota = await this.quotaOf(this.nodes.get(targetParentId)?.spaceId);
    const node = this.nodes.get(nodeId);
    if (!node) throw new NotFoundError('no such file or folder');
    if (node.parentId === null) throw rootUntouchable();
    const target = this.folder(targetParentId);
    if (this.isWithin(target.id, node.id)) throw driveConflict('cycle', 'a folder cannot move below itself');
    const existingId = this.kids.get(target.id)?.get(name);
    if (existingId === node.id) return { node: { ...node }, replaced: false };
    const existing = existingId ? this.nodes.get(existingId)! : null;
    if (existing && !options.overwrite) throw driveConflict('exists', 'something already has that name');
    const sameSpace = node.spaceId === target.spaceId;
    const freed = existing && existing.spaceId === target.spaceId ? existing.size : 0;
    if (!sameSpace) this.checkQuota(target.spaceId, node.size - freed, quota);
    if (existing) this.unlink(existing);
    const now = this.clock.now();
    const srcSeq = this.nextSeq(node.spaceId);
    this.bump(node.parentId, srcSeq, -node.size, now);
    this.kids.get(node.parentId)!.delete(node.name);
    const seq = sameSpace ? srcSeq : this.nextSeq(target.spaceId);
    if (!sameSpace) {
      this.charge(node.spaceId, -node.size);
      for (const n of [node, ...this.subtree(node.id)]) n.spaceId = target.spaceId;
      this.charge(target.spaceId, node.size);
    }
    Object.assign(node, { parentId: target.id, name, version: seq });
    this.kidsOf(target.id).set(name, node.id);
    this.bump(target.id, seq, node.size, now);
    return { node: { ...node }, replaced: Boolean(existing) };
  }

  async copy(nodeId: string, targetParentId: string, name: string, options: TransferOptions & { limit?: number }): Promise<TransferOutcome> {
    checkNodeName(name);
    const limit = options.limit ?? DEFAULT_COPY_LIMIT;
    const quota = await this.quotaOf(this.nodes.get(targetParentId)?.spaceId);
    const node = this.nodes.get(nodeId);
    if (!node) throw new NotFoundError('no such file or folder');
    const target = this.folder(targetParentId);
    const deep = node.kind === 'dir' && options.depth !== 0;
    if (deep && this.isWithin(target.id, node.id)) throw driveConflict('cycle', 'a folder cannot be copied below itself');
    const existingId = this.kids.get(target.id)?.get(name);
    if (existingId === node.id) throw driveConflict('exists', 'a resource cannot be copied onto itself');
    const existing = existingId ? this.nodes.get(existingId)! : null;
    if (existing && !options.overwrite) throw driveConflict('exists', 'something already has that name');
    const below = deep ? this.subtree(node.id) : [];
    if (below.length > limit) throw new TooLargeError(`more than ${limit} files and folders to copy`);
    const size = node.kind === 'file' || deep ? node.size : 0;
    this.checkQuota(target.spaceId, size - (existing?.size ?? 0), quota);
    if (existing) this.unlink(existing);
    const now = this.clock.now();
    const seq = this.nextSeq(target.spaceId);
    const fresh = new Map<string, string>([[node.id, randomUUID()]]);
    for (const n of below) fresh.set(n.id, randomUUID());
    for (const n of [node, ...orderTree(node.id, below).map((e) => e.node)]) {
      const root = n.id === node.id;
      this.addNode({
        ...n,
        id: fresh.get(n.id)!,
        spaceId: target.spaceId,
        parentId: root ? target.id : fresh.get(n.parentId!)!,
        name: root ? name : n.name,
        size: root ? size : n.size,
        version: seq,
        createdAt: now,
      });
      const p = this.props.get(n.id);
      if (p) this.props.set(fresh.get(n.id)!, new Map(p));
    }
    this.bump(target.id, seq, size, now);
    this.charge(target.spaceId, size);
    return { node: { ...this.nodes.get(fresh.get(node.id)!)! }, replaced: Boolean(existing) };
  }

  // ---------------------------------------------------------------- grants, usage, blobs

  async grantsOn(nodeIds: readonly string[]): Promise<DriveGrant[]> {
    return nodeIds.flatMap((id) => this.grants.get(id) ?? []);
  }

  async setGrants(nodeId: string, grants: readonly { principal: GrantPrincipal; access: GrantAccess }[]): Promise<void> {
    checkGrants(grants);
    if (!this.nodes.has(nodeId)) throw new NotFoundError('no such file or folder');
    const unique = new Map(grants.map((g) => [`${g.principal.kind}:${g.principal.id}`, g]));
    this.grants.set(nodeId, [...unique.values()].map((g) => ({ nodeId, principal: { ...g.principal }, access: g.access })));
  }

  async usage(spaceId: string): Promise<{ used: number; quota: number | null }> {
    const space = await this.getSpace(spaceId);
    if (space.accountId) return { used: (await this.accountUsage.get(space.accountId)).total, quota: (await this.quotaOf(space.id)).quota };
    return { used: this.nodes.get(space.rootId)!.size, quota: space.quotaBytes };
  }

  async referencedBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    const wanted = new Set(blobIds);
    const out = new Set<string>();
    for (const n of this.nodes.values()) if (n.blobId && wanted.has(n.blobId)) out.add(n.blobId);
    return out;
  }

  // ---------------------------------------------------------------- helpers

  private kidsOf(id: string): Map<string, string> {
    let k = this.kids.get(id);
    if (!k) this.kids.set(id, (k = new Map()));
    return k;
  }

  private addNode(node: MutableNode): void {
    this.nodes.set(node.id, node);
    if (node.parentId !== null) this.kidsOf(node.parentId).set(node.name, node.id);
  }

  private folder(id: string): MutableNode {
    const node = this.nodes.get(id);
    if (!node) throw driveConflict('no-parent', 'the parent folder does not exist');
    if (node.kind !== 'dir') throw driveConflict('not-a-folder', 'the parent is not a folder');
    return node;
  }

  private subtree(id: string): MutableNode[] {
    const out: MutableNode[] = [];
    const stack = [id];
    while (stack.length) {
      for (const kid of this.kids.get(stack.pop()!)?.values() ?? []) {
        out.push(this.nodes.get(kid)!);
        stack.push(kid);
      }
    }
    return out;
  }

  private isWithin(nodeId: string, ancestorId: string): boolean {
    for (let n = this.nodes.get(nodeId); n; n = n.parentId ? this.nodes.get(n.parentId) : undefined) if (n.id === ancestorId) return true;
    return false;
  }

  private nextSeq(spaceId: string): number {
    const seq = (this.seqs.get(spaceId) ?? 0) + 1;
    this.seqs.set(spaceId, seq);
    return seq;
  }

  private bump(folderId: string, version: number, sizeDelta: number, touchedAt: Date | null): void {
    const first = this.nodes.get(folderId);
    if (first && touchedAt) first.modifiedAt = touchedAt;
    for (let n = first; n; n = n.parentId ? this.nodes.get(n.parentId) : undefined) {
      n.version = version;
      n.size += sizeDelta;
    }
  }

  private dropTree(node: MutableNode): void {
    for (const n of [node, ...this.subtree(node.id)]) {
      this.nodes.delete(n.id);
      this.kids.delete(n.id);
      this.props.delete(n.id);
      this.grants.delete(n.id);
    }
    if (node.parentId !== null) this.kids.get(node.parentId)?.delete(node.name);
  }

  private unlink(node: MutableNode): void {
    if (node.parentId === null) throw rootUntouchable();
    const seq = this.nextSeq(node.spaceId);
    this.dropTree(node);
    this.bump(node.parentId, seq, -node.size, this.clock.now());
    this.charge(node.spaceId, -node.size);
  }

  /** The limit and current use of a space's owner, read before a write's synchronous (atomic) part. */
  private async quotaOf(spaceId: string | undefined): Promise<{ quota: number | null; used: number }> {
    const space = spaceId ? this.spaces.get(spaceId) : undefined;
    if (!space) return { quota: null, used: 0 };
    if (!space.accountId) return { quota: space.quotaBytes, used: this.nodes.get(space.rootId)?.size ?? 0 };
    const account = this.directory ? await this.directory.getAccount(space.accountId).catch(() => null) : null;
    return { quota: account?.quotaBytes ?? null, used: (await this.accountUsage.get(space.accountId)).total };
  }

  private checkQuota(spaceId: string, delta: number, limit: { quota: number | null; used: number }): void {
    if (delta <= 0 || limit.quota === null) return;
    if (limit.used + delta > limit.quota) throw new QuotaExceededError(this.spaces.get(spaceId)?.accountId ? 'storage quota exceeded' : 'the group folder is full');
  }

  private charge(spaceId: string, delta: number): void {
    const space = this.spaces.get(spaceId);
    // MemoryUsageStore.add does its work before its first await: the charge lands synchronously.
    if (space?.accountId && delta !== 0) void this.accountUsage.add(space.accountId, 'drive', delta);
  }
}

/** LockStore in memory, same rules as SqlLockStore. */
export class MemoryLockStore implements LockStore {
  private readonly locks = new Map<string, DavLock>();

  private live(now: Date): DavLock[] {
    return [...this.locks.values()].filter((l) => l.expiresAt.getTime() > now.getTime());
  }

  async acquire(lock: NewLock, now: Date): Promise<DavLock> {
    checkNewLock(lock);
    const conflicts = this.live(now).filter(
      (l) =>
        (lockCovers(l, lock.root) || (lock.depth === 'infinity' && l.root.startsWith(lockPrefix(lock.root)) && l.root !== lock.root)) &&
        locksConflict(l.scope, lock.scope),
    );
    if (conflicts.length) throw lockConflict(conflicts.map((l) => l.root));
    if (this.locks.has(lock.token)) throw new ConflictError('taking a lock: already exists');
    const taken: DavLock = { ...lock, createdAt: now, expiresAt: new Date(now.getTime() + lock.timeoutSeconds * 1000) };
    this.locks.set(lock.token, taken);
    return { ...taken };
  }

  async refresh(token: string, timeoutSeconds: number, now: Date): Promise<DavLock | null> {
    checkLockTimeout(timeoutSeconds);
    const lock = await this.get(token, now);
    if (!lock) return null;
    const next = { ...lock, timeoutSeconds, expiresAt: new Date(now.getTime() + timeoutSeconds * 1000) };
    this.locks.set(token, next);
    return { ...next };
  }

  async release(token: string): Promise<boolean> {
    return this.locks.delete(token);
  }

  async get(token: string, now: Date): Promise<DavLock | null> {
    const lock = this.locks.get(token);
    return lock && lock.expiresAt.getTime() > now.getTime() ? { ...lock } : null;
  }

  async covering(path: string | readonly string[], now: Date): Promise<DavLock[]> {
    const paths = typeof path === 'string' ? [path] : path;
    for (const p of paths) checkLockPath(p);
    return this.live(now).filter((l) => paths.some((p) => lockCovers(l, p)));
  }

  async below(path: string, now: Date): Promise<DavLock[]> {
    checkLockPath(path);
    return this.live(now).filter((l) => l.root !== path && l.root.startsWith(lockPrefix(path)));
  }

  async removeTree(path: string): Promise<number> {
    checkLockPath(path);
    let n = 0;
    for (const l of [...this.locks.values()]) {
      if (l.root === path || l.root.startsWith(lockPrefix(path))) {
        this.locks.delete(l.token);
        n++;
      }
    }
    return n;
  }

  async purgeExpired(now: Date): Promise<number> {
    let n = 0;
    for (const l of [...this.locks.values()]) {
      if (l.expiresAt.getTime() <= now.getTime()) {
        this.locks.delete(l.token);
        n++;
      }
    }
    return n;
  }
}
