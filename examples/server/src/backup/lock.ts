import { randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConflictError } from '@palabre/core';

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One backup at a time writes to a DEST: `DEST/lock` names it. A lock left by a backup killed on this
 * machine (its process is gone) is taken over; one held from another machine is refused, since only
 * that machine can tell whether its backup still runs.
 */
export async function lockDest(dest: string): Promise<() => Promise<void>> {
  const path = join(dest, 'lock');
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    // Written whole under another name, then linked into place (link fails if the lock exists): the
    // lock file is never seen half-written.
    const tmp = `${path}.${randomBytes(6).toString('hex')}`;
    await writeFile(tmp, `${JSON.stringify(me)}\n`, { mode: 0o600 });
    try {
      await link(tmp, path);
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw describeHeld(path, error);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    const owner = await readFile(path, 'utf8')
      .then((text) => JSON.parse(text) as LockOwner)
      .catch(() => null);
    if (owner && (owner.host !== me.host || alive(owner.pid))) {
      throw new ConflictError(
        `another backup is writing to ${dest} (process ${owner.pid} on ${owner.host}, since ${owner.since}); if it is not running any more, remove ${path}`,
      );
    }
    // Its process is gone (or the file is not ours to read): take over.
    await unlink(path).catch(() => undefined);
  }
}

function describeHeld(path: string, error: unknown): Error {
  if ((error as NodeJS.ErrnoException).code === 'EEXIST') return new ConflictError(`another backup took ${path} at the same moment`);
  return error as Error;
}
