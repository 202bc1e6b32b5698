#!/usr/bin/env node
// SMTP intake and delivery, side by side in one run: the Postfix + Dovecot reference
// (../shared/conformance/mail/anchor/setup.sh) and `palabre serve`, each measured with
// ../shared/conformance/mail/bench.sh (phases smtp and deliver), then the ratios.
// Env: BENCH_PHASES (default "smtp deliver"), SMTP_MSGS, SMTP_CONC, MSG_SIZE, DELIVER_MSGS (passed on).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const harness = process.env.MAIL_HARNESS ?? join(root, '..', 'shared', 'conformance', 'mail');
const phases = (process.env.BENCH_PHASES ?? 'smtp deliver').split(/\s+/).filter(Boolean);
if (!existsSync(join(harness, 'bench.sh'))) {
  console.log(`mail harness not found at ${harness}`);
  process.exit(1);
}
const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const waitPort = async (port, ms = 30000) => {
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
};

function runBench(label, smtp, imap, user, pass, pids) {
  const json = join(tmpdir(), `bench-${label}-${process.pid}.json`);
  rmSync(json, { force: true });
  console.log(`\n## ${label}: SMTP ${smtp}, IMAP ${imap}`);
  const r = spawnSync('bash', [join(harness, 'bench.sh'), smtp, imap, user, pass, ...phases], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_JSON: json, SMTP_PID: pids.smtp ?? '', IMAP_PID: pids.imap ?? '' },
  });
  if (r.status !== 0) console.log(`# bench.sh for ${label} exited ${r.status}`);
  try {
    return JSON.parse(readFileSync(json, 'utf8'));
  } catch {
    return [];
  }
}

// ---- reference: Postfix + Dovecot ----
const anchor = join(harness, 'anchor');
let reference = [];
if (spawnSync('bash', [join(anchor, 'setup.sh')], { stdio: 'inherit' }).status === 0) {
  const pid = (f) => (existsSync(f) ? readFileSync(f, 'utf8').trim() : '');
  reference = runBench('reference (Postfix + Dovecot)', '127.0.0.1:2525', '127.0.0.1:1143', 'test@example.test', 'pass', {
    smtp: pid('/tmp/mail-anchor/postfix/spool/pid/master.pid'),
    imap: pid('/tmp/mail-anchor/dovecot/run/master.pid'),
  });
  spawnSync('bash', [join(anchor, 'stop.sh')], { stdio: 'inherit' });
} else console.log('# the reference did not start (needs root and install-deps.sh)');

// ---- palabre serve ----
const data = mkdtempSync(join(tmpdir(), 'palabre-bench-'));
const palabre = (args, input) =>
  spawnSync(process.execPath, [join(root, 'examples/server/bin/palabre.js'), '--data', data, ...args], { input, encoding: 'utf8' });
// Like the reference (rate limits off for loopback), and loopback may use the hosted sender on the MX.
writeFileSync(
  join(data, 'palabre.json'),
  JSON.stringify({ smtp: { trustedNetworks: ['127.0.0.1/32'], limits: { connectionRatePerIp: 0, messagesPerIpPerHour: 0, connectionsPerIp: 0 } } }),
);
palabre(['domain', 'add', 'example.test']);
palabre(['user', 'add', 'test@example.test', '--password-stdin'], 'pass-pass-pass');
const [smtpPort, subPort, imapPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
const server = spawn(
  process.execPath,
  [join(root, 'examples/server/bin/palabre.js'), '--data', data, 'serve', '--hostname', 'mail.example.test', '--smtp-port', smtpPort, '--submission-port', subPort, '--imap-port', imapPort, '--http-port', httpPort].map(String),
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } },
);
let ours = [];
if ((await waitPort(smtpPort)) && (await waitPort(imapPort, 5000))) {
  ours = runBench('palabre serve', `127.0.0.1:${smtpPort}`, `127.0.0.1:${imapPort}`, 'test@example.test', 'pass-pass-pass', { smtp: String(server.pid), imap: String(server.pid) });
} else console.log(`# palabre serve: ${(await waitPort(smtpPort, 1)) ? 'no IMAP listener (the IMAP server is needed for the deliver phase and visibility)' : 'did not start'}`);
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(data, { recursive: true, force: true });

// ---- ratios ----
const pick = (list, name, field) => list.find((r) => r.name === name)?.[field];
const rows = [
  ['accepted msg/s (smtp-source)', 'smtp.smtp-source', 'acceptMsgS', 'higher'],
  ['visible over IMAP msg/s (smtp-source)', 'smtp.smtp-source', 'deliveredMsgS', 'higher'],
  ['accepted msg/s (nodemailer pool)', 'smtp.nodemailer-pool', 'acceptMsgS', 'higher'],
  ['visible over IMAP msg/s (nodemailer)', 'smtp.nodemailer-pool', 'deliveredMsgS', 'higher'],
  ['SMTP 250 -> IDLE p50 ms', 'deliver.smtp-to-imap', 'p50', 'lower'],
  ['SMTP 250 -> IDLE p99 ms', 'deliver.smtp-to-imap', 'p99', 'lower'],
];
console.log('\n## palabre / reference');
for (const [label, name, field, better] of rows) {
  const a = pick(ours, name, field);
  const b = pick(reference, name, field);
  const ratio = Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : 'n/a';
  console.log(`${label.padEnd(40)} palabre ${Number.isFinite(a) ? a.toFixed(1) : 'n/a'}  reference ${Number.isFinite(b) ? b.toFixed(1) : 'n/a'}  ratio ${ratio} (${better} is better)`);
}
