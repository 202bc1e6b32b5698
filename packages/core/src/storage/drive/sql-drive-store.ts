import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import {
  DEFAULT_COPY_LIMIT,
  MAX_PROPERTIES_PER_NODE,
  checkBlobId,
  checkContentType,
  checkGrants,
  checkGroupQuota,
  checkGroupSpaceName,
  checkId,
  checkNodeName,
  checkPropertyPatch,
  checkSize,
  checkTime,
  driveConflict,
  orderTree,
  rootUntouchable,
  tooManyProperties,
} from '../../drive/drive-rules.js';
import { InvalidInputError, NotFoundError, QuotaExceededError, TooLargeError, isPalabreError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type {
  DeadProperty,
  DescendantEntry,
  DriveGrant,
  DriveNode,
  DriveSpace,
  DriveStore,
  FileContent,
  GrantAccess,
  GrantPrincipal,
  NewGroupSpace,
  PropertyPatch,
  SpaceFilter,
  TransferOptions,
  TransferOutcome,
  WriteExpectation,
  WriteOutcome,
} from '../../drive/drive-store.js';
import type { Database } from '../database.js';
import type { DriveNodeRow } from './entities.js';
import { SqlUsageStore } from '../usage/sql-usage-store.js';
import { SqlChangeLog } from '../system/sql-change-log.js';
import { blobIdsHeldBy, chunks, marks } from '../sql-lists.js';

interface NodeRow {
  id: string;
  space_id: string;
  parent_id: string | null;
  name: string;
  kind: string;
  blob_id: string | null;
  size: number;
  content_type: string | null;
  version: number;
  created_at: number;
  modified_at: number;
}

interface SpaceRow {
  id: string;
  name: string;
  kind: string;
  account_id: string | null;
  group_id: string | null;
  root_id: string;
  quota_bytes: number | null;
  created_at: number;
}

const NODE_COLS = ['id', 'space_id', 'parent_id', 'name', 'kind', 'blob_id', 'size', 'content_type', 'version', 'created_at', 'modified_at'] as const;
const COLS = NODE_COLS.join(', ');
const SPACE_COLS = 'id, name, kind, account_id, group_id, root_id, quota_bytes, created_at';
/** Levels resolved per query (each a LEFT JOIN on the (parent_id, name) index). */
const RESOLVE_CHUNK = 16;
/** Ids per IN (...) list. */
const IN_CHUNK = 2000;

export const toDriveNode = (r: NodeRow): DriveNode => ({
  id: r.id,
  spaceId: r.space_id,
  parentId: r.parent_id,
  name: r.name,
  kind: r.kind === 'dir' ? 'dir' : 'file',
  blobId: r.blob_id,
  size: Number(r.size),
  contentType: r.content_type,
  version: Number(r.version),
  createdAt: new Date(Number(r.created_at)),
  modifiedAt: new Date(Number(r.modified_at)),
});

const toSpace = (r: SpaceRow): DriveSpace => ({
  id: r.id,
  name: r.name,
  kind: r.kind === 'group' ? 'group' : 'home',
  accountId: r.account_id,
  groupId: r.group_id,
  rootId: r.root_id,
  quotaBytes: r.quota_bytes === null ? null : Number(r.quota_bytes),
  createdAt: new Date(Number(r.created_at)),
});

const SPACE_AS = SPACE_COLS.split(', ').map((c) => `s.${c} AS s_${c}`).join(', ');
/** locate()'s SQL by depth, built once each. */
const locateSqls: string[] = [];
function locateSql(levels: number): string {
  return (locateSqls[levels] ??= `SELECT ${SPACE_AS}, ${levelColumns(0, levels)} FROM drive_spaces s JOIN drive_nodes n0 ON n0.id = s.root_id ${levelJoins(levels)} WHERE s.name = ?`);
}

/** Columns of levels from..to of a resolve query (n0 is the starting node). */
function levelColumns(from: number, to: number): string {
  const out: string[] = [];
  for (let i = from; i <= to; i++) for (const c of NODE_COLS) out.push(`n${i}.${c} AS c${i}_${c}`);
  return out.join(', ');
}

function levelJoins(levels: number): string {
  let out = '';
  for (let i = 1; i <= levels; i++) out += ` LEFT JOIN drive_nodes n${i} ON n${i}.parent_id = n${i - 1}.id AND n${i}.name = ?`;
  return out;
}

/** The nodes of levels from..to present in a resolve row, stopping at the first missing one. */
function levelsOf(row: Record<string, unknown>, from: number, to: number): DriveNode[] {
  const out: DriveNode[] = [];
  for (let i = from; i <= to; i++) {
    const names = levelNames(i);
    if (row[names[0]!] === null || row[names[0]!] === undefined) break;
    const node: Record<string, unknown> = {};
    NODE_COLS.forEach((c, k) => (node[c] = row[names[k]!]));
    out.push(toDriveNode(node as unknown as NodeRow));
  }
  return out;
}

/** The aliases of level i's columns (`c<i>_<column>`), made once. */
const levelAliases: string[][] = [];
function levelNames(i: number): string[] {
  return (levelAliases[i] ??= NODE_COLS.map((c) => `c${i}_${c}`));
}

/**
 * DriveStore on SQLite or PostgreSQL. The tree is an adjacency list with a unique (parent_id, name) index;
 * folders carry the total size and the newest version of everything below them, maintained in the same
 * transaction as each write by one recursive UPDATE of the ancestors. Versions come from the ChangeLog
 * counter of the space (`drive:<spaceId>`), so they only ever grow.
 */
export class SqlDriveStore implements DriveStore {
  private readonly changeLog: SqlChangeLog;
  private readonly accountUsage: SqlUsageStore;
  private readonly clock: Clock;

  constructor(
    private readonly db: Database,
    options: { changeLog?: SqlChangeLog; usage?: SqlUsageStore; clock?: Clock } = {},
  ) {
    this.changeLog = options.changeLog ?? new SqlChangeLog(db);
    this.accountUsage = options.usage ?? new SqlUsageStore(db);
    this.clock = options.clock ?? systemClock;
  }

  private forUpdate(): string {
    return this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
  }

  // ---------------------------------------------------------------- spaces

  async ensureHome(account: { id: string; address: string }): Promise<DriveSpace> {
    checkId(account.id, 'account');
    const existing = await this.db.run(
      (m) => m.query(this.db.sql(`SELECT ${SPACE_COLS} FROM drive_spaces WHERE account_id = ?`), [account.id]),
      'reading a home',
    );
    if (existing[0]) return toSpace(existing[0]);
    try {
      return await this.createSpace({ name: account.address, kind: 'home', accountId: account.id, groupId: null, quotaBytes: null });
    } catch (error) {
      if (!isPalabreError(error, 'conflict')) throw error;
      const again = await this.db.run(
        (m) => m.query(this.db.sql(`SELECT ${SPACE_COLS} FROM drive_spaces WHERE account_id = ?`), [account.id]),
        'reading a home',
      );
      if (again[0]) return toSpace(again[0]);
      throw error;
    }
  }

  async createGroupSpace(input: NewGroupSpace): Promise<DriveSpace> {
    const name = checkGroupSpaceName(input.name);
    checkId(input.groupId, 'group');
    return this.createSpace({ name, kind: 'group', accountId: null, groupId: input.groupId, quotaBytes: checkGroupQuota(input.quotaBytes) });
  }

  private async createSpace(s: { name: string; kind: string; accountId: string | null; groupId: string | null; quotaBytes: number | null }) {
    const id = randomUUID();
    const rootId = randomUUID();
    const at = this.clock.now().getTime();
    await this.db.transaction(
      async (m) => {
        await m.query(this.db.sql(`INSERT INTO drive_spaces (${SPACE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), [
          id,
          s.name,
          s.kind,
          s.accountId,
          s.groupId,
          rootId,
          s.quotaBytes,
          at,
        ]);
        await m.query(this.db.sql(`INSERT INTO drive_nodes (${COLS}) VALUES (?, ?, NULL, '', 'dir', NULL, 0, NULL, 0, ?, ?)`), [rootId, id, at, at]);
      },
      { what: `creating drive ${s.name}` },
    );
    return this.getSpace(id);
  }

  async findSpace(name: string): Promise<DriveSpace | null> {
    if (typeof name !== 'string' || name.length === 0 || name.length > 254) return null;
    const rows = await this.db.select<SpaceRow>(`SELECT ${SPACE_COLS} FROM drive_spaces WHERE name = ?`, [name], 'finding a drive');
    return rows[0] ? toSpace(rows[0]) : null;
  }

  async getSpace(id: string): Promise<DriveSpace> {
    checkId(id, 'drive');
    const rows: SpaceRow[] = await this.db.run(
      (m) => m.query(this.db.sql(`SELECT ${SPACE_COLS} FROM drive_spaces WHERE id = ?`), [id]),
      'reading a drive',
    );
    if (!rows[0]) throw new NotFoundError('no such drive');
    return toSpace(rows[0]);
  }

  async listSpaces(filter: SpaceFilter): Promise<DriveSpace[]> {
    const accounts = filter.accountIds ?? [];
    const groups = filter.groupIds ?? [];
    const grantedAccounts = (filter.grantedTo ?? []).filter((p) => p.kind === 'account').map((p) => p.id);
    const grantedGroups = (filter.grantedTo ?? []).filter((p) => p.kind === 'group').map((p) => p.id);
    const count = accounts.length + groups.length + grantedAccounts.length + grantedGroups.length;
    if (count === 0) return [];
    if (count > IN_CHUNK) throw new InvalidInputError('too many owners');
    const where: string[] = [];
    const params: string[] = [];
    const add = (sql: string, ids: readonly string[], ...before: string[]) => {
      if (!ids.length) return;
      where.push(sql.replace('?*', marks(ids.length)));
      params.push(...before, ...ids);
    };
    add('account_id IN (?*)', accounts);
    add('group_id IN (?*)', groups);
    // A space whose root is granted (idx_drive_grants_principal finds the grants of these principals).
    add('root_id IN (SELECT node_id FROM drive_grants WHERE principal_kind = ? AND principal_id IN (?*))', grantedAccounts, 'account');
    add('root_id IN (SELECT node_id FROM drive_grants WHERE principal_kind = ? AND principal_id IN (?*))', grantedGroups, 'group');
    const rows: SpaceRow[] = await this.db.run(
      (m) => m.query(this.db.sql(`SELECT ${SPACE_COLS} FROM drive_spaces WHERE ${where.join(' OR ')} ORDER BY name`), params),
      'listing drives',
    );
    return rows.map(toSpace);
  }

  async removeSpace(id: string): Promise<void> {
    checkId(id, 'drive');
    await this.db.transaction(
      async (m) => {
        const rows: SpaceRow[] = await m.query(this.db.sql(`SELECT ${SPACE_COLS} FROM drive_spaces WHERE id = ?${this.forUpdate()}`), [id]);
        const space = rows[0];
        if (!space) throw new NotFoundError('no such drive');
        const root = await this.nodeIn(m, space.root_id);
        await m.query(this.db.sql('DELETE FROM drive_spaces WHERE id = ?'), [id]);
        if (space.account_id && root) await this.accountUsage.addIn(m, space.account_id, 'drive', -root.size);
        await m.query(this.db.sql('DELETE FROM change_entries WHERE collection = ?'), [`drive:${id}`]);
        await m.query(this.db.sql('DELETE FROM change_collections WHERE collection = ?'), [`drive:${id}`]);
      },
      { what: 'removing a drive' },
    );
  }

  // ---------------------------------------------------------------- reads

  async resolve(fromId: string, names: readonly string[]): Promise<DriveNode[]> {
    if (typeof fromId !== 'string' || fromId.length > 36) return [];
    return this.db.run(async (m) => {
      const start = await this.nodeIn(m, fromId);
      return start ? this.walkIn(m, [start], names) : [];
    }, 'resolving a path');
  }

  async locate(spaceName: string, names: readonly string[]): Promise<{ space: DriveSpace; chain: DriveNode[] } | null> {
    if (typeof spaceName !== 'string' || spaceName.length === 0 || spaceName.length > 254) return null;
    // Every request's lookup: one prepared read (the SQL is the same for every path of a depth).
    const part = names.slice(0, RESOLVE_CHUNK);
    const rows = await this.db.select<Record<string, unknown>>(locateSql(part.length), [...part, spaceName], 'resolving a path');
    const row = rows[0];
    if (!row) return null;
    const space = toSpace({
      id: row.s_id,
      name: row.s_name,
      kind: row.s_kind,
      account_id: row.s_account_id,
      group_id: row.s_group_id,
      root_id: row.s_root_id,
      quota_bytes: row.s_quota_bytes,
      created_at: row.s_created_at,
    } as SpaceRow);
    const chain = levelsOf(row, 0, part.length);
    if (chain.length < part.length + 1 || part.length === names.length) return { space, chain };
    return { space, chain: await this.db.run((m) => this.walkIn(m, chain, names.slice(part.length)), 'resolving a path') };
  }

  /** Extend `chain` along `names`, RESOLVE_CHUNK levels per query. */
  private async walkIn(m: EntityManager, chain: DriveNode[], names: readonly string[]): Promise<DriveNode[]> {
    for (let done = 0; done < names.length; ) {
      const part = names.slice(done, done + RESOLVE_CHUNK);
      const rows: Record<string, unknown>[] = await m.query(
        this.db.sql(`SELECT ${levelColumns(1, part.length)} FROM drive_nodes n0 ${levelJoins(part.length)} WHERE n0.id = ?`),
        [...part, chain[chain.length - 1]!.id],
      );
      const found = rows[0] ? levelsOf(rows[0], 1, part.length) : [];
      chain.push(...found);
      if (found.length < part.length) return chain;
      done += part.length;
    }
    return chain;
  }

  async getNode(id: string): Promise<DriveNode | null> {
    if (typeof id !== 'string' || id.length > 36) return null;
    return this.db.run((m) => this.nodeIn(m, id), 'reading a node');
  }

  async children(folderId: string): Promise<DriveNode[]> {
    const rows = await this.db.select<NodeRow>(`SELECT ${COLS} FROM drive_nodes WHERE parent_id = ? ORDER BY name`, [folderId], 'listing a folder');
    return rows.map(toDriveNode);
  }

  async descendants(folderId: string, limit: number): Promise<DescendantEntry[] | 'too-many'> {
    const rows = await this.db.run((m) => this.subtreeIn(m, folderId, limit + 1), 'listing a tree');
    if (rows.length > limit) return 'too-many';
    return orderTree(folderId, rows.map(toDriveNode));
  }

  async properties(nodeIds: readonly string[]): Promise<Map<string, DeadProperty[]>> {
    const out = new Map<string, DeadProperty[]>();
    if (nodeIds.length === 0) return out;
    await this.db.run(async (m) => {
      for (const part of chunks(nodeIds, IN_CHUNK)) {
        const rows: { node_id: string; name: string; value: string }[] = await m.query(
          this.db.sql(`SELECT node_id, name, value FROM drive_props WHERE node_id IN (${marks(part.length)})`),
          part,
        );
        for (const r of rows) {
          let list = out.get(r.node_id);
          if (!list) out.set(r.node_id, (list = []));
          list.push({ name: r.name, value: r.value });
        }
      }
    }, 'reading properties');
    return out;
  }

  async childProperties(folderId: string): Promise<Map<string, DeadProperty[]>> {
    const out = new Map<string, DeadProperty[]>();
    const rows = await this.db.select<{ node_id: string; name: string; value: string }>(
      'SELECT p.node_id, p.name, p.value FROM drive_props p JOIN drive_nodes n ON n.id = p.node_id WHERE n.parent_id = ?',
      [folderId],
      'reading properties',
    );
    for (const r of rows) {
      let list = out.get(r.node_id);
      if (!list) out.set(r.node_id, (list = []));
      list.push({ name: r.name, value: r.value });
    }
    return out;
  }

  // ---------------------------------------------------------------- writes

  async createFolder(parentId: string, name: string, options: { at?: Date } = {}): Promise<DriveNode> {
    checkNodeName(name);
    const at = options.at ? checkTime(options.at) : this.clock.now().getTime();
    return this.db.transaction(
      async (m) => {
        const parent = await this.folderIn(m, parentId);
        if (await this.childIn(m, parent.id, name)) throw driveConflict('exists', 'something already has that name');
        const id = randomUUID();
        const seq = await this.changeLog.recordIn(m, `drive:${parent.spaceId}`, [{ item: id, kind: 'put' }]);
        await this.insertNode(m, { id, spaceId: parent.spaceId, parentId: parent.id, name, kind: 'dir', blobId: null, size: 0, contentType: null, version: seq, createdAt: at, modifiedAt: at });
        await this.bumpAncestors(m, parent.id, seq, 0, at);
        return (await this.nodeIn(m, id))!;
      },
      { what: 'creating a folder' },
    );
  }

  async writeFile(parentId: string, name: string, content: FileContent, expect: WriteExpectation = {}): Promise<WriteOutcome> {
    checkNodeName(name);
    const blobId = checkBlobId(content.blobId);
    const size = checkSize(content.size);
    const contentType = checkContentType(content.contentType);
    const modifiedAt = content.modifiedAt ? checkTime(content.modifiedAt) : undefined;
    const attempt = () =>
      this.db.transaction(
        async (m) => {
          const now = this.clock.now().getTime();
          const parent = await this.folderIn(m, parentId);
          const existing = await this.childIn(m, parent.id, name, true);
          checkExpectation(existing, expect);
          if (existing?.kind === 'dir') throw driveConflict('is-folder', 'a folder has that name');
          const id = existing?.id ?? randomUUID();
          const seq = await this.changeLog.recordIn(m, `drive:${parent.spaceId}`, [{ item: id, kind: 'put' }]);
          if (existing) {
            await m.query(
              this.db.sql('UPDATE drive_nodes SET blob_id = ?, size = ?, content_type = ?, version = ?, modified_at = ? WHERE id = ?'),
              [blobId, size, contentType, seq, modifiedAt ?? now, id],
            );
          } else {
            await this.insertNode(m, { id, spaceId: parent.spaceId, parentId: parent.id, name, kind: 'file', blobId, size, contentType, version: seq, createdAt: now, modifiedAt: modifiedAt ?? now });
          }
          const delta = size - (existing?.size ?? 0);
          await this.bumpAncestors(m, parent.id, seq, delta, existing ? null : now);
          await this.charge(m, parent.spaceId, delta);
          const at = new Date(modifiedAt ?? now);
          const node: DriveNode = existing
            ? { ...existing, blobId, size, contentType, version: seq, modifiedAt: at }
            : { id, spaceId: parent.spaceId, parentId: parent.id, name, kind: 'file', blobId, size, contentType, version: seq, createdAt: new Date(now), modifiedAt: at };
          return { node, created: !existing };
        },
        { what: 'writing a file' },
      );
    try {
      return await attempt();
    } catch (error) {
      // Two writers created the same new name at once: the loser becomes an overwrite, as if it came second.
      if (isPalabreError(error, 'conflict') && !(error.detail as { reason?: string } | undefined)?.reason && expect.presence !== 'absent') return attempt();
      throw error;
    }
  }

  async setModified(nodeId: string, at: Date): Promise<DriveNode> {
    const time = checkTime(at);
    return this.db.transaction(
      async (m) => {
        const node = await this.nodeIn(m, nodeId, true);
        if (!node) throw new NotFoundError('no such file or folder');
        // A new version too: anything cached by (folder, version) must see the change.
        const seq = await this.changeLog.recordIn(m, `drive:${node.spaceId}`, [{ item: node.id, kind: 'put' }]);
        await m.query(this.db.sql('UPDATE drive_nodes SET modified_at = ?, version = ? WHERE id = ?'), [time, seq, node.id]);
        if (node.parentId) await this.bumpAncestors(m, node.parentId, seq, 0, null);
        return (await this.nodeIn(m, node.id))!;
      },
      { what: 'setting a modification time' },
    );
  }

  async patchProperties(nodeId: string, patch: readonly PropertyPatch[]): Promise<void> {
    checkPropertyPatch(patch);
    await this.db.transaction(
      async (m) => {
        const node = await this.nodeIn(m, nodeId, true);
        if (!node) throw new NotFoundError('no such file or folder');
        const upsert = this.db.sql(
          'INSERT INTO drive_props (node_id, name, value) VALUES (?, ?, ?) ON CONFLICT (node_id, name) DO UPDATE SET value = excluded.value',
        );
        const remove = this.db.sql('DELETE FROM drive_props WHERE node_id = ? AND name = ?');
        for (const op of patch) {
          if (op.op === 'set') await m.query(upsert, [node.id, op.name, op.value]);
          else await m.query(remove, [node.id, op.name]);
        }
        const count: { n: number }[] = await m.query(this.db.sql('SELECT COUNT(*) AS n FROM drive_props WHERE node_id = ?'), [node.id]);
        if (Number(count[0]?.n ?? 0) > MAX_PROPERTIES_PER_NODE) throw tooManyProperties();
      },
      { what: 'updating properties' },
    );
  }

  async remove(nodeId: string, expect: { version?: number } = {}): Promise<void> {
    await this.db.transaction(
      async (m) => {
        const node = await this.nodeIn(m, nodeId, true);
        if (!node) throw new NotFoundError('no such file or folder');
        if (node.parentId === null) throw rootUntouchable();
        if (expect.version !== undefined && expect.version !== node.version) throw driveConflict('precondition', 'the file changed meanwhile');
        await this.unlink(m, node);
      },
      { what: 'removing' },
    );
  }

  async move(nodeId: string, targetParentId: string, name: string, options: TransferOptions): Promise<TransferOutcome> {
    checkNodeName(name);
    return this.db.transaction(
      async (m) => {
        const node = await this.nodeIn(m, nodeId, true);
        if (!node) throw new NotFoundError('no such file or folder');
        if (node.parentId === null) throw rootUntouchable();
        const target = await this.folderIn(m, targetParentId);
        if (await this.isWithin(m, target.id, node.id)) throw driveConflict('cycle', 'a folder cannot move below itself');
        const existing = await this.childIn(m, target.id, name, true);
        if (existing?.id === node.id) return { node, replaced: false };
        if (existing && !options.overwrite) throw driveConflict('exists', 'something already has that name');
        if (existing) await this.unlink(m, existing);
        const now = this.clock.now().getTime();
        const sameSpace = node.spaceId === target.spaceId;
        const srcSeq = await this.changeLog.recordIn(m, `drive:${node.spaceId}`, [{ item: node.id, kind: sameSpace ? 'put' : 'delete' }]);
        await this.bumpAncestors(m, node.parentId, srcSeq, -node.size, now);
        const seq = sameSpace ? srcSeq : await this.changeLog.recordIn(m, `drive:${target.spaceId}`, [{ item: node.id, kind: 'put' }]);
        await m.query(this.db.sql('UPDATE drive_nodes SET parent_id = ?, name = ?, version = ? WHERE id = ?'), [target.id, name, seq, node.id]);
        if (!sameSpace) {
          await m.query(
            this.db.sql(
              `WITH RECURSIVE down(id) AS (SELECT id FROM drive_nodes WHERE id = ? UNION ALL SELECT n.id FROM drive_nodes n JOIN down d ON n.parent_id = d.id)
               UPDATE drive_nodes SET space_id = ? WHERE id IN (SELECT id FROM down)`,
            ),
            [node.id, target.spaceId],
          );
        }
        await this.bumpAncestors(m, target.id, seq, node.size, now);
        if (!sameSpace) {
          await this.charge(m, node.spaceId, -node.size);
          await this.charge(m, target.spaceId, node.size);
        }
        return { node: (await this.nodeIn(m, node.id))!, replaced: Boolean(existing) };
      },
      { what: 'moving' },
    );
  }

  async copy(nodeId: string, targetParentId: string, name: string, options: TransferOptions & { limit?: number }): Promise<TransferOutcome> {
    checkNodeName(name);
    const limit = options.limit ?? DEFAULT_COPY_LIMIT;
    return this.db.transaction(
      async (m) => {
        const node = await this.nodeIn(m, nodeId);
        if (!node) throw new NotFoundError('no such file or folder');
        const target = await this.folderIn(m, targetParentId);
        const deep = node.kind === 'dir' && options.depth !== 0;
        if (deep && (await this.isWithin(m, target.id, node.id))) throw driveConflict('cycle', 'a folder cannot be copied below itself');
        const existing = await this.childIn(m, target.id, name, true);
        if (existing?.id === node.id) throw driveConflict('exists', 'a resource cannot be copied onto itself');
        if (existing && !options.overwrite) throw driveConflict('exists', 'something already has that name');
        if (existing?.parentId === null) throw rootUntouchable();
        const below = deep ? (await this.subtreeIn(m, node.id, limit + 1)).map(toDriveNode) : [];
        if (below.length > limit) throw new TooLargeError(`more than ${limit} files and folders to copy`);
        if (existing) await this.unlink(m, existing);
        const now = this.clock.now().getTime();
        const fresh = new Map<string, string>([[node.id, randomUUID()]]);
        for (const n of below) fresh.set(n.id, randomUUID());
        const seq = await this.changeLog.recordIn(m, `drive:${target.spaceId}`, [{ item: fresh.get(node.id)!, kind: 'put' }]);
        const size = node.kind === 'file' ? node.size : deep ? node.size : 0;
        const copies = [node, ...orderTree(node.id, below).map((e) => e.node)].map((n) => ({
          id: fresh.get(n.id)!,
          spaceId: target.spaceId,
          parentId: n.id === node.id ? target.id : fresh.get(n.parentId!)!,
          name: n.id === node.id ? name : n.name,
          kind: n.kind,
          blobId: n.blobId,
          size: n.id === node.id ? size : n.size,
          contentType: n.contentType,
          version: seq,
          createdAt: now,
          modifiedAt: n.modifiedAt.getTime(),
        }));
        for (const part of chunks(copies, 200)) await this.insertNodes(m, part);
        for (const part of chunks([...fresh.keys()], IN_CHUNK)) {
          const props: { node_id: string; name: string; value: string }[] = await m.query(
            this.db.sql(`SELECT node_id, name, value FROM drive_props WHERE node_id IN (${marks(part.length)})`),
            part,
          );
          for (const rows of chunks(props, 300)) {
            await m.query(
              this.db.sql(`INSERT INTO drive_props (node_id, name, value) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`),
              rows.flatMap((p) => [fresh.get(p.node_id)!, p.name, p.value]),
            );
          }
        }
        await this.bumpAncestors(m, target.id, seq, size, now);
        await this.charge(m, target.spaceId, size);
        return { node: (await this.nodeIn(m, fresh.get(node.id)!))!, replaced: Boolean(existing) };
      },
      { what: 'copying' },
    );
  }

  // ---------------------------------------------------------------- grants, usage, blobs

  async grantsOn(nodeIds: readonly string[]): Promise<DriveGrant[]> {
    if (nodeIds.length === 0) return [];
    const out: DriveGrant[] = [];
    await this.db.run(async (m) => {
      for (const part of chunks(nodeIds, IN_CHUNK)) {
        const rows: { node_id: string; principal_kind: string; principal_id: string; access: string }[] = await m.query(
          this.db.sql(`SELECT node_id, principal_kind, principal_id, access FROM drive_grants WHERE node_id IN (${marks(part.length)})`),
          part,
        );
        for (const r of rows) {
          out.push({
            nodeId: r.node_id,
            principal: { kind: r.principal_kind === 'group' ? 'group' : 'account', id: r.principal_id },
            access: r.access === 'write' ? 'write' : 'read',
          });
        }
      }
    }, 'reading grants');
    return out;
  }

  async setGrants(nodeId: string, grants: readonly { principal: GrantPrincipal; access: GrantAccess }[]): Promise<void> {
    checkGrants(grants);
    await this.db.transaction(
      async (m) => {
        const node = await this.nodeIn(m, nodeId, true);
        if (!node) throw new NotFoundError('no such file or folder');
        await m.query(this.db.sql('DELETE FROM drive_grants WHERE node_id = ?'), [node.id]);
        const unique = new Map(grants.map((g) => [`${g.principal.kind}:${g.principal.id}`, g]));
        for (const g of unique.values()) {
          await m.query(this.db.sql('INSERT INTO drive_grants (node_id, principal_kind, principal_id, access) VALUES (?, ?, ?, ?)'), [
            node.id,
            g.principal.kind,
            g.principal.id,
            g.access,
          ]);
        }
      },
      { what: 'setting grants' },
    );
  }

  async usage(spaceId: string): Promise<{ used: number; quota: number | null }> {
    checkId(spaceId, 'drive');
    const rows = await this.db.select<{ account_id: string | null; space_quota: number | null; account_quota: number | null; used: number | null; root_size: number }>(
      `SELECT s.account_id, s.quota_bytes AS space_quota, a.quota_bytes AS account_quota, n.size AS root_size,
         (SELECT SUM(u.bytes) FROM account_usage u WHERE u.account_id = s.account_id) AS used
       FROM drive_spaces s JOIN drive_nodes n ON n.id = s.root_id LEFT JOIN accounts a ON a.id = s.account_id WHERE s.id = ?`,
      [spaceId],
      'reading usage',
    );
    const r = rows[0];
    if (!r) throw new NotFoundError('no such drive');
    if (r.account_id) return { used: Number(r.used ?? 0), quota: r.account_quota === null ? null : Number(r.account_quota) };
    return { used: Number(r.root_size), quota: r.space_quota === null ? null : Number(r.space_quota) };
  }

  referencedBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    return blobIdsHeldBy(this.db, 'drive_nodes', blobIds, IN_CHUNK);
  }

  // ---------------------------------------------------------------- helpers (inside a transaction)

  private async nodeIn(m: EntityManager, id: string, lock = false): Promise<DriveNode | null> {
    if (typeof id !== 'string' || id.length > 36) return null;
    const rows: NodeRow[] = await m.query(this.db.sql(`SELECT ${COLS} FROM drive_nodes WHERE id = ?${lock ? this.forUpdate() : ''}`), [id]);
    return rows[0] ? toDriveNode(rows[0]) : null;
  }

  private async folderIn(m: EntityManager, id: string): Promise<DriveNode> {
    const node = await this.nodeIn(m, id);
    if (!node) throw driveConflict('no-parent', 'the parent folder does not exist');
    if (node.kind !== 'dir') throw driveConflict('not-a-folder', 'the parent is not a folder');
    return node;
  }

  private async childIn(m: EntityManager, parentId: string, name: string, lock = false): Promise<DriveNode | null> {
    const rows: NodeRow[] = await m.query(
      this.db.sql(`SELECT ${COLS} FROM drive_nodes WHERE parent_id = ? AND name = ?${lock ? this.forUpdate() : ''}`),
      [parentId, name],
    );
    return rows[0] ? toDriveNode(rows[0]) : null;
  }

  private async subtreeIn(m: EntityManager, folderId: string, max: number): Promise<NodeRow[]> {
    const cols = NODE_COLS.map((c) => `n.${c}`).join(', ');
    return m.query(
      this.db.sql(
        `WITH RECURSIVE down(${COLS}) AS (
           SELECT ${COLS} FROM drive_nodes WHERE parent_id = ?
           UNION ALL SELECT ${cols} FROM drive_nodes n JOIN down d ON n.parent_id = d.id)
         SELECT ${COLS} FROM down LIMIT ?`,
      ),
      [folderId, max],
    );
  }

  /** Is `nodeId` the same as or below `ancestorId`? */
  private async isWithin(m: EntityManager, nodeId: string, ancestorId: string): Promise<boolean> {
    const rows: { id: string }[] = await m.query(
      this.db.sql(
        `WITH RECURSIVE up(id, parent_id) AS (
           SELECT id, parent_id FROM drive_nodes WHERE id = ?
           UNION ALL SELECT n.id, n.parent_id FROM drive_nodes n JOIN up u ON n.id = u.parent_id)
         SELECT id FROM up WHERE id = ?`,
      ),
      [nodeId, ancestorId],
    );
    return rows.length > 0;
  }

  private async insertNode(m: EntityManager, n: NodeInsert): Promise<void> {
    await this.insertNodes(m, [n]);
  }

  private async insertNodes(m: EntityManager, nodes: readonly NodeInsert[]): Promise<void> {
    await m.query(
      this.db.sql(`INSERT INTO drive_nodes (${COLS}) VALUES ${nodes.map(() => `(${marks(NODE_COLS.length)})`).join(', ')}`),
      nodes.flatMap((n) => [n.id, n.spaceId, n.parentId, n.name, n.kind, n.blobId, n.size, n.contentType, n.version, n.createdAt, n.modifiedAt]),
    );
  }

  /**
   * The folder and every ancestor get `version` and `sizeDelta`; the folder itself also gets `touchedAt` as
   * its modification time when a member was bound or unbound.
   */
  private async bumpAncestors(m: EntityManager, folderId: string, version: number, sizeDelta: number, touchedAt: number | null): Promise<void> {
    await m.query(
      this.db.sql(
        `WITH RECURSIVE up(id, parent_id) AS (
           SELECT id, parent_id FROM drive_nodes WHERE id = ?
           UNION ALL SELECT n.id, n.parent_id FROM drive_nodes n JOIN up u ON n.id = u.parent_id)
         UPDATE drive_nodes SET version = ?, size = size + ?,
           modified_at = CASE WHEN id = ? AND CAST(? AS BIGINT) > 0 THEN ? ELSE modified_at END
         WHERE id IN (SELECT id FROM up)`,
      ),
      [folderId, version, sizeDelta, folderId, touchedAt ?? 0, touchedAt ?? 0],
    );
  }

  /** Remove a node and its subtree (cascade), fixing ancestors and usage. */
  private async unlink(m: EntityManager, node: DriveNode): Promise<void> {
    if (node.parentId === null) throw rootUntouchable();
    const now = this.clock.now().getTime();
    const seq = await this.changeLog.recordIn(m, `drive:${node.spaceId}`, [{ item: node.id, kind: 'delete' }]);
    await m.query(this.db.sql('DELETE FROM drive_nodes WHERE id = ?'), [node.id]);
    await this.bumpAncestors(m, node.parentId, seq, -node.size, now);
    await this.charge(m, node.spaceId, -node.size);
  }

  /** Account the bytes to the space's owner and enforce the quota when growing. */
  private async charge(m: EntityManager, spaceId: string, delta: number): Promise<void> {
    if (delta === 0) return;
    const rows: (SpaceRow & { account_quota: number | null })[] = await m.query(
      this.db.sql(`SELECT s.*, a.quota_bytes AS account_quota FROM drive_spaces s LEFT JOIN accounts a ON a.id = s.account_id WHERE s.id = ?`),
      [spaceId],
    );
    const space = rows[0];
    if (!space) throw new NotFoundError('no such drive');
    if (space.account_id) {
      await this.accountUsage.addIn(m, space.account_id, 'drive', delta);
      if (delta > 0 && space.account_quota !== null && (await this.accountUsage.getIn(m, space.account_id)).total > Number(space.account_quota)) {
        throw new QuotaExceededError('storage quota exceeded');
      }
    } else if (delta > 0 && space.quota_bytes !== null) {
      const root = await this.nodeIn(m, space.root_id);
      if ((root?.size ?? 0) > Number(space.quota_bytes)) throw new QuotaExceededError('the group folder is full');
    }
  }
}

/** A row to insert: the entity's shape with snake_case left to the SQL. */
type NodeInsert = DriveNodeRow;

function checkExpectation(existing: DriveNode | null, expect: WriteExpectation): void {
  if (expect.presence === 'absent' && existing) throw driveConflict('precondition', 'something already has that name');
  if (expect.presence === 'present' && !existing) throw driveConflict('precondition', 'nothing has that name');
  if (expect.version !== undefined && existing?.version !== expect.version) throw driveConflict('precondition', 'the file changed meanwhile');
}

