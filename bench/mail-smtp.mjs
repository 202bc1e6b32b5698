#!/usr/bin/env node
// SMTP intake and delivery, side by side: the Postfix + Dovecot reference (../shared/conformance/mail/
// anchor) and `palabre serve`, each measured with ../shared/conformance/mail/bench.sh (phases smtp and
// deliver), runs alternating between the two; then medians and ratios.
// Env: BENCH_RUNS (1), BENCH_PHASES ("smtp deliver"), SMTP_MSGS, SMTP_CONC, MSG_SIZE, DELIVER_MSGS
// (passed to bench.sh). Nothing here asserts a speed: the machine is shared; read the ratios.
// Then the same acceptance with scanning on (BENCH_SCAN=0 skips it): Debian's clamd and two rspamd
// on loopback, so that each side makes exactly one rspamd scan and one clamd scan per message:
// Palabre calls an rspamd without ClamAV, then clamd itself, before its 250; Postfix calls the other
// rspamd as a milter, whose antivirus module (no result cache) calls the same clamd.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ratioTable, runBench, startPalabre, startReference } from './_mail-bench.mjs';

const runs = Math.max(1, Number(process.env.BENCH_RUNS || 1));
const phases = (process.env.BENCH_PHASES ?? 'smtp deliver').split(/\s+/).filter(Boolean);
// Like the reference (no rate limits for loopback clients), and loopback may use the hosted sender on
// the MX (the benchmark sends test@example.test to itself without AUTH).
const config = { smtp: { trustedNetworks: ['127.0.0.1/32'], limits: { connectionRatePerIp: 0, messagesPerIpPerHour: 0 } }, connections: { perAddress: 0 } };
// A separate reference instance (folder and ports), so this never touches one another benchmark runs.
const instance = { dir: '/tmp/mail-anchor-smtp-bench', smtp: 2625, submission: 2687, imap: 1243, lmtp: 2524 };

const ours = [];
const reference = [];
for (let run = 1; run <= runs; run++) {
  console.log(`\n# run ${run} of ${runs}`);
  const ref = startReference(instance);
  if (ref) {
    reference.push(runBench(`reference (Postfix + Dovecot), run ${run}`, { ...ref, phases }));
    ref.stop();
  } else console.log('# the reference did not start (needs root and install-deps.sh)');
  const palabre = await startPalabre(config);
  if (palabre) {
    ours.push(runBench(`palabre serve, run ${run}`, { ...palabre, phases }));
    await palabre.stop();
  }
}

// Median of each (name, field) over the runs.
function medians(all) {
  const out = new Map();
  for (const list of all) for (const r of list) out.set(r.name, [...(out.get(r.name) ?? []), r]);
  return [...out].map(([name, rs]) => {
    const merged = { name };
    for (const key of Object.keys(rs[0])) {
      const values = rs.map((r) => r[key]).filter(Number.isFinite).sort((a, b) => a - b);
      if (values.length) merged[key] = values[Math.floor((values.length - 1) / 2)];
    }
    return merged;
  });
}

ratioTable(`palabre / reference (median of ${runs} run${runs > 1 ? 's' : ''})`, medians(ours), medians(reference), [
  ['accepted msg/s (smtp-source, 10 sessions)', 'smtp.smtp-source', 'acceptMsgS', 'higher'],
  ['visible over IMAP msg/s (smtp-source)', 'smtp.smtp-source', 'deliveredMsgS', 'higher'],
  ['accepted msg/s (nodemailer pool)', 'smtp.nodemailer-pool', 'acceptMsgS', 'higher'],
  ['visible over IMAP msg/s (nodemailer)', 'smtp.nodemailer-pool', 'deliveredMsgS', 'higher'],
  ['per message p50 ms (nodemailer)', 'smtp.nodemailer-pool', 'p50', 'lower'],
  ['SMTP 250 -> IDLE client p50 ms', 'deliver.smtp-to-imap', 'p50', 'lower'],
  ['SMTP 250 -> IDLE client p99 ms', 'deliver.smtp-to-imap', 'p99', 'lower'],
]);

const onPath = (program) => spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
if (process.env.BENCH_SCAN === '0') {
  console.log('\n# scanning benchmark skipped (BENCH_SCAN=0)');
} else if (!onPath('rspamd') || !onPath('redis-server') || !onPath('clamd')) {
  console.log('\n# scanning benchmark skipped: rspamd, redis-server and clamd are not installed (bash .ci/install-deps.sh)');
} else {
  const { startClamd, startRspamd } = await import('@palabre/core/testing');
  const clamd = await startClamd();
  // Ours: no antivirus module (our clamd filter scans); Postfix's milter: rspamd's ClamAV module.
  const [rspamd, milterRspamd] = await Promise.all([startRspamd(), startRspamd({ clamdSocket: clamd.socket })]);
  const scanConfig = { ...config, spam: { rspamd: { url: rspamd.url } }, antivirus: { clamd: { socket: clamd.socket } } };
  const scanOurs = [];
  const scanReference = [];
  try {
    for (let run = 1; run <= runs; run++) {
      console.log(`\n# scanning, run ${run} of ${runs}`);
      const ref = startReference(instance);
      if (ref) {
        const postfixConfig = join(instance.dir, 'postfix', 'etc');
        spawnSync('postconf', ['-c', postfixConfig, '-e', `smtpd_milters=inet:${milterRspamd.milter}`, 'milter_default_action=tempfail', 'milter_protocol=6'], { stdio: 'inherit' });
        spawnSync('postfix', ['-c', postfixConfig, 'reload'], { stdio: 'inherit' });
        await new Promise((r) => setTimeout(r, 2000));
        scanReference.push(runBench(`reference (Postfix + rspamd milter + clamd), run ${run}`, { ...ref, phases: ['smtp'] }));
        ref.stop();
      }
      const palabre = await startPalabre(scanConfig);
      if (palabre) {
        scanOurs.push(runBench(`palabre serve (rspamd + clamd), run ${run}`, { ...palabre, phases: ['smtp'] }));
        await palabre.stop();
      }
    }
    const [ourStat, milterStat] = await Promise.all([rspamd.stat(), milterRspamd.stat()]);
    console.log(`\n# rspamd scanned ${ourStat.scanned} messages for palabre, ${milterStat.scanned} for Postfix's milter`);
  } finally {
    await Promise.all([rspamd.close(), milterRspamd.close()]);
    await clamd.close();
  }
  ratioTable(`with rspamd and ClamAV scanning: palabre / Postfix + rspamd milter (median of ${runs} run${runs > 1 ? 's' : ''})`, medians(scanOurs), medians(scanReference), [
    ['accepted msg/s (smtp-source, 10 sessions)', 'smtp.smtp-source', 'acceptMsgS', 'higher'],
    ['visible over IMAP msg/s (smtp-source)', 'smtp.smtp-source', 'deliveredMsgS', 'higher'],
    ['accepted msg/s (nodemailer pool)', 'smtp.nodemailer-pool', 'acceptMsgS', 'higher'],
    ['per message p50 ms (nodemailer)', 'smtp.nodemailer-pool', 'p50', 'lower'],
  ]);
}
