#!/usr/bin/env node
// Two or more `palabre serve` nodes behind HAProxy on loopback: what the cluster checks
// (.ci/checks/cluster-conformance.sh, .ci/checks/lib/cluster-faults.mjs) and the two-node benchmark
// (bench/two-nodes.mjs) share. As a command, for the shell scripts:
//   node scripts/cluster.mjs free-port            a free loopback TCP port
//   node scripts/cluster.mjs haproxy-config JSON  the HAProxy configuration for JSON (haproxyConfig's argument)
import { spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(ROOT, 'examples/server/bin/palabre.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

/**
 * An HAProxy configuration: `http` (round-robin per request, keep-alive) and `tcp` listeners (round-robin
 * per connection), each `{ port, servers: [[name, port], ...] }`. `checks`: health checks every 300 ms
 * (GET /healthz for HTTP) and redispatch, so a dead node leaves the rotation at once (the fault run);
 * `stats`: a stats socket in `dir` (per-server session counts).
 */
export function haproxyConfig({ dir, http, tcp = {}, checks = false, stats = false }) {
  const server = ([name, port]) => `  server ${name} 127.0.0.1:${port}${checks ? ' check inter 300 fall 1 rise 2' : ''}`;
  const lines = ['global', '  maxconn 4000', `  pidfile ${dir}/haproxy.pid`, ...(stats ? [`  stats socket ${dir}/haproxy.sock`] : []), '  daemon'];
  lines.push('defaults', '  timeout connect 5s', '  timeout client 30m', '  timeout server 30m', '  timeout tunnel 30m');
  if (checks) lines.push('  retries 3', '  option redispatch');
  if (http) {
    lines.push('listen dav', '  mode http', `  bind 127.0.0.1:${http.port}`, '  balance roundrobin', '  option http-keep-alive');
    if (checks) lines.push('  option httpchk GET /healthz');
    lines.push(...http.servers.map(server));
  }
  for (const [name, { port, servers }] of Object.entries(tcp)) {
    lines.push(`listen ${name}`, '  mode tcp', `  bind 127.0.0.1:${port}`, '  balance roundrobin', ...servers.map(server));
  }
  return `${lines.join('\n')}\n`;
}

/** Check and start HAProxy on `cfg` (written to `dir`/haproxy.cfg); its PID (stop it with process.kill). */
export async function startHaproxy(dir, cfg) {
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, cfg);
  const checked = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (checked.status !== 0) throw new Error(`haproxy -c: ${checked.stderr || checked.stdout}`);
  const started = spawnSync('haproxy', ['-f', file], { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`haproxy: ${started.stderr}`);
  for (let i = 0; i < 50; i++) {
    try {
      return Number(readFileSync(join(dir, 'haproxy.pid'), 'utf8').trim());
    } catch {
      await sleep(100);
    }
  }
  throw new Error('haproxy wrote no PID file');
}

/**
 * Start one node on free ports (`ports` names the listeners: http, smtp, submission, imap; the others are
 * off) and wait until it answers /healthz. Start the first node alone: it makes the data folder's
 * certificate, which the others read. `log`: a file for its stderr (default: thrown away).
 */
export async function startNode({ data, env, ports = ['http', 'submission', 'imap'], port: given, log, hostname = 'mail.example.test' }) {
  // `port`: the ports a node had before (restarting it where the balancer expects it).
  const port = given ?? {};
  if (!given) for (const name of ['http', 'smtp', 'submission', 'imap']) port[name] = ports.includes(name) ? await freePort() : 0;
  const args = [CLI, '--data', data, 'serve', '--hostname', hostname, '--host', '127.0.0.1', '--http-port', port.http, '--smtp-port', port.smtp, '--submission-port', port.submission, '--imap-port', port.imap, '--sieve-port', 0, '--admin-port', 0].map(String);
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', log ? openSync(log, 'a') : 'ignore'] });
  for (let i = 0; i < 300; i++) {
    if (await fetch(`http://127.0.0.1:${port.http}/healthz`).then((r) => r.ok, () => false)) return { proc, port };
    if (proc.exitCode !== null) break;
    await sleep(200);
  }
  proc.kill('SIGKILL');
  throw new Error(`palabre serve did not start${log ? ` (see ${log})` : ''}`);
}

/** SIGTERM, then SIGKILL after `graceMs` if it is still there. */
export async function stopProcess(proc, graceMs = 1500) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  if (await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)])) return;
  proc.kill('SIGKILL');
  await gone;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, arg] = process.argv.slice(2);
  if (command === 'free-port') console.log(await freePort());
  else if (command === 'haproxy-config') process.stdout.write(haproxyConfig(JSON.parse(arg)));
  else {
    console.error('usage: cluster.mjs free-port | haproxy-config JSON');
    process.exit(2);
  }
}
