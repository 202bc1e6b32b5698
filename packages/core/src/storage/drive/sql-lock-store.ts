import type { EntityManager } from 'typeorm';
import { checkLockPath, checkLockTimeout, checkNewLock, lockAncestors, lockConflict, lockCovers, lockPrefix, locksConflict } from '../../drive/drive-rules.js';
import type { DavLock, LockStore, NewLock } from '../../drive/drive-store.js';
import type { Database } from '../database.js';
import { returnedRows } from '../returned-rows.js';

interface LockRow {
  token: string;
  root: string;
  depth: number;
  scope: string;
  owner: string | null;
  principal_id: string;
  timeout_seconds: number;
  created_at: number;
  expires_at: number;
}

const COLS = 'token, root, depth, scope, owner, principal_id, timeout_seconds, created_at, expires_at';
// One cluster-wide key: LOCK requests take turns, so two nodes never grant conflicting locks.
const ACQUIRE_KEY = 0x6c6f636b; // "lock"

const toLock = (r: LockRow): DavLock => ({
  token: r.token,
  root: r.root,
  depth: Number(r.depth) < 0 ? 'infinity' : 0,
  scope: r.scope === 'shared' ? 'shared' : 'exclusive',
  owner: r.owner,
  principalId: r.principal_id,
  timeoutSeconds: Number(r.timeout_seconds),
  createdAt: new Date(Number(r.created_at)),
  expiresAt: new Date(Number(r.expires_at)),
});

/** `substr(col, 1, ?) = ?` parameters for "starts with": exact and case-sensitive on both databases (LIKE is not on SQLite). */
export function startsWith(prefix: string): [number, string] {
  return [[...prefix].length, prefix];
}


/** The DAV lock table on SQLite or PostgreSQL. */
export class SqlLockStore implements LockStore {
  constructor(private readonly db: Database) {}

  async acquire(lock: NewLock, now: Date): Promise<DavLock> {
    checkNewLock(lock);
    return this.db.transaction(
      async (m) => {
        if (this.db.dialect === 'postgres') await m.query('SELECT pg_advisory_xact_lock($1)', [ACQUIRE_KEY]);
        const t = now.getTime();
        const near = await this.coveringIn(m, lock.root, t);
        const deep = lock.depth === 'infinity' ? await this.belowIn(m, lock.root, t) : [];
        const conflicts = [...near, ...deep].filter((l) => locksConflict(l.scope, lock.scope));
        if (conflicts.length) throw lockConflict(conflicts.map((l) => l.root));
        const row = {
          ...lock,
          depth: lock.depth === 'infinity' ? -1 : 0,
          createdAt: t,
          expiresAt: t + lock.timeoutSeconds * 1000,
        };
        await m.query(this.db.sql(`INSERT INTO dav_locks (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), [
          row.token,
          row.root,
          row.depth,
          row.scope,
          row.owner,
          row.principalId,
          row.timeoutSeconds,
          row.createdAt,
          row.expiresAt,
        ]);
        return { ...lock, createdAt: new Date(t), expiresAt: new Date(row.expiresAt) };
      },
      { what: 'taking a lock' },
    );
  }

  async refresh(token: string, timeoutSeconds: number, now: Date): Promise<DavLock | null> {
    checkLockTimeout(timeoutSeconds);
    const t = now.getTime();
    return this.db.transaction(
      async (m) => {
        await m.query(this.db.sql('UPDATE dav_locks SET timeout_seconds = ?, expires_at = ? WHERE token = ? AND expires_at > ?'), [
          timeoutSeconds,
          t + timeoutSeconds * 1000,
          token,
          t,
        ]);
        return this.getIn(m, token, t);
      },
      { what: 'refreshing a lock' },
    );
  }

  async release(token: string): Promise<boolean> {
    if (typeof token !== 'string') return false;
    return this.db.run(async (m) => {
      return returnedRows(await m.query(this.db.sql('DELETE FROM dav_locks WHERE token = ? RETURNING token'), [token])).length > 0;
    }, 'removing a lock');
  }

  async get(token: string, now: Date): Promise<DavLock | null> {
    if (typeof token !== 'string' || token.length > 100) return null;
    return this.db.run((m) => this.getIn(m, token, now.getTime()), 'reading a lock');
  }

  async covering(path: string | readonly string[], now: Date): Promise<DavLock[]> {
    const paths = typeof path === 'string' ? [path] : path;
    for (const p of paths) checkLockPath(p);
    if (paths.length === 0) return [];
    // A prepared read outside any transaction: every write request asks it.
    const roots = [...new Set(paths.flatMap((p) => [...lockAncestors(p), p]))];
    const rows = await this.db.select<LockRow>(
      `SELECT ${COLS} FROM dav_locks WHERE root IN (${roots.map(() => '?').join(', ')}) AND expires_at > ?`,
      [...roots, now.getTime()],
      'reading locks',
    );
    return rows.map(toLock).filter((l) => paths.some((p) => lockCovers(l, p)));
  }

  async below(path: string, now: Date): Promise<DavLock[]> {
    checkLockPath(path);
    const rows = await this.db.select<LockRow>(
      `SELECT ${COLS} FROM dav_locks WHERE substr(root, 1, ?) = ? AND root <> ? AND expires_at > ?`,
      [...startsWith(lockPrefix(path)), path, now.getTime()],
      'reading locks',
    );
    return rows.map(toLock);
  }

  async removeTree(path: string): Promise<number> {
    checkLockPath(path);
    return this.db.run(async (m) => {
      const gone = await m.query(this.db.sql('DELETE FROM dav_locks WHERE root = ? OR substr(root, 1, ?) = ? RETURNING token'), [
        path,
        ...startsWith(lockPrefix(path)),
      ]);
      return returnedRows(gone).length;
    }, 'removing locks');
  }

  async purgeExpired(now: Date): Promise<number> {
    return this.db.run(async (m) => {
      return returnedRows(await m.query(this.db.sql('DELETE FROM dav_locks WHERE expires_at <= ? RETURNING token'), [now.getTime()])).length;
    }, 'purging expired locks');
  }

  private async getIn(m: EntityManager, token: string, t: number): Promise<DavLock | null> {
    const rows: LockRow[] = await m.query(this.db.sql(`SELECT ${COLS} FROM dav_locks WHERE token = ? AND expires_at > ?`), [token, t]);
    return rows[0] ? toLock(rows[0]) : null;
  }

  private async coveringIn(m: EntityManager, path: string, t: number): Promise<DavLock[]> {
    const roots = [...lockAncestors(path), path];
    const marks = roots.map(() => '?').join(', ');
    const rows: LockRow[] = await m.query(this.db.sql(`SELECT ${COLS} FROM dav_locks WHERE root IN (${marks}) AND expires_at > ?`), [...roots, t]);
    return rows.map(toLock).filter((l) => lockCovers(l, path));
  }

  private async belowIn(m: EntityManager, path: string, t: number): Promise<DavLock[]> {
    const rows: LockRow[] = await m.query(
      this.db.sql(`SELECT ${COLS} FROM dav_locks WHERE substr(root, 1, ?) = ? AND root <> ? AND expires_at > ?`),
      [...startsWith(lockPrefix(path)), path, t],
    );
    return rows.map(toLock);
  }
}
