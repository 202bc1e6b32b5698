#!/usr/bin/env node
// `npm run bench two-nodes`: what a second node adds (issue 15). Two `palabre serve` nodes on one
// PostgreSQL (a database of this run's own on the local server) and one blob folder, behind HAProxy;
// the same load through a balancer with only node A, then through one with A and B: WebDAV (GET 1 MiB,
// PUT 1 MiB, PROPFIND Depth 1 of 1,000 files, with ../shared/conformance/webdav/bench.sh) and SMTP intake
// through the MX (../shared/conformance/mail/bench.sh, phase smtp). Prints both and the ratio two / one.
// On this 2-core machine both nodes, PostgreSQL, HAProxy and the load generators share the same two
// cores, so the ratio says what a second process buys on the same hardware, not what a second machine
// would: read it as a lower bound. Env: SECS (8), CONCURRENCY (64), SMTP_MSGS (2000),
// PALABRE_BENCH_PG_ADMIN (postgres://postgres@127.0.0.1:5432/postgres). Asserts nothing.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, freePort, haproxyConfig, ROOT, startHaproxy, startNode, stopProcess } from '../scripts/cluster.mjs';
import { runBench } from './_mail-bench.mjs';

const USER = 'bench@example.test';
const PASS = 'Balancer-Measure-2026-x';
const admin = process.env.PALABRE_BENCH_PG_ADMIN ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = `palabre_two_nodes_${process.pid}`;
const psql = (sql) => spawnSync('psql', [admin, '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });

for (const program of ['haproxy', 'wrk', 'psql']) {
  if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0) {
    console.log(`# ${program} is not installed (.ci/install-deps.sh): two-node bench skipped`);
    process.exit(0);
  }
}
if (psql('select 1').status !== 0) {
  console.log(`# no PostgreSQL at ${admin}: two-node bench skipped`);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'palabre-two-nodes-'));
const nodes = [];
const haproxies = [];
try {
  const created = psql(`create database ${database}`);
  if (created.status !== 0) throw new Error(`create database: ${created.stderr}`);
  const env = { ...process.env, DATABASE_URL: admin.replace(/\/[^/]*$/, `/${database}`), LOG_LEVEL: 'warn' };
  const data = join(dir, 'data');
  mkdirSync(data);
  for (const [args, input] of [[['domain', 'add', 'example.test']], [['user', 'add', USER, '--password-stdin'], PASS]]) {
    const r = spawnSync(process.execPath, [CLI, '--data', data, ...args], { env, input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`palabre ${args.join(' ')}: ${r.stderr}`);
  }
  // As the mail benches run ours: no per-address ceilings for the loopback load generators.
  writeFileSync(
    join(data, 'palabre.json'),
    JSON.stringify({ connections: { perAddress: 0 }, smtp: { trustedNetworks: ['127.0.0.1/32'], limits: { connectionRatePerIp: 0, messagesPerIpPerHour: 0 } } }),
  );
  const ports = ['http', 'smtp', 'imap'];
  nodes.push(await startNode({ data, env, ports, log: join(dir, 'a.log') })); // first: it makes the certificate
  nodes.push(await startNode({ data, env, ports, log: join(dir, 'b.log') }));

  // One balancer per layout, so both measures pay the same proxy hop.
  const fronts = {};
  for (const [layout, members] of [['one node', nodes.slice(0, 1)], ['two nodes', nodes]]) {
    const front = { http: await freePort(), smtp: await freePort(), imap: await freePort() };
    const hdir = join(dir, layout.replace(' ', '-'));
    mkdirSync(hdir);
    const servers = (listener) => members.map((n, i) => [String.fromCharCode(97 + i), n.port[listener]]);
    haproxies.push(await startHaproxy(hdir, haproxyConfig({ dir: hdir, http: { port: front.http, servers: servers('http') }, tcp: { smtp: { port: front.smtp, servers: servers('smtp') }, imap: { port: front.imap, servers: servers('imap') } } })));
    fronts[layout] = front;
  }

  const results = {};
  for (const layout of ['one node', 'two nodes']) {
    const front = fronts[layout];
    console.log(`\n## ${layout} behind HAProxy (load average ${spawnSync('cut', ['-d', ' ', '-f1-3', '/proc/loadavg'], { encoding: 'utf8' }).stdout.trim()})`);
    const dav = spawnSync('bash', [join(ROOT, '..', 'shared', 'conformance', 'webdav', 'bench.sh'), `http://127.0.0.1:${front.http}/dav/files/${USER}/`, USER, PASS], {
      encoding: 'utf8',
      env: { ...process.env, SECS: process.env.SECS ?? '8', CONCURRENCY: process.env.CONCURRENCY ?? '64' },
      timeout: 20 * 60_000,
    });
    if (dav.status !== 0) throw new Error(`webdav bench.sh: ${dav.stderr}`);
    process.stdout.write(dav.stdout);
    const rows = {};
    for (const line of dav.stdout.split('\n')) {
      const m = /^(\S+) c=(\d+) req\/s=([\d.]+)/.exec(line);
      if (m) rows[`WebDAV ${m[1]} c=${m[2]} req/s`] = Number(m[3]);
    }
    const mail = runBench(`SMTP intake, ${layout}`, {
      smtp: `127.0.0.1:${front.smtp}`,
      imap: `127.0.0.1:${front.imap}`,
      user: USER,
      pass: PASS,
      pids: {},
      phases: ['smtp'],
      env: { SMTP_MSGS: process.env.SMTP_MSGS ?? '2000' },
    });
    for (const r of mail) {
      if (r.acceptMsgS !== undefined) rows[`${r.name} accepted msg/s`] = r.acceptMsgS;
      if (r.deliveredMsgS !== undefined) rows[`${r.name} visible over IMAP msg/s`] = r.deliveredMsgS;
    }
    results[layout] = rows;
  }

  console.log('\n| measure (through HAProxy, one PostgreSQL) | one node | two nodes | two / one |');
  console.log('| --- | --- | --- | --- |');
  for (const [name, one] of Object.entries(results['one node'])) {
    const two = results['two nodes'][name];
    console.log(`| ${name} | ${one} | ${two ?? '-'} | ${two === undefined || !one ? '-' : (two / one).toFixed(2)} |`);
  }
  console.log(`# ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores shared by both nodes, PostgreSQL, HAProxy and the clients`);
} finally {
  await Promise.all(nodes.map((n) => stopProcess(n.proc)));
  for (const pid of haproxies) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  psql(`drop database if exists ${database} with (force)`);
  rmSync(dir, { recursive: true, force: true });
}
