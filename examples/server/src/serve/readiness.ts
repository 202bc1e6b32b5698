import { existsSync } from 'node:fs';
import { sqliteFileIn } from '@palabre/core/storage';
import type { Context } from '../context.js';

/** One thing a node needs to serve: it answers within the time allowed, or says why not. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

export interface ReadinessResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** A database that hangs (a partitioned PostgreSQL) is as unready as one that refuses. */
const CHECK_TIMEOUT_MS = 5000;

export async function runReadiness(checks: readonly ReadinessCheck[]): Promise<ReadinessResult[]> {
  return Promise.all(
    checks.map(async ({ name, check }) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
      });
      try {
        await Promise.race([check(), timeout]);
        return { name, ok: true, detail: 'ok' };
      } catch (error) {
        return { name, ok: false, detail: ((error as Error)?.message ?? String(error)).split('\n')[0]! };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/**
 * The database answers a query that reads a table, and each blob store answers (its folder there, a
 * folder, readable and writable; its bucket reachable). SQLite also needs its file still at its path: an open connection keeps
 * answering from a deleted or moved file, but nothing written there would survive a restart.
 */
export function readinessChecks(ctx: Context): ReadinessCheck[] {
  const { config } = ctx;
  const checks: ReadinessCheck[] = [
    {
      name: 'database',
      async check() {
        if (!config.databaseUrl && !existsSync(sqliteFileIn(config.dataDir))) throw new Error(`${sqliteFileIn(config.dataDir)} is gone`);
        await ctx.db.select('SELECT COUNT(*) AS n FROM domains', [], 'readiness check');
      },
    },
  ];
  for (const [name, store] of Object.entries(ctx.blobs)) {
    checks.push({
      name: `blobs-${name}`,
      check: () => store.probe(),
    });
  }
  return checks;
}

/** A fresh data folder has no blob folders until the first blob: made at start, so that only a folder lost later is unready. */
export async function prepareReadiness(ctx: Context): Promise<void> {
  await ctx.prepareBlobs();
}
