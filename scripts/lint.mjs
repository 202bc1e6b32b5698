#!/usr/bin/env node
// `npm run lint`: type-check every workspace (sources and tests) and enforce DESIGN.md's rules:
// who may import whom, documented subpaths only, drivers only in core/storage, and protocol packages
// that never read process.env, write to the console or exit the process.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// `node scripts/lint.mjs [ROOT] [--no-types]`: ROOT lets the rules be tested on a fixture tree.
const args = process.argv.slice(2);
const root = args.find((a) => !a.startsWith('--')) ?? new URL('..', import.meta.url).pathname;
const checkTypes = !args.includes('--no-types');
const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
let failures = 0;
const fail = (message) => {
  failures++;
  console.error(message);
};

// 1. Types, per workspace.
for (const ws of checkTypes ? workspaces : []) {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, ws, 'tsconfig.json'), '--noEmit'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) fail(`type errors in ${ws}:\n${r.stdout}${r.stderr}`);
}

// 2. Import rules.
const ALLOWED = {
  core: [],
  'blob-s3': ['@palabre/core'],
  auth: ['@palabre/core'],
  webdav: ['@palabre/core'],
  mail: ['@palabre/core'],
  caldav: ['@palabre/core', '@palabre/webdav'],
  web: ['@palabre/core', '@palabre/webdav'],
  server: ['@palabre/core', '@palabre/core/storage', '@palabre/blob-s3', '@palabre/auth', '@palabre/webdav', '@palabre/caldav', '@palabre/mail', '@palabre/web'],
};
const SUBPATHS = new Set(['@palabre/core', '@palabre/core/storage', '@palabre/core/testing', '@palabre/blob-s3', '@palabre/auth', '@palabre/webdav', '@palabre/caldav', '@palabre/mail', '@palabre/web']);
const DRIVERS = new Set(['typeorm', 'better-sqlite3', 'pg', 'pg-query-stream']);

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

const importRe = /(?:^|[^.\w])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

for (const ws of workspaces) {
  const pkg = ws.split('/').pop();
  const src = join(root, ws, 'src');
  for (const file of files(src)) {
    const rel = relative(root, file);
    const isTest = /\.test\.ts$/.test(file);
    const inTesting = rel.includes('/src/testing/');
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('@palabre/')) {
        if (!SUBPATHS.has(spec)) fail(`${rel}: imports ${spec}, which is not a documented entry point`);
        const allowed = ALLOWED[pkg] ?? [];
        const testOnly = spec === '@palabre/core/testing' || spec === '@palabre/core/storage';
        if (!allowed.includes(spec) && !(isTest && testOnly)) fail(`${rel}: ${pkg} may not import ${spec} (DESIGN.md)`);
      }
      const bare = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      // The S3 SDK is large: only the package that needs it carries it, so core and mail-only embedders do not.
      if (bare.startsWith('@aws-sdk/') && pkg !== 'blob-s3') fail(`${rel}: the AWS SDK belongs in packages/blob-s3 only`);
      if (DRIVERS.has(bare) && !(pkg === 'core' && rel.includes('packages/core/src/storage/'))) {
        fail(`${rel}: database drivers and TypeORM belong in packages/core/src/storage only`);
      }
    }
    if (ws.startsWith('packages/') && !isTest && !inTesting) {
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      if (/\bprocess\.env\b/.test(code)) fail(`${rel}: a library package never reads process.env (take options instead)`);
      if (/\bconsole\.(log|info|warn|error|debug)\b/.test(code)) fail(`${rel}: a library package never writes to the console (use the Logger)`);
      if (/\bprocess\.exit\b/.test(code)) fail(`${rel}: a library package never exits the process`);
      if (/^export \* from/m.test(code)) fail(`${rel}: public API is explicit named exports (no export *)`);
    }
  }
}

if (failures) {
  console.error(`\nlint: ${failures} problem(s)`);
  process.exit(1);
}
console.log('lint: types and package boundaries OK');
