import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const LINT = fileURLToPath(new URL('../../../scripts/lint.mjs', import.meta.url));

/** A miniature workspace with the real package names, to prove the boundary rules bite. */
function workspace(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'palabre-lint-'));
  const all: Record<string, string> = {
    'package.json': JSON.stringify({ workspaces: ['packages/core', 'packages/blob-s3', 'packages/auth', 'packages/webdav', 'packages/mail', 'examples/server'] }),
    'packages/core/src/index.ts': 'export const x = 1;\n',
    'packages/blob-s3/src/index.ts': "import { S3Client } from '@aws-sdk/client-s3';\nexport { S3Client };\n",
    'packages/auth/src/index.ts': "import { x } from '@palabre/core';\nexport const y = x;\n",
    'packages/webdav/src/index.ts': "export { x } from '@palabre/core';\n",
    'packages/mail/src/index.ts': 'export const m = 1;\n',
    'examples/server/src/index.ts': "import { createDataSource } from '@palabre/core/storage';\nexport { createDataSource };\n",
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const lint = (root: string) => spawnSync(process.execPath, [LINT, root, '--no-types'], { encoding: 'utf8' });

describe('npm run lint (package boundaries of DESIGN.md)', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });
  const check = (files: Record<string, string>) => {
    const root = workspace(files);
    roots.push(root);
    return lint(root);
  };

  it('passes a workspace that keeps the rules', () => {
    const r = check({});
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('package boundaries OK');
  });

  it.each([
    ['a protocol package importing another one', 'packages/mail/src/x.ts', "import { y } from '@palabre/auth';\n", /mail may not import @palabre\/auth/],
    ['core importing a package of ours', 'packages/core/src/x.ts', "import { y } from '@palabre/auth';\n", /core may not import/],
    ['a protocol package reaching into storage', 'packages/webdav/src/x.ts', "import { createDataSource } from '@palabre/core/storage';\n", /webdav may not import @palabre\/core\/storage/],
    ['an undocumented deep import', 'examples/server/src/x.ts', "import { x } from '@palabre/core/dist/index.js';\n", /not a documented entry point/],
    ['TypeORM outside core/storage', 'packages/core/src/x.ts', "import { DataSource } from 'typeorm';\n", /only/],
    ['a driver in a protocol package', 'packages/mail/src/x.ts', "import pg from 'pg';\n", /core\/src\/storage only/],
    ['a library reading process.env', 'packages/auth/src/x.ts', 'export const port = process.env.PORT;\n', /never reads process\.env/],
    ['a library writing to the console', 'packages/webdav/src/x.ts', "console.log('hi');\n", /never writes to the console/],
    ['the AWS SDK outside blob-s3', 'packages/core/src/x.ts', "import { S3Client } from '@aws-sdk/client-s3';\n", /packages\/blob-s3 only/],
    ['blob-s3 importing a protocol package', 'packages/blob-s3/src/x.ts', "import { y } from '@palabre/webdav';\n", /blob-s3 may not import @palabre\/webdav/],
    ['export * in a package', 'packages/mail/src/x.ts', "export * from './index.js';\n", /no export \*/],
  ])('fails on %s', (_name, path, text, message) => {
    const r = check({ [path]: text });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it('allows tests to use the test kit and storage', () => {
    const r = check({ 'packages/auth/src/x.test.ts': "import { MemoryDirectoryStore } from '@palabre/core/testing';\nimport { createDataSource } from '@palabre/core/storage';\n" });
    expect(r.status).toBe(0);
  });
});
