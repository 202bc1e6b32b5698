#!/usr/bin/env node
// IMAP, side by side in one run: the Postfix + Dovecot reference (../shared/conformance/mail/anchor)
// and `palabre serve`, each measured with ../shared/conformance/mail/bench.sh (phases fetch and idle)
// plus bench/_imap-extra.mjs (logins/s, a mixed command load); then medians of the runs and ratios.
// Env: BENCH_RUNS (1), FETCH_MSGS, FETCH_BODIES, IDLE_CONNS (passed to bench.sh), LOGIN_CONNS,
// MIXED_CLIENTS, MIXED_ROUNDS. Nothing here asserts a speed: read the ratios.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { harness, ratioTable, root, runBench, startPalabre, startReference } from './_mail-bench.mjs';

const runs = Math.max(1, Number(process.env.BENCH_RUNS || 1));

// Dovecot needs one inotify instance per IDLE process; with the Linux default (128 per user) its
// fan-out falls back to 30 s polling. Raise it for the run (as the harness README says), then restore.
const INOTIFY = '/proc/sys/fs/inotify/max_user_instances';
let inotifyBefore = null;
try {
  inotifyBefore = readFileSync(INOTIFY, 'utf8').trim();
  if (Number(inotifyBefore) < 2048) writeFileSync(INOTIFY, '2048');
} catch {
  console.log(`# could not raise ${INOTIFY} (${inotifyBefore}): the reference's IDLE fan-out may poll every 30 s`);
}

function extra(label, imap, user, pass) {
  console.log(`\n## ${label}: logins and mixed load on ${imap}`);
  const r = spawnSync(process.execPath, [join(root, 'bench', '_imap-extra.mjs'), imap, user, pass], { encoding: 'utf8', env: process.env });
  process.stdout.write(r.stdout.split('\n').slice(0, -2).join('\n') + '\n');
  if (r.status !== 0) console.log(`# _imap-extra for ${label} exited ${r.status}: ${r.stderr.slice(-400)}`);
  try {
    const json = JSON.parse(r.stdout.trim().split('\n').pop());
    return [
      { name: 'extra.logins', ...json.logins },
      { name: 'extra.mixed', ...json.mixed },
    ];
  } catch {
    return [];
  }
}

/** fetch (builds bench-10000), then logins and the mixed load on it, then idle (1,000 connections last). */
function measure(label, server) {
  return [
    ...runBench(label, { ...server, phases: ['fetch'] }),
    ...extra(label, server.imap, server.user, server.pass),
    ...runBench(label, { ...server, phases: ['idle'] }),
  ];
}

/** Median per (name, field) over several runs. */
function median(runsOf) {
  if (runsOf.length === 1) return runsOf[0];
  const out = [];
  const names = [...new Set(runsOf.flat().map((r) => r.name))];
  for (const name of names) {
    const rows = runsOf.map((list) => list.find((r) => r.name === name)).filter(Boolean);
    const merged = { name };
    for (const key of Object.keys(rows[0])) {
      if (key === 'name') continue;
      const values = rows.map((r) => r[key]).filter(Number.isFinite).sort((a, b) => a - b);
      merged[key] = values.length ? values[Math.floor((values.length - 1) / 2)] : rows[0][key];
    }
    out.push(merged);
  }
  return out;
}

/** The machine is shared: before each server, wait (up to a minute) for the load to come down. */
async function settle() {
  const cores = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || 2;
  for (let i = 0; i < 30 && loadavg()[0] > cores * 1.5; i++) await new Promise((r) => setTimeout(r, 2000));
  console.log(`\n# load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

async function referenceRun() {
  // Its own reference instance (folder and ports), apart from the one bench/mail-smtp.mjs uses.
  const ref = startReference({ dir: '/tmp/mail-anchor-imap', smtp: 12525, submission: 12587, imap: 11143, lmtp: 12424 });
  if (!ref) {
    console.log('# the reference did not start (needs root and the packages of install-deps.sh)');
    return;
  }
  try {
    referenceRuns.push(measure('reference (Postfix + Dovecot)', ref));
  } finally {
    ref.stop();
  }
}

// Loopback may send as the hosted domain on the MX (the idle phase mails test@example.test to itself).
const smtpLikeReference = { trustedNetworks: ['127.0.0.1/32'], limits: { connectionRatePerIp: 0, messagesPerIpPerHour: 0 } };

async function palabreRun() {
  // Configured as the reference is: its Dovecot (anchor/setup.sh) loads no imap_zlib, so offers no
  // COMPRESS, and imapflow compresses whenever it is offered. The run below measures ours with it.
  const config = { smtp: smtpLikeReference, imap: { compress: false }, connections: { perAddress: 0 } };
  const ours = await startPalabre(config);
  if (!ours) return;
  const results = [];
  try {
    results.push(...runBench('palabre serve', { ...ours, phases: ['fetch'] }), ...extra('palabre serve', ours.imap, ours.user, ours.pass));
  } finally {
    await ours.stop();
  }
  // IDLE on a fresh process: after the fetch phase its heap has room to spare (and the blob cache holds
  // bodies), so a thousand connections would fit in memory already taken and the per-connection figure
  // would read near zero. Each of the reference's connections is a fresh process anyway.
  const idle = await startPalabre(config);
  if (!idle) return;
  try {
    results.push(...runBench('palabre serve (fresh process)', { ...idle, phases: ['idle'] }));
  } finally {
    await idle.stop();
  }
  oursRuns.push(results);
  await settle();
  const compressed = await startPalabre({ smtp: smtpLikeReference, connections: { perAddress: 0 } });
  if (!compressed) return;
  try {
    compressedRuns.push(runBench('palabre serve, COMPRESS=DEFLATE offered (imapflow takes it)', { ...compressed, phases: ['fetch'] }));
  } finally {
    await compressed.stop();
  }
}

const referenceRuns = [];
const oursRuns = [];
const compressedRuns = [];
try {
  for (let i = 0; i < runs; i++) {
    // Alternate who goes first, so neither always inherits the other's leftovers (1,000 IDLE processes).
    const order = i % 2 === 0 ? [referenceRun, palabreRun] : [palabreRun, referenceRun];
    for (const run of order) {
      await settle();
      await run();
    }
  }
} finally {
  if (inotifyBefore !== null) {
    try {
      writeFileSync(INOTIFY, inotifyBefore);
    } catch {
      // not ours to worry about further
    }
  }
}

const reference = median(referenceRuns);
const ours = median(oursRuns);
ratioTable(`palabre / reference (${runs === 1 ? 'one run' : `medians of ${runs} runs`}; harness ${harness})`, ours, reference, [
  ['FETCH 1:* BODY.PEEK[HEADER], msg/s (1st)', 'fetch.headers-all.run1', 'msgS', 'higher'],
  ['FETCH 1:* BODY.PEEK[HEADER], msg/s (2nd)', 'fetch.headers-all.run2', 'msgS', 'higher'],
  ['FETCH 1:* (FLAGS ENVELOPE SIZE), msg/s (1st)', 'fetch.envelope-all.run1', 'msgS', 'higher'],
  ['FETCH 1:* (FLAGS ENVELOPE SIZE), msg/s (2nd)', 'fetch.envelope-all.run2', 'msgS', 'higher'],
  ['100 random full bodies, msg/s', 'fetch.full-body-random', 'msgS', 'higher'],
  ['APPEND 10,000 (4 connections), msg/s', 'fetch.populate-append', 'msgS', 'higher'],
  ['IDLE connect+SELECT, conn/s', 'idle.connect', 'connS', 'higher'],
  ['IDLE server memory, KiB PSS per connection', 'idle.server-mem', 'pssPerConnKiB', 'lower'],
  ['one delivery -> all idlers notified', 'idle.fanout', 'notified', 'higher'],
  ['one delivery -> idlers, p50 ms', 'idle.fanout', 'p50', 'lower'],
  ['one delivery -> idlers, p99 ms', 'idle.fanout', 'p99', 'lower'],
  ['logins/s (LOGIN+LOGOUT, 10 in flight)', 'extra.logins', 'loginsS', 'higher'],
  ['mixed load, commands/s (20 clients)', 'extra.mixed', 'opsS', 'higher'],
  ['mixed load, p50 ms', 'extra.mixed', 'p50', 'lower'],
  ['mixed load, p99 ms', 'extra.mixed', 'p99', 'lower'],
]);
ratioTable('palabre with COMPRESS=DEFLATE / reference (which offers none)', median(compressedRuns), reference, [
  ['FETCH 1:* BODY.PEEK[HEADER], msg/s (2nd)', 'fetch.headers-all.run2', 'msgS', 'higher'],
  ['FETCH 1:* (FLAGS ENVELOPE SIZE), msg/s (2nd)', 'fetch.envelope-all.run2', 'msgS', 'higher'],
  ['100 random full bodies, msg/s', 'fetch.full-body-random', 'msgS', 'higher'],
]);
