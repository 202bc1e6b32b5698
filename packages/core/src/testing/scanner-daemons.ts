import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The EICAR test string (eicar.org): every antivirus' "this is a test" file. */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
/** A byte pattern of our own that the test clamd reports as `Palabre.Test.Pattern` (a second signature beside EICAR). */
export const TEST_MALWARE_PATTERN = 'PALABRE-TEST-MALWARE-PATTERN-7f3c2a91-NOT-A-REAL-VIRUS';
/** rspamd's GTUBE pattern: rejected by any rspamd whatever its rules. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** A port free on loopback now (for a daemon's configuration). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Poll `check` every 200 ms until it holds, or fail naming `what`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface Daemon {
  readonly dir: string;
  close(): Promise<void>;
}

export interface Rspamd extends Daemon {
  readonly url: string;
  readonly controllerUrl: string;
  readonly password: string;
  /** The proxy worker in milter mode, scanning in-process (`host:port` for Postfix's `smtpd_milters`). */
  readonly milter: string;
  /** The loopback port of rspamd's own Redis (Bayes statistics). */
  readonly redisPort: number;
  /** The controller's counters (`/stat`). */
  stat(): Promise<{ scanned: number; learned: number }>;
}

/** The Debian programs `startRspamd` runs (packages rspamd, redis-server), for `skipWithout`. */
export const RSPAMD_PROGRAMS = ['rspamd', 'redis-server'] as const;

/** A Subject containing this makes the test rspamd answer `soft reject` (a forced action of ours). */
export const RSPAMD_SOFT_REJECT = 'PALABRE-TEST-SOFT-REJECT';
/** A Subject containing this makes the test rspamd answer `greylist`. */
export const RSPAMD_GREYLIST = 'PALABRE-TEST-GREYLIST';

/**
 * A Redis of rspamd's own (its Bayes learning has no other backend in rspamd 3): loopback, a free
 * port, no persistence, in rspamd's temp folder, so that a test never reads nor writes the machine's.
 */
async function startRedis(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'],
    { cwd: dir, stdio: 'ignore' },
  );
  const answers = () =>
    new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => c.write('PING\r\n'));
      c.once('data', (d) => {
        c.destroy();
        resolve(d.toString('latin1').startsWith('+PONG'));
      });
      c.once('error', () => resolve(false));
    });
  try {
    await until(answers, 30_000, 'redis-server');
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { port, child };
}

/**
 * Debian's rspamd with its stock rules, run on loopback from a temp folder: our own workers' ports,
 * no greylisting module (tests are not a day long), DNS pointed at a closed port so that network
 * lookups fail at once, Bayes in a Redis of its own (`startRedis`). Two test-only rules force the
 * `soft reject` and `greylist` actions on a Subject carrying `RSPAMD_SOFT_REJECT` / `RSPAMD_GREYLIST`.
 */
export async function startRspamd(options: { readonly clamdSocket?: string } = {}): Promise<Rspamd> {
  const dir = await mkdtemp(join(tmpdir(), 'palabre-rspamd-'));
  const [normal, controller, proxy, fuzzy] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const password = 'palabre-test';
  for (const sub of ['local.d', 'override.d', 'run', 'db', 'log', 'redis']) await mkdir(join(dir, sub));
  let redis: { port: number; child: ChildProcess };
  try {
    redis = await startRedis(join(dir, 'redis'));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const files: Record<string, string> = {
    'local.d/worker-normal.inc': `bind_socket = "127.0.0.1:${normal}";\ncount = 1;\n`,
    'local.d/worker-controller.inc': `bind_socket = "127.0.0.1:${controller}";\npassword = "${password}";\nenable_password = "${password}";\ncount = 1;\n`,
    // Merged with Debian's milter defaults; self_scan: the proxy scans itself instead of forwarding
    // to a normal worker on rspamd's default port.
    'local.d/worker-proxy.inc': `bind_socket = "127.0.0.1:${proxy}";\ncount = 1;\nupstream "local" { default = yes; self_scan = yes; }\n`,
    'override.d/worker-fuzzy.inc': `bind_socket = "127.0.0.1:${fuzzy}";\ncount = -1;\n`,
    'local.d/redis.conf': `servers = "127.0.0.1:${redis.port}";\n`,
    'local.d/multimap.conf': [RSPAMD_SOFT_REJECT, RSPAMD_GREYLIST]
      .map((word) => `${ruleName(word)} { type = "header"; header = "Subject"; regexp = true; map = "${join(dir, `${word}.map`)}"; score = 0.0; }\n`)
      .join(''),
    'local.d/force_actions.conf': `rules {\n${[
      [RSPAMD_SOFT_REJECT, 'soft reject'],
      [RSPAMD_GREYLIST, 'greylist'],
    ]
      .map(([word, action]) => `  ${ruleName(word!)}_ACTION { action = "${action}"; expression = "${ruleName(word!)}"; message = "Palabre test: ${action}"; }\n`)
      .join('')}}\n`,
    [`${RSPAMD_SOFT_REJECT}.map`]: `/${RSPAMD_SOFT_REJECT}/\n`,
    [`${RSPAMD_GREYLIST}.map`]: `/${RSPAMD_GREYLIST}/\n`,
    'local.d/classifier-bayes.conf': 'min_learns = 1;\nmin_tokens = 1;\n',
    'local.d/greylist.conf': 'enabled = false;\n',
    'local.d/options.inc': 'dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 0; }\n',
    'local.d/logging.inc': `type = "file";\nfilename = "${join(dir, 'log', 'rspamd.log')}";\nlevel = "error";\n`,
  };
  if (options.clamdSocket) {
    // The whole message, not only attachments: the same bytes our own clamd filter sends; no_cache:
    // every message goes to clamd, as ours does (rspamd would otherwise keep verdicts in Redis).
    files['local.d/antivirus.conf'] = `clamav {\n  type = "clamav";\n  servers = "${options.clamdSocket}";\n  action = "reject";\n  scan_mime_parts = false;\n  no_cache = true;\n  symbol = "CLAM_VIRUS";\n}\n`;
  }
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const child = spawn(
    'rspamd',
    [
      '-f',
      '-i',
      '-c',
      '/etc/rspamd/rspamd.conf',
      `--var=LOCAL_CONFDIR=${dir}`,
      `--var=RUNDIR=${join(dir, 'run')}`,
      `--var=DBDIR=${join(dir, 'db')}`,
      `--var=LOGDIR=${join(dir, 'log')}`,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${normal}`;
  const controllerUrl = `http://127.0.0.1:${controller}`;
  const ping = (base: string) =>
    fetch(`${base}/ping`).then(
      (r) => r.ok,
      () => false,
    );
  try {
    await until(async () => (await ping(url)) && (await ping(controllerUrl)), 90_000, 'rspamd');
  } catch (error) {
    await Promise.all([stopChild(child), stopChild(redis.child)]);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    url,
    controllerUrl,
    password,
    milter: `127.0.0.1:${proxy}`,
    async stat() {
      const s = (await (await fetch(`${controllerUrl}/stat`, { headers: { Password: password } })).json()) as {
        scanned: number;
        learned: number;
      };
      return { scanned: s.scanned, learned: s.learned };
    },
    redisPort: redis.port,
    async close() {
      await stopChild(child);
      await stopChild(redis.child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `PALABRE-TEST-SOFT-REJECT` → `PALABRE_TEST_SOFT_REJECT`: the symbol of the rule matching it. */
const ruleName = (word: string) => word.replace(/-/g, '_');

export interface Clamd extends Daemon {
  readonly socket: string;
  /** clamd's process (to pause it with SIGSTOP: a scanner that accepts and never answers). */
  readonly pid: number;
}

/**
 * Debian's clamd on a Unix socket in a temp folder, with a signature database made for the test (no
 * download exists here): EICAR and `TEST_MALWARE_PATTERN`, found in raw bytes and in decoded MIME parts alike.
 */
export async function startClamd(): Promise<Clamd> {
  const dir = await mkdtemp(join(tmpdir(), 'palabre-clamd-'));
  await mkdir(join(dir, 'db'));
  const hex = (text: string) => Buffer.from(text, 'latin1').toString('hex');
  await writeFile(
    join(dir, 'db', 'palabre-test.ndb'),
    `Palabre.Test.EICAR:0:*:${hex(EICAR)}\nPalabre.Test.Pattern:0:*:${hex(TEST_MALWARE_PATTERN)}\n`,
  );
  const socket = join(dir, 'clamd.sock');
  await writeFile(
    join(dir, 'clamd.conf'),
    [
      `LocalSocket ${socket}`,
      `DatabaseDirectory ${join(dir, 'db')}`,
      'Foreground yes',
      `LogFile ${join(dir, 'clamd.log')}`,
      'StreamMaxLength 10M',
      '',
    ].join('\n'),
  );
  const child = spawn('clamd', ['-c', join(dir, 'clamd.conf')], { cwd: dir, stdio: 'ignore' });
  try {
    await until(() => existsSync(socket), 60_000, 'clamd');
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    dir,
    socket,
    pid: child.pid!,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGCONT'); // a paused clamd ignores SIGTERM until resumed
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
