#!/usr/bin/env node
// `npm run bench [name...]`: runs each benchmark in bench/*.mjs (or those named) one after the other.
// Each prints its figures and ratios against the reference server it starts in the same run. Nothing
// here asserts a speed: the machine is shared and noisy; read the ratios.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wanted = process.argv.slice(2);
const all = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.mjs') && !f.startsWith('_')).sort();
const chosen = wanted.length ? all.filter((f) => wanted.includes(f.replace(/\.mjs$/, ''))) : all;
if (chosen.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}; have: ${all.map((f) => f.replace(/\.mjs$/, '')).join(' ')}`);
  process.exit(2);
}
let failed = 0;
for (const file of chosen) {
  console.log(`\n### bench ${file.replace(/\.mjs$/, '')}`);
  const r = spawnSync(process.execPath, [join(root, 'bench', file)], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    failed++;
    console.log(`### bench ${file} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
