import { randomBytes } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { NotFoundError } from '../errors.js';

/** Hold files, one per holder: `<root>/.holds/<owner>-<random>`. */
const HOLDS = '.holds';
/** Blobs deleted while a hold was live: `<root>/.held/<id>`. */
const HELD = '.held';
/**
 * A hold is live while its file was touched this recently and, on the machine that wrote it, its
 * process runs. The holder touches it every minute, so a holder killed with -9 on another node of a
 * shared folder stops holding after ten minutes without anyone cleaning up.
 */
export const HOLD_TTL_MS = 10 * 60_000;
const HOLD_RENEW_MS = 60_000;
/** How long a store trusts its last look at the holds folder: delete() reads it at most once a second. */
export const HOLD_CHECK_MS = 1_000;

/**
 * What a backup holds while it copies a store's blobs: every blob live when the hold began stays
 * readable through it until release(), whoever deletes it meanwhile (garbage collection, the outbound
 * queue letting go of a delivered message) and in whichever process or node (the holds folder sits
 * in the store's own folder, which every node shares).
 */
export interface BlobHold {
  /** The blob's stored bytes, live or set aside by a delete since the hold began; NotFoundError if neither. Not hash-checked. */
  get(id: string): Promise<ReadStream>;
  release(): Promise<void>;
}

/**
 * The holds of one blob folder. A delete() while any hold is live moves the blob aside (`.held/`)
 * instead of unlinking it; the last holder to let go empties `.held/`.
 */
export class BlobHolds {
  private checked: { until: number; live: boolean } | null = null;

  constructor(
    private readonly root: string,
    private readonly pathOf: (id: string) => string,
    /** Where garbage collection sets a blob aside before deciding (still the blob's bytes). */
    private readonly trashOf: (id: string) => string = pathOf,
  ) {}

  /** Whether a hold is live, as seen at most HOLD_CHECK_MS ago. */
  async live(now = Date.now()): Promise<boolean> {
    if (this.checked && this.checked.until > now) return this.checked.live;
    const live = (await this.liveHolds(now)) > 0;
    this.checked = { until: now + HOLD_CHECK_MS, live };
    return live;
  }

  private async liveHolds(now: number, removeStale = false): Promise<number> {
    const dir = join(this.root, HOLDS);
    let count = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, name);
      const s = await stat(path).catch(() => null);
      if (!s) continue;
      if (now - s.mtimeMs < HOLD_TTL_MS && !(await heldByDeadProcess(path))) count++;
      else if (removeStale) await rm(path, { force: true });
    }
    return count;
  }

  /** Move a blob being deleted aside for the holders (rename: atomic, no copy). */
  async park(id: string, from = this.pathOf(id)): Promise<void> {
    await mkdir(join(this.root, HELD), { recursive: true });
    await rename(from, join(this.root, HELD, id)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /**
   * Start holding. Resolves only once every store's cached view of the holds folder (HOLD_CHECK_MS)
   * has expired, so a delete decided after this resolves sees the hold, in any process.
   */
  async hold(owner: string): Promise<BlobHold> {
    const dir = join(this.root, HOLDS);
    await mkdir(dir, { recursive: true });
    await this.liveHolds(Date.now(), true);
    const file = join(dir, `${owner.replace(/[^a-z0-9-]/gi, '_')}-${randomBytes(6).toString('hex')}`);
    await writeFile(file, `${JSON.stringify({ owner, pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`);
    this.checked = null;
    const renew = setInterval(() => {
      const now = new Date();
      void utimes(file, now, now).catch(() => undefined);
    }, HOLD_RENEW_MS);
    renew.unref();
    await new Promise((resolve) => setTimeout(resolve, HOLD_CHECK_MS + 250));
    let released = false;
    return {
      get: async (id) => {
        // Live, trashed, parked, and live again (restored from the trash while we looked).
        for (const path of [this.pathOf(id), this.trashOf(id), join(this.root, HELD, id), this.pathOf(id)]) {
          // Opened here, so that a blob moved aside between the two paths is still found in the second.
          const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return null;
            throw error;
          });
          if (handle) return handle.createReadStream({ highWaterMark: 1024 * 1024 });
        }
        throw new NotFoundError('no such blob');
      },
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        await unlink(file).catch(() => undefined);
        this.checked = null;
        // The last holder empties the side folder. A hold that begins right after this check needs
        // none of it: every blob there was deleted, so unreferenced, before that hold began.
        if ((await this.liveHolds(Date.now())) === 0) await rm(join(this.root, HELD), { recursive: true, force: true });
      },
    };
  }
}

/** A hold written on this machine by a process that is gone (killed with -9): it holds nothing any more. */
async function heldByDeadProcess(path: string): Promise<boolean> {
  const owner = await readFile(path, 'utf8')
    .then((text) => JSON.parse(text) as { pid?: unknown; host?: unknown })
    .catch(() => null);
  if (!owner || owner.host !== hostname() || !Number.isSafeInteger(owner.pid)) return false;
  try {
    process.kill(owner.pid as number, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
