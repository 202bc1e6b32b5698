import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { choosePgTool, findPgTools, pgConnection } from './pg-tools.js';

describe('finding pg_dump and pg_restore for a PostgreSQL major version', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palabre-pgtools-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  /** A program that answers --version as PostgreSQL's do. */
  const program = async (path: string, version: string) => {
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, `#!/bin/sh\necho "pg_dump (PostgreSQL) ${version} (Debian ${version}-1)"\n`);
    await chmod(path, 0o755);
  };

  it('reports a pg_dump older than the server, naming both versions and the package to install', async () => {
    await program(join(dir, 'path', 'pg_dump'), '13.4');
    const found = await findPgTools('pg_dump', { path: join(dir, 'path'), debianRoot: join(dir, 'none') });
    expect(found).toEqual([{ path: join(dir, 'path', 'pg_dump'), version: '13.4', major: 13 }]);
    expect(() => choosePgTool('pg_dump', found, 16, 'PostgreSQL 16.2')).toThrow(
      /PostgreSQL 16\.2 needs pg_dump 16 or later, and this machine has only pg_dump 13\.4 \(.*\): install postgresql-client-16/,
    );
    expect(() => choosePgTool('pg_dump', [], 16, 'PostgreSQL 16.2')).toThrow(/has no pg_dump: install postgresql-client-16/);
  });

  it('prefers the Debian folder of the same major, else the oldest newer one', async () => {
    const root = join(dir, 'lib');
    for (const v of ['14.1', '15.20', '17.0']) await program(join(root, v.split('.')[0]!, 'bin', 'pg_dump'), v);
    await program(join(dir, 'path', 'pg_dump'), '17.0');
    const found = await findPgTools('pg_dump', { path: join(dir, 'path'), debianRoot: root });
    expect(found.map((t) => t.version).sort()).toEqual(['14.1', '15.20', '17.0', '17.0']);
    expect(choosePgTool('pg_dump', found, 15, 'x').path).toBe(join(root, '15', 'bin', 'pg_dump'));
    expect(choosePgTool('pg_dump', found, 16, 'x').major).toBe(17);
  });

  it('keeps a password out of the command line', () => {
    expect(pgConnection('postgres://palabre:s%3Acret@db.gouv.tg:5432/palabre?sslmode=require')).toEqual({
      dbname: 'postgres://palabre@db.gouv.tg:5432/palabre?sslmode=require',
      env: { PGPASSWORD: 's:cret' },
    });
    expect(pgConnection('postgres://postgres@127.0.0.1/test').env).toEqual({});
  });
});
