#!/usr/bin/env node
// 10,000 idle IMAP connections on one `palabre serve` process (issue: 150,000–200,000 mostly idle
// connections for 70,000 agents): ../shared/conformance/mail/bench.sh phase idle with IDLE_CONNS
// (default 10000) — connections per second, the server's RSS/PSS before and after, and the time for
// one SMTP delivery to reach every IDLE connection as EXISTS. The reference's figures at 10,000 would
// be 10,000 Dovecot processes on 2 cores; `npm run bench mail-imap` compares both at 1,000.
// Then the same fan-out again with bench/_raw-idle.mjs, raw sockets instead of imapflow, so that the
// client's own parsing on the same cores does not count as the server's.
// Env: IDLE_CONNS. Nothing here asserts a speed or a size: read the figures.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { harness, root, runBench, startPalabre } from './_mail-bench.mjs';

const conns = Number(process.env.IDLE_CONNS || 10_000);
// One address opens every connection here: no per-address ceiling, and room in the global one.
const config = {
  smtp: { trustedNetworks: ['127.0.0.1/32'], limits: { connectionRatePerIp: 0, messagesPerIpPerHour: 0 } },
  connections: { perAddress: 0, global: conns + 1000 },
  imap: { compress: false },
};
const server = await startPalabre(config);
if (!server) process.exit(1);
let rows = [];
let raw = null;
try {
  rows = runBench(`palabre serve, ${conns} IDLE connections`, { ...server, phases: ['idle'], env: { IDLE_CONNS: String(conns) } });
  // The same fan-out with a client that costs next to nothing per connection (bench/_raw-idle.mjs).
  const [imapPort, smtpPort] = [server.imap, server.smtp].map((hp) => hp.split(':')[1]);
  const r = spawnSync('bash', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, join(root, 'bench', '_raw-idle.mjs'), imapPort, smtpPort, server.user, server.pass, String(conns)], { encoding: 'utf8', timeout: 15 * 60_000 });
  try {
    raw = JSON.parse(r.stdout.trim().split('\n').at(-1));
  } catch {
    console.log(`# raw fan-out run failed: ${r.stderr.slice(-500)}`);
  }
} finally {
  await server.stop();
}
const find = (name) => rows.find((r) => r.name === name);
const mem = find('idle.server-mem');
const fan = find('idle.fanout');
const connect = find('idle.connect');
console.log(`\n## ${conns} IDLE connections on one node (harness ${harness})`);
if (connect) console.log(`connected and idling: ${connect.idling}/${connect.conns} (${connect.failed} failed), ${Math.round(connect.connS)} connections/s`);
if (mem) console.log(`server RSS ${(mem.rssBeforeKiB / 1024).toFixed(0)} -> ${(mem.rssAfterKiB / 1024).toFixed(0)} MiB (bar: under 1024 MiB), ${mem.pssPerConnKiB.toFixed(1)} KiB per connection`);
if (fan) console.log(`one delivery -> EXISTS on ${fan.notified}/${fan.conns}: p50 ${fan.p50?.toFixed(0)} ms, p99 ${fan.p99?.toFixed(0)} ms (bar: all under 1000 ms)`);
if (raw) {
  const f = (v) => (v === null ? '-' : v.toFixed(0));
  console.log(`raw-socket client: ${raw.idling}/${raw.conns} idling (${raw.failed} failed${raw.firstError ? `: ${raw.firstError}` : ''}), ${Math.round(raw.connS)} connections/s`);
  console.log(`one delivery -> EXISTS on ${raw.notified}/${raw.idling}: from the SMTP send p50 ${f(raw.fromSend.p50)} ms, p99 ${f(raw.fromSend.p99)} ms, last ${f(raw.fromSend.max)} ms; from its 250 (after ${f(raw.smtpMs)} ms) p50 ${f(raw.from250.p50)}, p99 ${f(raw.from250.p99)} ms (bar: all under 1000 ms)`);
}
process.exit(mem && fan ? 0 : 1);
