#!/usr/bin/env node
// Issue 15 §3 (faults), run by ../cluster-faults.sh: two `palabre serve` nodes behind HAProxy on a
// PostgreSQL cluster of this script's own (initdb in a temp folder, so that restarting it touches no
// other test's database), under a mixed load of SMTP submissions and WebDAV uploads through the
// balancer. Mid-load, node A is killed with SIGKILL (and started again), then PostgreSQL is stopped for
// a few seconds and started again. Every message and file a client was told was stored (250, 201/204)
// must be there afterwards, byte for byte, and once; while the database is down the nodes must answer
// with a temporary error (SMTP 4xx, HTTP 503), never another 5xx or a crash; afterwards they must serve
// again without a restart. Prints the counts and "N passed, M failed". Needs root (to run PostgreSQL's
// initdb as the postgres user), haproxy and PostgreSQL's server binaries (PG_BIN).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { CLI, freePort, haproxyConfig, startHaproxy, startNode as startPalabre, stopProcess } from '../../../scripts/cluster.mjs';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const USER = 'charge@example.test';
const PASS = `p${randomBytes(12).toString('base64url')}`;
const LOAD_MS = Number(process.env.FAULT_LOAD_MS ?? 24_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let passed = 0;
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (ok) passed++;
  else failed++;
};

const dir = mkdtempSync(join(tmpdir(), 'palabre-faults-'));
chmodSync(dir, 0o755);
const pgData = join(dir, 'pg');
const pgPort = await freePort();
const asPostgres = (args) => spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')], { encoding: 'utf8' });
const pgCtl = (...args) => asPostgres([join(PG_BIN, 'pg_ctl'), '-D', pgData, '-w', '-t', '60', ...args]);
const children = [];
let haproxyPid = 0;

async function main() {
  // A PostgreSQL of our own on a free loopback port.
  spawnSync('install', ['-d', '-o', 'postgres', '-g', 'postgres', pgData]);
  const init = asPostgres([join(PG_BIN, 'initdb'), '-D', pgData, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const pgOpts = `-p ${pgPort} -k ${pgData} -c listen_addresses=127.0.0.1 -c fsync=on`;
  const start = () => pgCtl('-o', pgOpts, '-l', join(pgData, 'log'), 'start');
  if (start().status !== 0) throw new Error(`PostgreSQL did not start: ${readFileSync(join(pgData, 'log'), 'utf8').slice(-500)}`);
  const databaseUrl = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
  const env = { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' };
  const data = join(dir, 'data');
  mkdirSync(data);
  const cli = (args, input) => spawnSync(process.execPath, [CLI, '--data', data, ...args], { env, input, encoding: 'utf8' });
  for (const [args, input] of [
    [['domain', 'add', 'example.test']],
    [['user', 'add', USER, '--password-stdin'], PASS],
  ]) {
    const r = cli(args, input);
    if (r.status !== 0) throw new Error(`palabre ${args.join(' ')}: ${r.stderr}`);
  }
  writeFileSync(join(data, 'palabre.json'), JSON.stringify({ connections: { perAddress: 0 }, smtp: { limits: { messagesPerUserPerHour: 0, recipientsPerUserPerHour: 0 } } }));

  const nodes = { a: {}, b: {} };
  const startNode = async (name) => {
    const started = await startPalabre({ data, env, port: nodes[name].port, log: join(dir, `node-${name}.log`) });
    nodes[name] = started;
    children.push(started.proc);
  };
  await startNode('a'); // first: it makes the data folder's certificate
  await startNode('b');

  const front = { http: await freePort(), sub: await freePort(), imap: await freePort() };
  // Health checks take a dead node out within a few hundred milliseconds; redispatch retries elsewhere.
  const servers = (listener) => ['a', 'b'].map((name) => [name, nodes[name].port[listener]]);
  const cfg = haproxyConfig({
    dir,
    checks: true,
    http: { port: front.http, servers: servers('http') },
    tcp: { sub: { port: front.sub, servers: servers('submission') }, imap: { port: front.imap, servers: servers('imap') } },
  });
  haproxyPid = await startHaproxy(dir, cfg);
  await sleep(1000);

  // The load: 4 submission clients and 4 upload clients, each retrying after any failure.
  const auth = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
  const davBase = `http://127.0.0.1:${front.http}/dav/files/${USER}/faults/`;
  const mk = await fetch(davBase, { method: 'MKCOL', headers: { authorization: auth } });
  if (mk.status !== 201) throw new Error(`MKCOL answered ${mk.status}`);
  const acked = { messages: new Set(), files: new Map() };
  const seen = { smtp: new Map(), http: new Map() };
  const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
  let stop = false;
  let outage = false;
  const outageAnswers = { smtp: new Map(), http: new Map() };
  let seq = 0;
  const mailer = async () => {
    let transport = null;
    while (!stop) {
      transport ??= nodemailer.createTransport({ host: '127.0.0.1', port: front.sub, secure: false, auth: { user: USER, pass: PASS }, tls: { rejectUnauthorized: false }, pool: false, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 10000 });
      const id = `fault-${++seq}-${randomBytes(4).toString('hex')}@example.test`;
      try {
        await transport.sendMail({ from: USER, to: USER, subject: id, messageId: `<${id}>`, text: `message ${id}\n${'x'.repeat(2000)}` });
        acked.messages.add(id);
        count(seen.smtp, '250');
      } catch (error) {
        const code = error.responseCode ? String(error.responseCode) : (error.code ?? 'error');
        count(seen.smtp, code);
        if (outage) count(outageAnswers.smtp, code);
        transport.close();
        transport = null;
        await sleep(100);
      }
    }
    transport?.close();
  };
  const uploader = async (k) => {
    let i = 0;
    while (!stop) {
      const name = `w${k}-${++i}.bin`;
      const body = randomBytes(48 * 1024 + Math.floor(Math.random() * 16 * 1024));
      try {
        const r = await fetch(davBase + name, { method: 'PUT', headers: { authorization: auth }, body, signal: AbortSignal.timeout(10_000) });
        await r.arrayBuffer();
        count(seen.http, String(r.status));
        if (outage) count(outageAnswers.http, String(r.status));
        if (r.status === 201 || r.status === 204) acked.files.set(name, createHash('sha256').update(body).digest('hex'));
        else await sleep(100);
      } catch (error) {
        count(seen.http, error.name ?? 'error');
        await sleep(100);
      }
    }
  };
  const load = [...Array.from({ length: 4 }, () => mailer()), ...Array.from({ length: 4 }, (_, k) => uploader(k))];

  const t0 = Date.now();
  const at = (ms) => sleep(Math.max(0, t0 + ms - Date.now()));
  await at(LOAD_MS * 0.2);
  const beforeKill = { messages: acked.messages.size, files: acked.files.size };
  nodes.a.proc.kill('SIGKILL');
  console.log(`# t=${Date.now() - t0} ms: node a killed with SIGKILL (${beforeKill.messages} messages and ${beforeKill.files} files acknowledged so far)`);
  await at(LOAD_MS * 0.35);
  await startNode('a');
  console.log(`# t=${Date.now() - t0} ms: node a started again`);
  await at(LOAD_MS * 0.5);
  const beforeOutage = { messages: acked.messages.size, files: acked.files.size };
  if (pgCtl('-m', 'fast', 'stop').status !== 0) throw new Error('pg_ctl stop failed');
  outage = true;
  console.log(`# t=${Date.now() - t0} ms: PostgreSQL stopped`);
  await sleep(4000);
  outage = false;
  const duringOutage = { messages: acked.messages.size - beforeOutage.messages, files: acked.files.size - beforeOutage.files };
  if (start().status !== 0) throw new Error('PostgreSQL did not start again');
  const afterOutage = { messages: acked.messages.size, files: acked.files.size };
  console.log(`# t=${Date.now() - t0} ms: PostgreSQL started again`);
  await at(LOAD_MS);
  stop = true;
  await Promise.all(load);
  console.log(`# SMTP answers: ${JSON.stringify(Object.fromEntries(seen.smtp))}; HTTP answers: ${JSON.stringify(Object.fromEntries(seen.http))}`);
  console.log(`# while PostgreSQL was down: SMTP ${JSON.stringify(Object.fromEntries(outageAnswers.smtp))}, HTTP ${JSON.stringify(Object.fromEntries(outageAnswers.http))}`);

  check(acked.messages.size > beforeKill.messages && acked.files.size > beforeKill.files, `the load went on after node a was killed (${beforeKill.messages} → ${acked.messages.size} messages, ${beforeKill.files} → ${acked.files.size} files)`);
  check(acked.messages.size > afterOutage.messages && acked.files.size > afterOutage.files, `both nodes served again after PostgreSQL came back, without a restart (${afterOutage.messages} → ${acked.messages.size} messages, ${afterOutage.files} → ${acked.files.size} files)`);
  console.log(`# acknowledged while PostgreSQL was down: ${duringOutage.messages} messages, ${duringOutage.files} files (answers in flight at the stop)`);
  const bad = [...outageAnswers.http.keys()].filter((s) => /^5\d\d$/.test(s) && s !== '503');
  check(bad.length === 0, `WebDAV answered 503 (or nothing) while PostgreSQL was down, never another 5xx (${[...outageAnswers.http.keys()].join(', ') || 'no answers'})`);
  const smtpBad = [...outageAnswers.smtp.keys()].filter((c) => /^5\d\d$/.test(c));
  check(smtpBad.length === 0, `SMTP answered with temporary errors while PostgreSQL was down, never a 5xx (${[...outageAnswers.smtp.keys()].join(', ') || 'no answers'})`);
  check(nodes.a.proc.exitCode === null && nodes.b.proc.exitCode === null, 'both nodes are still running');

  // What is there: every acknowledged message over IMAP, every acknowledged file over WebDAV.
  const imap = new ImapFlow({ host: '127.0.0.1', port: front.imap, secure: false, auth: { user: USER, pass: PASS }, tls: { rejectUnauthorized: false }, logger: false });
  await imap.connect();
  const present = new Map();
  try {
    await imap.mailboxOpen('INBOX');
    for await (const m of imap.fetch('1:*', { envelope: true })) present.set(m.envelope.subject, (present.get(m.envelope.subject) ?? 0) + 1);
  } finally {
    await imap.logout();
  }
  const missingMessages = [...acked.messages].filter((id) => !present.has(id));
  const twice = [...acked.messages].filter((id) => (present.get(id) ?? 0) > 1);
  console.log(`# messages: ${acked.messages.size} acknowledged, ${acked.messages.size - missingMessages.length} of them present, ${twice.length} stored twice (${present.size} distinct in INBOX)`);
  check(missingMessages.length === 0, `every acknowledged message is in the mailbox${missingMessages.length ? ` (missing: ${missingMessages.slice(0, 5).join(', ')})` : ''}`);
  check(twice.length === 0, 'no acknowledged message was stored twice');
  let missingFiles = 0;
  let wrongFiles = 0;
  for (const [name, sha] of acked.files) {
    const r = await fetch(davBase + name, { headers: { authorization: auth } });
    if (r.status !== 200) {
      missingFiles++;
      continue;
    }
    if (createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex') !== sha) wrongFiles++;
  }
  console.log(`# files: ${acked.files.size} acknowledged, ${acked.files.size - missingFiles} present, ${wrongFiles} with other bytes`);
  check(missingFiles === 0 && wrongFiles === 0, 'every acknowledged file is there with its bytes');
}

try {
  await main();
} catch (error) {
  console.log(`FAIL ${error.message}`);
  failed++;
} finally {
  await Promise.all(children.map((c) => stopProcess(c)));
  if (haproxyPid) {
    try {
      process.kill(haproxyPid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  pgCtl('-m', 'immediate', 'stop');
  if (failed) {
    // What the nodes said about the failure (they log warnings and errors only).
    for (const name of ['a', 'b']) {
      const lines = (() => {
        try {
          return readFileSync(join(dir, `node-${name}.log`), 'utf8').split('\n').filter(Boolean);
        } catch {
          return [];
        }
      })();
      // A crash prints its stack before Node's version line: show from the last error on.
      const crash = lines.findLastIndex((l) => /^\S*Error|uncaught|Unhandled/i.test(l));
      const shown = crash >= 0 ? lines.slice(crash, crash + 25) : lines.slice(-15);
      console.log(`# node ${name}: ${crash >= 0 ? 'crash' : 'last log lines'}\n${shown.map((l) => `#   ${l.slice(0, 300)}`).join('\n')}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
