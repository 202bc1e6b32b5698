// Shared pieces of the benchmarks (files starting with "_" are not run by `npm run bench`): the
// Postfix + Dovecot reference from ../shared/conformance/mail/anchor, a `palabre serve` on free
// loopback ports with a fresh data folder, bench.sh runs that return their JSON results, ratio tables,
// a process's memory.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const harness = process.env.MAIL_HARNESS ?? join(root, '..', 'shared', 'conformance', 'mail');

import { freePort } from '../scripts/cluster.mjs';

export { freePort };

export async function waitPort(port, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** bench.sh with its JSON results (empty list if it produced none). */
export function runBench(label, { smtp, imap, user, pass, pids, phases, env = {} }) {
  const json = join(tmpdir(), `bench-${label.replace(/\W+/g, '-')}-${process.pid}.json`);
  rmSync(json, { force: true });
  console.log(`\n## ${label}: SMTP ${smtp}, IMAP ${imap}, phases ${phases.join(' ')}`);
  const r = spawnSync('bash', [join(harness, 'bench.sh'), smtp, imap, user, pass, ...phases], {
    stdio: 'inherit',
    env: { ...process.env, ...env, BENCH_JSON: json, SMTP_PID: pids.smtp ?? '', IMAP_PID: pids.imap ?? '' },
  });
  if (r.status !== 0) console.log(`# bench.sh for ${label} exited ${r.status}`);
  try {
    return JSON.parse(readFileSync(json, 'utf8'));
  } catch {
    return [];
  } finally {
    rmSync(json, { force: true });
  }
}

/**
 * Start the reference; returns its endpoints and PIDs, or null (needs root and install-deps.sh).
 * `instance` picks its own folder and ports, so two benchmarks never share (or stop) one instance.
 */
export function startReference(instance = { dir: '/tmp/mail-anchor', smtp: 2525, submission: 2587, imap: 1143, lmtp: 2424 }) {
  const anchor = join(harness, 'anchor');
  const env = {
    ...process.env,
    ANCHOR_DIR: instance.dir,
    SMTP_PORT: String(instance.smtp),
    SUB_PORT: String(instance.submission),
    IMAP_PORT: String(instance.imap),
    LMTP_PORT: String(instance.lmtp),
  };
  if (spawnSync('bash', [join(anchor, 'setup.sh')], { stdio: 'inherit', env }).status !== 0) return null;
  const pid = (f) => (existsSync(f) ? readFileSync(f, 'utf8').trim() : '');
  return {
    smtp: `127.0.0.1:${instance.smtp}`,
    imap: `127.0.0.1:${instance.imap}`,
    user: 'test@example.test',
    pass: 'pass',
    pids: { smtp: pid(join(instance.dir, 'postfix/spool/pid/master.pid')), imap: pid(join(instance.dir, 'dovecot/run/master.pid')) },
    stop: () => spawnSync('bash', [join(anchor, 'stop.sh')], { stdio: 'inherit', env }),
  };
}

/**
 * `palabre serve` on free loopback ports with a fresh data folder, a domain and a user made with the
 * CLI, and `config` written to palabre.json. The server gets the hard limit of open files (1,000 IDLE
 * connections need them). Returns null if it did not come up.
 */
export async function startPalabre(config = {}) {
  const data = mkdtempSync(join(tmpdir(), 'palabre-bench-'));
  const cli = join(root, 'examples/server/bin/palabre.js');
  const palabre = (args, input) => spawnSync(process.execPath, [cli, '--data', data, ...args], { input, encoding: 'utf8' });
  writeFileSync(join(data, 'palabre.json'), JSON.stringify(config));
  const user = 'test@example.test';
  const pass = 'pass-pass-pass';
  palabre(['domain', 'add', 'example.test']);
  palabre(['user', 'add', user, '--password-stdin'], pass);
  const [smtpPort, subPort, imapPort, httpPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  // The admin listener (metrics) on a port of its own: another server on the machine may hold the default one.
  const args = [cli, '--data', data, 'serve', '--hostname', 'mail.example.test', '--smtp-port', smtpPort, '--submission-port', subPort, '--imap-port', imapPort, '--sieve-port', 0, '--http-port', httpPort, '--admin-port', adminPort].map(String);
  const server = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  const cleanup = async () => {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r)));
    rmSync(data, { recursive: true, force: true });
  };
  if (!(await waitPort(smtpPort)) || !(await waitPort(imapPort, 5000))) {
    console.log('# palabre serve did not start');
    await cleanup();
    return null;
  }
  if (!(await waitPort(httpPort, 5000))) {
    console.log('# palabre serve did not open its HTTP port');
    await cleanup();
    return null;
  }
  return {
    smtp: `127.0.0.1:${smtpPort}`,
    imap: `127.0.0.1:${imapPort}`,
    http: `http://127.0.0.1:${httpPort}`,
    admin: `http://127.0.0.1:${adminPort}`,
    user,
    pass,
    pid: server.pid,
    pids: { smtp: String(server.pid), imap: String(server.pid) },
    stop: cleanup,
  };
}

export const pick = (list, name, field) => list.find((r) => r.name === name)?.[field];

/** `rows`: [label, result name, field, 'higher' | 'lower']; prints palabre / reference. */
export function ratioTable(title, ours, reference, rows) {
  console.log(`\n## ${title}`);
  const fmt = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1)) : 'n/a');
  for (const [label, name, field, better] of rows) {
    const a = pick(ours, name, field);
    const b = pick(reference, name, field);
    const ratio = Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
    const verdict = Number.isFinite(ratio) ? `x${ratio.toFixed(2)} (${better} is better)` : '';
    console.log(`${label.padEnd(44)} palabre ${fmt(a).padStart(9)}   reference ${fmt(b).padStart(9)}   ${verdict}`);
  }
}

/** Resident and peak resident memory of a process in bytes ({ rss, peak }), zeros once it is gone. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

/** SIGTERM to a process we started (by its id), then wait up to 10 s for it to be gone. */
export async function stopPid(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
