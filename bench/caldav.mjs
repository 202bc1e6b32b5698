#!/usr/bin/env node
// `npm run bench caldav`: ../shared/conformance/caldav/bench.sh against `palabre serve` (SQLite, one
// process), Debian's Radicale and Xandikos (the harness's anchors) and Debian's Cyrus IMAP CalDAV
// (bench/_cyrus.mjs), one after the other in one run, each on a 10,000-event calendar at 16 clients:
// calendar-query over one month, calendar-multiget of 100, PUT into the big calendar, initial and empty
// sync-collection. Then each calendar grows to 25,000 events and a PROPFIND Depth 1 lists it. Prints
// every server's figures, the ratios palabre / the faster of Radicale and Xandikos (bar 5x) and palabre
// / Cyrus (bar 1x), p99 at 16 clients (bar 50 ms), and Palabre's memory at 10,000 and 25,000 events.
//
// Seeding: Palabre is seeded by PUT (bench.sh, 16 clients). The references pay for each PUT in proportion
// to the calendar (hours for 10,000: the harness README), so they are loaded in bulk: Radicale by one
// PUT of the whole VCALENDAR on the collection (anchors/fast-seed.py), Xandikos on disk while it is
// stopped (fast-seed.py: no request at all, so it has no seed figure), Cyrus by its own import, a POST of
// a VCALENDAR on the collection (one resource per component), in batches of 1,000. The seed ratios are
// ours by PUT against theirs in bulk.
// A reference that cannot be started is reported as such. Asserts nothing (shared, noisy machine).
// Env: EVENTS (10000), BIG_EVENTS (25000), OP_SECONDS (30 per operation), OP_COUNT (300), CONCURRENCY
// (16), SERVERS (palabre,cyrus,xandikos,radicale), PROPFIND_RUNS (3, fewer past 20 s), PALABRE_SHARED (../shared),
// REF_BUDGET_S (300): a reference's growth to BIG_EVENTS and each of its PROPFINDs are cut past that many
// seconds (Radicale lists 25,000 objects in more than 10 minutes), printed as cut; the ratio is then a
// lower bound (palabre against one request per budget).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startCyrus } from './_cyrus.mjs';
import { freePort, memoryOf, root, startPalabre, stopPid, waitPort } from './_mail-bench.mjs';

const shared = process.env.PALABRE_SHARED ?? join(root, '..', 'shared');
const harness = join(shared, 'conformance', 'caldav');
const PY = process.env.PYTHON ?? '/usr/bin/python3'; // Debian's, the one that has radicale and xandikos
const EVENTS = Number(process.env.EVENTS ?? 10000);
const BIG = Math.max(EVENTS, Number(process.env.BIG_EVENTS ?? 25000));
const CONC = Number(process.env.CONCURRENCY ?? 16);
const OP_SECONDS = process.env.OP_SECONDS ?? '30';
const OP_COUNT = process.env.OP_COUNT ?? '300';
const PROPFIND_RUNS = Number(process.env.PROPFIND_RUNS ?? 3);
const REF_BUDGET_S = Number(process.env.REF_BUDGET_S ?? 300);
const SERVERS = (process.env.SERVERS ?? 'palabre,cyrus,xandikos,radicale').split(',').filter(Boolean);
const work = mkdtempSync(join(tmpdir(), 'palabre-bench-caldav-'));
const log = (...a) => console.log('#', ...a);

// ------------------------------------------------------------------ the events
// bench.mjs writes the events it would PUT (the same seeded mix), named bench-<run>-<i>.ics; the first
// EVENTS are the 10,000 calendar, the rest what it grows by. Two folders of symbolic links, one per part.
const exported = join(work, 'all');
const ex = spawnSync(process.execPath, [join(harness, 'bench.mjs'), 'http://127.0.0.1/', 'x', 'x'], { env: { ...process.env, BENCH_EXPORT_DIR: exported, EVENTS: String(BIG) }, encoding: 'utf8' });
if (ex.status !== 0) throw new Error(`bench.mjs export: ${ex.stderr}`);
const files = readdirSync(exported)
  .filter((f) => f.endsWith('.ics'))
  .sort((a, b) => Number(/-(\d+)\.ics$/.exec(a)[1]) - Number(/-(\d+)\.ics$/.exec(b)[1]));
const parts = { first: join(work, 'first'), rest: join(work, 'rest') };
for (const [name, list] of [
  ['first', files.slice(0, EVENTS)],
  ['rest', files.slice(EVENTS)],
]) {
  mkdirSync(parts[name]);
  for (const f of list) symlinkSync(join(exported, f), join(parts[name], f));
}
const ics = (dir) => readdirSync(dir).map((f) => ({ name: f, body: readFileSync(join(dir, f), 'utf8') }));

// ------------------------------------------------------------------ HTTP
const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
function request(method, url, user, pass, body, headers = {}, timeout = 600_000) {
  return new Promise((resolve, reject) => {
    const h = { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`, ...headers };
    if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
    // The whole request, not the socket's idle time: a server may stream a slow answer byte by byte.
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`${method} past ${timeout / 1000} s`), { cut: true })), timeout);
    const req = http.request(url, { method, agent, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() });
      });
      res.on('error', reject);
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}
async function ok(promise, statuses, what) {
  const r = await promise;
  if (!statuses.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  return r;
}
const mkcalendar = (s, cal) => ok(request('MKCALENDAR', cal, s.user, s.pass), [201], `MKCALENDAR ${cal}`);

/** One VCALENDAR holding the events of `dir` (each VTIMEZONE once), as Radicale's and Cyrus's imports take. */
function oneCalendar(list) {
  const zones = new Map();
  const events = [];
  for (const { body } of list) {
    for (const m of body.matchAll(/BEGIN:VTIMEZONE\r\nTZID:([^\r]+)\r\n[\s\S]*?END:VTIMEZONE\r\n/g)) zones.set(m[1], m[0]);
    events.push(/BEGIN:VEVENT\r\n[\s\S]*?END:VEVENT\r\n/.exec(body)[0]);
  }
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//palabre bench//EN\r\n${[...zones.values()].join('')}${events.join('')}END:VCALENDAR\r\n`;
}

/** PUT each event of `dir` into `cal` with CONC clients; seconds taken. */
async function putAll(s, cal, list) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < list.length) {
        const { name, body } = list[next++];
        await ok(request('PUT', new URL(name, cal), s.user, s.pass, body, { 'content-type': 'text/calendar; charset=utf-8', 'if-none-match': '*' }), [201, 204], 'PUT');
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function cyrusImport(s, cal, list) {
  const t0 = performance.now();
  for (let i = 0; i < list.length; i += 1000) {
    const r = await ok(request('POST', cal, s.user, s.pass, oneCalendar(list.slice(i, i + 1000)), { 'content-type': 'text/calendar; charset=utf-8' }), [200, 207], 'POST import');
    if ((r.body.match(/HTTP\/1\.1 200/g) ?? []).length < Math.min(1000, list.length - i)) throw new Error(`Cyrus import: not every event taken: ${r.body.slice(0, 300)}`);
  }
  return (performance.now() - t0) / 1000;
}

function fastSeed(args, budgetS = Infinity) {
  const t0 = performance.now();
  const r = spawnSync(PY, [join(harness, 'anchors', 'fast-seed.py'), ...args], { encoding: 'utf8', ...(Number.isFinite(budgetS) ? { timeout: budgetS * 1000, killSignal: 'SIGKILL' } : {}) });
  if (r.error?.code === 'ETIMEDOUT' || (r.signal === 'SIGKILL' && Number.isFinite(budgetS))) throw Object.assign(new Error(`fast-seed.py ${args[0]} cut after ${budgetS} s`), { cut: true });
  if (r.status !== 0) throw new Error(`fast-seed.py ${args[0]}: ${r.stdout}${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

/** A reference's step past REF_BUDGET_S: its row says so, with 1 per budget as the bound of its rate. */
const cutRow = (name, error) => ({ name, ok: 0, errors: 0, rps: 1 / REF_BUDGET_S, cut: `${error.message} (cut; its rate is below 1 per ${REF_BUDGET_S} s)` });

/** Run a reference's step within REF_BUDGET_S: a cut step is a row, any other failure is thrown. */
async function budgeted(name, fn) {
  try {
    return await fn();
  } catch (error) {
    if (!error.cut) throw error;
    log(`${name}: ${error.message}: cut`);
    return cutRow(name, error);
  }
}

/** PROPFIND Depth 1 (getetag, getcontenttype) of the calendar, PROPFIND_RUNS times one at a time; `budget` (s) per request. */
async function propfind(s, cal, budget = Infinity) {
  const body = '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>';
  const times = [];
  let items = 0;
  for (let i = 0; i < PROPFIND_RUNS; i++) {
    const t0 = performance.now();
    const r = await ok(request('PROPFIND', cal, s.user, s.pass, body, { depth: '1', 'content-type': 'application/xml; charset=utf-8' }, Number.isFinite(budget) ? budget * 1000 : undefined), [207], 'PROPFIND');
    times.push(performance.now() - t0);
    items = (r.body.match(/<(?:[\w-]+:)?href>[^<]*\.ics<\//g) ?? []).length;
    if (times.reduce((a, b) => a + b, 0) > 20_000) break; // a reference taking minutes per listing: one or two will do
  }
  times.sort((a, b) => a - b);
  return { name: 'propfind_big', ok: times.length, errors: 0, rps: 1000 / times[Math.floor(times.length / 2)], p50_ms: times[Math.floor(times.length / 2)], p99_ms: times.at(-1), items };
}

/** bench.sh on `base` (discovery) or on a seeded calendar (BENCH_CALENDAR); its JSON. */
function benchSh(label, base, s, env) {
  const json = join(work, `${label}.json`);
  log(`bench.sh on ${label}: ${env.BENCH_CALENDAR ?? base}`);
  const r = spawnSync('bash', [join(harness, 'bench.sh'), base, s.user, s.pass], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CONCURRENCY: String(CONC), OP_SECONDS, OP_COUNT, SETTLE_SECONDS: '30', EVENTS: String(EVENTS), BENCH_JSON: json, ...env },
  });
  if (r.status !== 0) log(`bench.sh on ${label} exited ${r.status ?? r.signal}`);
  try {
    return JSON.parse(readFileSync(json, 'utf8'));
  } catch {
    return { results: [], notes: { failed: `bench.sh exited ${r.status ?? r.signal}` } };
  }
}

/** The machine is shared: before each server, wait (up to a minute) for the load to come down. */
async function settle() {
  for (let i = 0; i < 30 && loadavg()[0] > 3; i++) await new Promise((r) => setTimeout(r, 2000));
  log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

function anchor(script, port, state) {
  const r = spawnSync('bash', [join(harness, 'anchors', script), String(port), 'test', 'test'], { encoding: 'utf8', env: { ...process.env, STATE_DIR: state, PYTHON: PY } });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr.trim() || r.stdout.trim()}${readLog(join(state, 'log'))}`);
  return Number(readFileSync(join(state, `${script.replace(/^start-|\.sh$/g, '')}.pid`), 'utf8').trim());
}
const readLog = (f) => {
  try {
    return `: ${readFileSync(f, 'utf8').trim().split('\n').slice(-2).join(' / ')}`;
  } catch {
    return '';
  }
};
// ------------------------------------------------------------------ the servers
const run = {
  /** palabre serve: seeded by bench.sh's PUTs, grown by PUT. */
  async palabre() {
    const p = await startPalabre({});
    if (!p) throw new Error('palabre serve did not start');
    try {
      const s = { user: p.user, pass: p.pass };
      const out = benchSh('palabre', `${p.http}/dav/`, s, { BENCH_KEEP: '1' });
      const at10k = memoryOf(p.pid);
      const cal = new URL(out.calendar, p.http);
      const grow = await putAll(s, cal, ics(parts.rest));
      out.results.push({ name: 'grow_put', seconds: grow, rps: (BIG - EVENTS) / grow, how: 'PUT, 16 clients' });
      out.results.push(await propfind(s, cal));
      out.memory = { at10k, at25k: memoryOf(p.pid) };
      return out;
    } finally {
      await p.stop();
    }
  },
  /** Radicale: one PUT of the whole calendar (fast-seed.py), for 10,000 and again for 25,000. */
  async radicale() {
    const port = await freePort();
    const state = join(work, 'radicale');
    const pid = anchor('start-radicale.sh', port, state);
    try {
      const s = { user: 'test', pass: 'test' };
      const cal = `http://127.0.0.1:${port}/test/bench/`;
      const seed = fastSeed(['radicale', cal, 'test', 'test', parts.first]);
      const out = benchSh('radicale', `http://127.0.0.1:${port}/`, s, { BENCH_CALENDAR: cal });
      out.results.unshift({ name: 'seed_put', seconds: seed, rps: EVENTS / seed, how: 'one PUT of the whole calendar' });
      const grow = await budgeted('grow_put', () => {
        const seconds = fastSeed(['radicale', cal, 'test', 'test', exported], REF_BUDGET_S);
        return { name: 'grow_put', seconds, rps: (BIG - EVENTS) / seconds, how: `one PUT of all ${BIG} (it replaces the collection)` };
      });
      out.results.push(grow);
      out.results.push(grow.cut ? cutRow('propfind_big', new Error(`not grown to ${BIG}`)) : await budgeted('propfind_big', () => propfind(s, cal, REF_BUDGET_S)));
      return out;
    } finally {
      await stopPid(pid);
    }
  },
  /** Xandikos: loaded on disk while stopped (fast-seed.py), then restarted on a fresh port: the one it just
   * left may still be held (EADDRINUSE) by its sockets closing. */
  async xandikos() {
    let port = await freePort();
    const state = join(work, 'xandikos');
    let pid = anchor('start-xandikos.sh', port, state);
    const calOf = () => `http://127.0.0.1:${port}/test/calendars/bench/`;
    try {
      const s = { user: 'test', pass: 'test' };
      await mkcalendar(s, calOf());
      const onDisk = join(state, 'data', 'test', 'calendars', 'bench');
      const reload = async (dir) => {
        await stopPid(pid);
        fastSeed(['xandikos', onDisk, dir]);
        port = await freePort();
        pid = anchor('start-xandikos.sh', port, state);
        if (!(await waitPort(port))) throw new Error('xandikos did not come back');
      };
      await reload(parts.first);
      const out = benchSh('xandikos', `http://127.0.0.1:${port}/`, s, { BENCH_CALENDAR: calOf() });
      await reload(parts.rest);
      out.results.push(await budgeted('propfind_big', () => propfind(s, calOf(), REF_BUDGET_S)));
      return out;
    } finally {
      await stopPid(pid);
    }
  },
  /** Cyrus: its POST import, 1,000 events a request. */
  async cyrus() {
    const c = await startCyrus();
    try {
      const cal = new URL('bench/', c.url);
      await mkcalendar(c, cal);
      const seed = await cyrusImport(c, cal, ics(parts.first));
      const out = benchSh('cyrus', c.url, c, { BENCH_CALENDAR: cal.href });
      out.results.unshift({ name: 'seed_put', seconds: seed, rps: EVENTS / seed, how: 'POST import, 1,000 events a request' });
      const grow = await cyrusImport(c, cal, ics(parts.rest));
      out.results.push({ name: 'grow_put', seconds: grow, rps: (BIG - EVENTS) / grow, how: 'POST import, 1,000 events a request' });
      out.results.push(await budgeted('propfind_big', () => propfind(c, cal, REF_BUDGET_S)));
      out.version = c.version;
      return out;
    } finally {
      await c.stop();
    }
  },
};

const results = {};
const failures = {};
try {
  for (const name of SERVERS) {
    await settle();
    log(`${name}: start`);
    const t0 = performance.now();
    try {
      results[name] = await run[name]();
      const sizes = results[name].results.filter((r) => ['seed_put', 'grow_put', 'propfind_big'].includes(r.name));
      log(`${name}: ${sizes.map((r) => (r.cut ? `${r.name} ${r.cut}` : `${r.name} ${r.rps.toFixed(2)}/s${r.items ? ` (p50 ${r.p50_ms.toFixed(0)} ms, ${r.items} objects)` : ''}`)).join(', ')}`);
      if (results[name].memory) log(`${name}: memory ${JSON.stringify(results[name].memory)}`);
    } catch (error) {
      failures[name] = error.message;
      log(`${name} could not be measured: ${error.message}`);
    }
    log(`${name}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
} finally {
  agent.destroy();
  // A reference cut mid-write (Radicale's fast-seed past its budget) may still be writing there: retried, and
  // a folder left behind does not cost the report.
  try {
    rmSync(work, { recursive: true, force: true, maxRetries: 5 });
  } catch (error) {
    log(`could not remove ${work}: ${error.message}`);
  }
}

// ------------------------------------------------------------------ report
const get = (server, op) => results[server]?.results.find((r) => r.name === op);
const fmt = (v, d = 1) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(d)) : '-');
const OPS = [
  ['seed_put', `seed ${EVENTS} events, events/s`],
  ['query_month', 'calendar-query, one month, req/s'],
  ['multiget_100', 'calendar-multiget of 100, req/s'],
  ['put_new', `PUT into the ${EVENTS}-event calendar, req/s`],
  ['sync_empty', 'sync-collection, empty delta, req/s'],
  ['sync_initial', `sync-collection, initial (${EVENTS} hrefs), req/s`],
  ['grow_put', `grow to ${BIG} events, events/s`],
  ['propfind_big', `PROPFIND Depth 1 of ${BIG}, req/s`],
];
const cell = (server, op) => {
  const r = get(server, op);
  if (!r) return failures[server] ? 'not started' : '-';
  if (r.cut) return `cut past ${REF_BUDGET_S} s`;
  const lat = Number.isFinite(r.p50_ms) ? ` (${fmt(r.p50_ms)}/${fmt(r.p99_ms)} ms)` : '';
  return `${fmt(r.rps)}${lat}${r.errors ? ` ${r.errors} err` : ''}`;
};
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
console.log(`\n## CalDAV, ${EVENTS} then ${BIG} events, ${CONC} clients (req/s, p50/p99 ms); one run on a shared machine`);
console.log(`| operation | ${SERVERS.join(' | ')} | palabre / best of Radicale, Xandikos (bar 5) | palabre / Cyrus (bar 1) |`);
console.log(`|---|${SERVERS.map(() => '---|').join('')}---|---|`);
for (const [op, label] of OPS) {
  const ours = get('palabre', op)?.rps;
  const refs = ['radicale', 'xandikos'].map((s) => get(s, op)).filter((r) => Number.isFinite(r?.rps));
  const best = refs.reduce((a, r) => (a && a.rps >= r.rps ? a : r), null);
  const a = ratio(ours, best?.rps);
  const b = ratio(ours, get('cyrus', op)?.rps);
  // Against a cut reference the ratio is a lower bound: its rate was below one request per budget.
  const verdict = (x, bar, cut) => (Number.isFinite(x) ? `${cut ? '>' : ''}${x.toFixed(2)} ${x >= bar ? 'met' : 'MISS'}` : '-');
  console.log(`| ${label} | ${SERVERS.map((s) => cell(s, op)).join(' | ')} | ${verdict(a, 5, best?.cut)} | ${verdict(b, 1, get('cyrus', op)?.cut)} |`);
}
for (const s of SERVERS) {
  const how = ['seed_put', 'grow_put'].map((op) => get(s, op)?.how && `${op}: ${get(s, op).how}`).filter(Boolean);
  const notes = results[s]?.notes ? Object.entries(results[s].notes).map(([k, v]) => `${k}: ${v}`) : [];
  if (failures[s]) console.log(`# ${s}: not measured: ${failures[s]}`);
  for (const r of results[s]?.results ?? []) if (r.cut) console.log(`# ${s}: ${r.name} ${r.cut}`);
  // Once per server, not once per result.
  if (results[s]) console.log(`# ${s}${results[s].version ? ` ${results[s].version}` : ''}: ${[...how, ...notes, `PROPFIND listed ${get(s, 'propfind_big')?.items ?? '-'} objects`].join('; ')}`);
  if (s === 'xandikos' && results[s]) console.log('# xandikos: seeded on disk, not through the server (no seed figure)');
}
const ours = results.palabre;
if (ours) {
  const p99 = OPS.map(([op]) => get('palabre', op)).filter((r) => r?.conc === CONC && Number.isFinite(r.p99_ms));
  console.log(`palabre p99 at ${CONC} clients: ${p99.map((r) => `${r.name} ${fmt(r.p99_ms)} ms`).join(', ')} (bar 50 ms: ${p99.every((r) => r.p99_ms < 50) ? 'met' : 'MISS'})`);
  const { at10k, at25k } = ours.memory;
  const mib = (b) => `${(b / 1024 ** 2).toFixed(0)} MiB`;
  console.log(`palabre memory: at ${EVENTS} events (after the operations) RSS ${mib(at10k.rss)}, peak ${mib(at10k.peak)}; at ${BIG} (after the PROPFIND) RSS ${mib(at25k.rss)}, peak ${mib(at25k.peak)}: x${(at25k.rss / at10k.rss).toFixed(2)}`);
}
process.exit(Object.keys(failures).length ? 1 : 0);
