#!/usr/bin/env node
// `npm run bench webdav`: Apache mod_dav and nginx's DAV modules (the references) and Palabre's DAV drive,
// side by side in one run, with ../shared/conformance/webdav/bench.sh (wrk): GET 1 MiB, PUT 1 MiB, PROPFIND
// Depth 1 on 1,000 files (allprop, and the named properties clients send), at concurrency 4 and 64. Prints every server's figures, the ratios
// Palabre/Apache and Palabre/nginx, and the peak RSS of the Palabre process during the run and during a
// 1 GiB upload. Asserts nothing (shared, noisy machine).
//
// Palabre runs twice: as `palabre serve` (the product, with @palabre/auth: throttling, audit and login
// bookkeeping on every request) and as packages/webdav/test/serve.mjs (the same DAV handler and drive with
// core's test authenticator), to tell the drive's own cost from authentication's.
// Env: SECS (seconds per test, default 10), CONCURRENCY (default "4 64"), BENCH_RUNS (runs, medians printed, default 1), PALABRE_BENCH_PG (a PostgreSQL URL
// instead of SQLite), PALABRE_SHARED (default ../shared), PALABRE_BENCH_WORKERS (processes of serve.mjs, default 1).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../scripts/cluster.mjs';
import { startNginxDav, stopNginxDav } from './_nginx-dav.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.PALABRE_SHARED ?? join(root, '..', 'shared');
const conformance = join(shared, 'conformance', 'webdav');
const USER = 'bench@ms.gouv.test';
const PASS = 'Wrk-Measure-2026-dav';


function benchSh(url, user, pass, concurrency) {
  const r = spawnSync('bash', [join(conformance, 'bench.sh'), url, user, pass], {
    encoding: 'utf8',
    env: { ...process.env, CONCURRENCY: concurrency },
    timeout: 30 * 60_000,
  });
  if (r.status !== 0) throw new Error(`bench.sh failed on ${url}: ${r.stderr}`);
  const rows = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) c=(\d+) req\/s=([\d.]+) p50=(\S+) p99=(\S+) non2xx=(\d+)/.exec(line);
    if (m) rows[`${m[1]} c=${m[2]}`] = { rps: Number(m[3]), p50: m[4], p99: m[5], non2xx: Number(m[6]) };
  }
  return rows;
}

// What real clients ask a folder for (rclone, davfs2, Finder and Windows name their properties; none sends
// allprop): the same body to every server, so each answers the same properties. bench.sh's allprop row
// stays beside it: there each server answers its own allprop (nginx 5 properties, Palabre RFC 4918's set).
const NAMED_PROPFIND =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/>' +
  '<D:getlastmodified/><D:getetag/><D:creationdate/><D:displayname/><D:getcontenttype/></D:prop></D:propfind>';

/** A folder of 1,000 small files under `url` for the named-property PROPFIND; returns its URL. */
async function seedNamed(url, user, pass) {
  const auth = { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
  const folder = `${url}named-${process.pid}/`;
  const made = await fetch(folder, { method: 'MKCOL', headers: auth });
  if (made.status !== 201) throw new Error(`MKCOL ${folder}: ${made.status}`);
  let next = 0;
  const worker = async () => {
    while (next < 1000) {
      const i = next++;
      const r = await fetch(`${folder}file-${String(i).padStart(4, '0')}.txt`, { method: 'PUT', headers: auth, body: `hello ${i}\n` });
      if (r.status >= 300) throw new Error(`PUT: ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return folder;
}

/** wrk on the seeded folder with NAMED_PROPFIND: one row like bench.sh's. */
function benchNamed(folder, user, pass, concurrency, dir) {
  const u = new URL(folder);
  const script = join(dir, `named-${u.port}.lua`);
  const auth = Buffer.from(`${user}:${pass}`).toString('base64');
  writeFileSync(
    script,
    `request = function() return wrk.format("PROPFIND", ${JSON.stringify(u.pathname)}, {["Authorization"]="Basic ${auth}", ["Depth"]="1", ["Content-Type"]="application/xml"}, ${JSON.stringify(NAMED_PROPFIND)}) end\n`,
  );
  const secs = process.env.SECS ?? '10';
  const c = Number(concurrency);
  const r = spawnSync('wrk', [`-t${c < 2 ? 1 : 2}`, `-c${c}`, `-d${secs}s`, '--timeout', '30s', '--latency', '-s', script, u.origin], { encoding: 'utf8', timeout: (Number(secs) + 60) * 1000 });
  const out = r.stdout ?? '';
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { [`PROPFIND_D1_1000_named c=${concurrency}`]: { rps, p50, p99, non2xx } };
}

const peakRss = (pids) =>
  pids.reduce((sum, pid) => {
    try {
      return sum + Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
    } catch {
      return sum;
    }
  }, 0);

const childPids = (pid) => {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
};

function upload1GiB(url) {
  const target = new URL(`${url}bench-1gib.bin`);
  const piece = Buffer.alloc(1024 * 1024, 'palabre ');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'PUT',
        headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`, 'content-length': 1024 ** 3 },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    let n = 0;
    const pump = () => {
      while (n < 1024) {
        n++;
        if (!req.write(piece)) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}


/** Start a Palabre server: `kind` is 'serve' (palabre serve) or 'drive' (test/serve.mjs). */
async function startPalabre(kind, data) {
  const workers = process.env.PALABRE_BENCH_WORKERS ?? '1';
  const env = { ...process.env };
  if (process.env.PALABRE_BENCH_PG) env.DATABASE_URL = process.env.PALABRE_BENCH_PG;
  else delete env.DATABASE_URL;
  let child;
  let url;
  if (kind === 'drive') {
    const args = [join(root, 'packages/webdav/test/serve.mjs'), '--data', data, '--user', `${USER}:${PASS}`, '--workers', workers];
    if (process.env.PALABRE_BENCH_PG) args.push('--postgres', process.env.PALABRE_BENCH_PG);
    child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /listening (\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`serve.mjs exited with ${code}`)));
    });
  } else {
    const cli = join(root, 'examples/server/bin/palabre.js');
    for (const args of [['domain', 'add', 'ms.gouv.test'], ['user', 'add', USER, '--password', PASS]]) {
      const r = spawnSync(process.execPath, [cli, ...args, '--data', data], { encoding: 'utf8', env });
      if (r.status !== 0) throw new Error(`palabre ${args.join(' ')}: ${r.stderr || r.stdout}`);
    }
    const port = await freePort();
    // The admin listener (metrics) stays on, as in production, on a port of its own: another server on
    // the machine may hold the default one. ManageSieve is not measured here.
    const adminPort = await freePort();
    const ports = ['--http-port', String(port), '--smtp-port', '0', '--submission-port', '0', '--imap-port', '0', '--sieve-port', '0', '--admin-port', String(adminPort)];
    child = spawn(process.execPath, [cli, 'serve', '--data', data, '--host', '127.0.0.1', ...ports], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env,
    });
    for (let i = 0; ; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false);
      if (up) break;
      if (i > 300 || child.exitCode !== null) throw new Error('palabre serve did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    url = `http://127.0.0.1:${port}/dav/files/${USER}/`;
  }
  const pids = () => [child.pid, ...childPids(child.pid)];
  return { child, url, pids, label: kind === 'drive' ? `test/serve.mjs (${workers} process(es), test authenticator)` : 'palabre serve' };
}

const apachePort = await freePort();
const nginxPort = await freePort();
const nginxDir = mkdtempSync(join(tmpdir(), 'palabre-bench-nginx-'));
// apache.sh creates it (world-traversable: Apache runs as www-data).
const apacheDir = join(tmpdir(), `palabre-bench-apache-${process.pid}`);
const dataServe = mkdtempSync(join(tmpdir(), 'palabre-bench-serve-'));
const dataDrive = mkdtempSync(join(tmpdir(), 'palabre-bench-drive-'));
const running = [];
try {
  console.log(`# Apache mod_dav reference on 127.0.0.1:${apachePort}`);
  const started = spawnSync('bash', [join(conformance, 'anchor', 'apache.sh'), 'start', String(apachePort), USER, PASS], {
    encoding: 'utf8',
    env: { ...process.env, APACHE_DAV_DIR: apacheDir },
  });
  if (started.status !== 0) throw new Error(`apache.sh start failed: ${started.stderr}`);
  const apacheUrl = started.stdout.trim().split('\n').pop();
  const nginxUrl = await startNginxDav(nginxDir, nginxPort, USER, PASS);
  if (nginxUrl) console.log(`# nginx DAV reference on ${nginxUrl}`);

  // Both Palabre servers first take a 1 GiB upload on their fresh process (its peak RSS is the upload's),
  // then each concurrency level runs on Apache and the two Palabre servers back to back, so that the
  // machine's other load weighs on the three alike.
  const results = [];
  for (const [kind, data] of [
    ['serve', dataServe],
    ['drive', dataDrive],
  ]) {
    const server = await startPalabre(kind, data);
    running.push(server.child);
    console.log(`# Palabre: ${server.label}, ${process.env.PALABRE_BENCH_PG ? 'PostgreSQL' : 'SQLite'}, at ${server.url}`);
    const status = await upload1GiB(server.url);
    results.push({ server, rows: {}, uploadPeak: peakRss(server.pids()), status, benchPeak: 0 });
  }
  const references = [{ name: 'Apache mod_dav', url: apacheUrl, rows: {}, bar: () => 1 }];
  // nginx is the faster reference on reads: the bar against it is on GET and PROPFIND.
  if (nginxUrl) references.push({ name: 'nginx dav', url: nginxUrl, rows: {}, bar: (key) => (key.startsWith('PUT') ? null : 1) });
  for (const target of [...references, ...results]) target.named = await seedNamed(target.url ?? target.server.url, USER, PASS);
  const runs = Math.max(1, Number(process.env.BENCH_RUNS || 1));
  const samples = new Map([...references, ...results].map((t) => [t, []]));
  for (let run = 1; run <= runs; run++) {
    for (const c of (process.env.CONCURRENCY ?? '4 64').split(/\s+/).filter(Boolean)) {
      console.log(`# run ${run}/${runs}, bench.sh at c=${c}: ${references.map((r) => r.name).join(', ')}, then ${results.map((r) => r.server.label).join(', then ')}`);
      for (const t of [...references, ...results]) {
        samples.get(t).push({ ...benchSh(t.url ?? t.server.url, USER, PASS, c), ...benchNamed(t.named, USER, PASS, c, nginxDir) });
      }
    }
  }
  // The median of the runs, row by row.
  for (const [t, list] of samples) {
    const keys = new Set(list.flatMap((rows) => Object.keys(rows)));
    for (const key of keys) {
      const got = list.map((rows) => rows[key]).filter(Boolean).sort((a, b) => a.rps - b.rps);
      t.rows[key] = got[Math.floor(got.length / 2)];
    }
  }
  for (const r of results) r.benchPeak = peakRss(r.server.pids());

  for (const { server, rows, uploadPeak, status, benchPeak } of results) {
    for (const ref of references) {
      console.log(`\n## ${server.label} vs ${ref.name}`);
      console.log(`test                     ${'reference'.padStart(12)}   palabre req/s   ratio   bar    (p50 reference / palabre)`);
      for (const key of Object.keys(ref.rows)) {
        const a = ref.rows[key];
        const p = rows[key];
        if (!p) continue;
        const ratio = p.rps / a.rps;
        const bar = ref.bar(key);
        const verdict = bar === null ? '         ' : `${ratio >= bar ? 'met ' : 'MISS'} ${bar}x `;
        console.log(
          `${key.padEnd(24)} ${a.rps.toFixed(1).padStart(12)} ${p.rps.toFixed(1).padStart(15)} ${ratio.toFixed(2).padStart(7)}   ${verdict}(${a.p50} / ${p.p50})${p.non2xx ? ` non2xx=${p.non2xx}` : ''}${a.non2xx ? ` reference non2xx=${a.non2xx}` : ''}`,
        );
      }
    }
    console.log(`peak RSS through a 1 GiB upload (status ${status}): ${(uploadPeak / 1024 ** 2).toFixed(1)} MiB (bar: 150 MiB); through the benchmark: ${(benchPeak / 1024 ** 2).toFixed(1)} MiB`);
  }
} finally {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  spawnSync('bash', [join(conformance, 'anchor', 'apache.sh'), 'stop'], { env: { ...process.env, APACHE_DAV_DIR: apacheDir } });
  await stopNginxDav(nginxDir);
  rmSync(dataServe, { recursive: true, force: true });
  rmSync(dataDrive, { recursive: true, force: true });
  rmSync(apacheDir, { recursive: true, force: true });
}
