import { execFile, spawn } from 'node:child_process';
import { access, constants, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { PalabreError, UnavailableError } from '@palabre/core';

/** Where Debian installs each PostgreSQL major's programs side by side (postgresql-client-N). */
export const DEBIAN_PG_ROOT = '/usr/lib/postgresql';

export interface PgTool {
  readonly path: string;
  /** `15.20` */
  readonly version: string;
  readonly major: number;
}

export interface PgToolSearch {
  /** PATH to search after the Debian folders. */
  readonly path?: string;
  readonly debianRoot?: string;
}

async function versionOf(path: string): Promise<PgTool | null> {
  try {
    await access(path, constants.X_OK);
  } catch {
    return null;
  }
  const out = await new Promise<string>((resolve) => {
    execFile(path, ['--version'], { timeout: 10_000 }, (error, stdout) => resolve(error ? '' : stdout));
  });
  // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(out);
  if (!match) return null;
  return { path, version: match[2] === undefined ? match[1]! : `${match[1]}.${match[2]}`, major: Number(match[1]) };
}

/** Every copy of `name` (pg_dump, pg_restore) on this machine: each Debian major's, then PATH's. */
export async function findPgTools(name: 'pg_dump' | 'pg_restore', search: PgToolSearch = {}): Promise<PgTool[]> {
  const root = search.debianRoot ?? DEBIAN_PG_ROOT;
  const majors = (await readdir(root).catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
  const paths = [
    ...majors.map((m) => join(root, m, 'bin', name)),
    ...(search.path ?? process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name)),
  ];
  const found: PgTool[] = [];
  for (const path of new Set(paths)) {
    const tool = await versionOf(path);
    if (tool) found.push(tool);
  }
  return found;
}

/**
 * The copy of `name` to use with a server (pg_dump) or an archive (pg_restore) of major version
 * `needed`: pg_dump cannot dump a server newer than itself, pg_restore cannot read an archive from a
 * newer pg_dump. The same major is preferred, else the oldest newer one.
 */
export function choosePgTool(name: 'pg_dump' | 'pg_restore', found: readonly PgTool[], needed: number, what: string): PgTool {
  const usable = found.filter((t) => t.major >= needed).sort((a, b) => a.major - b.major);
  const tool = usable.find((t) => t.major === needed) ?? usable[0];
  if (tool) return tool;
  const have = found.length ? `only ${found.map((t) => `${name} ${t.version} (${t.path})`).join(', ')}` : `no ${name}`;
  throw new PalabreError(
    'unavailable',
    `${what} needs ${name} ${needed} or later, and this machine has ${have}: install postgresql-client-${needed} (apt install postgresql-client-${needed}) or put a recent enough ${name} on PATH`,
    { retryable: false },
  );
}

/**
 * A libpq connection for a DATABASE_URL, the password moved out of the command line (where `ps`
 * shows it to every user) into the child's environment.
 */
export function pgConnection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { dbname: parsed.toString(), env: password ? { PGPASSWORD: password } : {} };
}

/** Run a PostgreSQL program to the end; its standard error comes back in the error if it fails. */
export function runPgTool(tool: PgTool, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool.path, args, { env: { ...process.env, PGCONNECT_TIMEOUT: '10', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 16_384) err += d.toString();
    });
    child.on('error', (error) => reject(new UnavailableError(`cannot run ${tool.path}`, { cause: error, retryable: false })));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const detail = err.trim().split('\n').slice(-5).join('; ') || (signal ? `killed by ${signal}` : `exit code ${code}`);
      reject(new PalabreError('unavailable', `${tool.path.split('/').pop()} ${tool.version} failed: ${detail}`, { retryable: false }));
    });
  });
}
