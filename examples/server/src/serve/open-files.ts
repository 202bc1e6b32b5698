import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from '@palabre/core';

/**
 * Descriptors kept for everything that is not a client socket: the database (a PostgreSQL pool, the
 * SQLite file and its WAL), blob files being written and read, TLS material, spool files, the log.
 */
export const RESERVED_DESCRIPTORS = 512;

export interface OpenFilesLimit {
  readonly soft: number;
  readonly hard: number;
}

/** RLIMIT_NOFILE of this process (Linux: /proc/self/limits); null where it cannot be read. */
export async function readOpenFilesLimit(pid: number | 'self' = 'self'): Promise<OpenFilesLimit | null> {
  const text = await readFile(`/proc/${pid}/limits`, 'utf8').catch(() => null);
  const match = text && /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!match) return null;
  const value = (s: string) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: value(match[1]!), hard: value(match[2]!) };
}

/**
 * Make room for `wanted` client connections: raise RLIMIT_NOFILE (Node already lifts the soft limit
 * to the hard one at start; raising the hard one needs CAP_SYS_RESOURCE, as root or from systemd's
 * LimitNOFILE=, and `prlimit` is how a Node process can ask), then answer how many concurrent
 * connections the limit really leaves. Past that count the connection gate must refuse, or every
 * listener stops accepting, silently, once the descriptors are gone. `wanted` 0 (no configured
 * limit) gets what the current limit leaves.
 */
export async function prepareOpenFiles(wanted: number, logger: Logger): Promise<number> {
  const before = await readOpenFilesLimit();
  if (!before) return wanted; // not Linux: the operator's limits apply, nothing to read them with
  // "No limit" configured: the descriptors still are one, and the gate must stop short of them.
  if (wanted === 0) return Math.max(0, before.soft - RESERVED_DESCRIPTORS);
  const need = wanted + RESERVED_DESCRIPTORS;
  let limit = before;
  if (limit.soft < need) {
    const ceiling = Number((await readFile('/proc/sys/fs/nr_open', 'utf8').catch(() => '')).trim()) || need;
    const target = Math.min(need, ceiling);
    const hard = Math.max(limit.hard, target);
    // prlimit fails without the capability when asked to raise the hard limit: then only the soft one.
    for (const value of hard > limit.hard ? [`${target}:${hard}`, `${Math.min(target, limit.hard)}:`] : [`${target}:`]) {
      const ok = await promisify(execFile)('prlimit', [`--pid=${process.pid}`, `--nofile=${value}`]).then(
        () => true,
        () => false,
      );
      if (ok) break;
    }
    limit = (await readOpenFilesLimit()) ?? limit;
  }
  const room = Math.max(0, limit.soft - RESERVED_DESCRIPTORS);
  if (room < wanted) {
    logger.warn(
      {
        soft: limit.soft,
        hard: limit.hard,
        wanted,
        allowed: room,
        fix: `raise the open-files limit to ${need} (systemd: LimitNOFILE=${need})`,
      },
      'limits.nofile',
    );
    return room;
  }
  if (limit.soft !== before.soft) logger.info({ from: before.soft, to: limit.soft }, 'limits.nofile.raised');
  return wanted;
}
