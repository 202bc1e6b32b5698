import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, postgresAvailable } from '@palabre/core/testing';
import { main } from '../src/cli.js';
import type { Output } from '../src/output.js';

export const BIN = fileURLToPath(new URL('../bin/palabre.js', import.meta.url));

export interface Captured extends Output {
  stdout: string[];
  stderr: string[];
  text(): string;
}

export function capture(): Captured {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    interactive: false,
    out: (line = '') => stdout.push(line),
    err: (line) => stderr.push(line),
    text: () => [...stdout, ...stderr].join('\n'),
  };
}

/** A place to run the CLI: a fresh data folder, and for PostgreSQL a fresh database. */
export interface Site {
  readonly name: 'sqlite' | 'postgres';
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  run(...argv: string[]): Promise<{ code: number; out: string; err: string }>;
  cleanup(): Promise<void>;
}

export async function makeSite(name: 'sqlite' | 'postgres'): Promise<Site> {
  const dataDir = await mkdtemp(join(tmpdir(), 'palabre-cli-'));
  const db = name === 'postgres' ? await createTestDatabase() : null;
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db?.url ?? '', PALABRE_CONFIG: '' };
  return {
    name,
    dataDir,
    env,
    async run(...argv: string[]) {
      const io = capture();
      const code = await main(['--data', dataDir, ...argv], io, env);
      return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
    },
    async cleanup() {
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const siteKinds: ('sqlite' | 'postgres')[] = ['sqlite', ...((await postgresAvailable()) ? (['postgres'] as const) : [])];

/** Run the real `palabre` binary in a child process. */
export function runBin(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Resolves with what a child printed once `pattern` shows in its output; rejects on timeout or exit. */
export async function waitForLine(child: ReturnType<typeof spawn>, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got:\n${seen}`)), timeoutMs);
    const onData = (d: Buffer) => {
      seen += d;
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      if (!pattern.test(seen)) reject(new Error(`exited before ${pattern}:\n${seen}`));
    });
  });
}

/** A `palabre serve` child with only its HTTP listener, on a site's data, ready (healthz answers). */
export interface ServedHttp {
  readonly port: number;
  readonly origin: string;
  /** Everything the server printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export async function serveHttp(site: Site, extraArgs: string[] = []): Promise<ServedHttp> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--data',
      site.dataDir,
      '--host',
      '127.0.0.1',
      '--http-port',
      String(port),
      '--smtp-port',
      '0',
      '--submission-port',
      '0',
      '--imap-port',
      '0',
      '--sieve-port',
      '0',
      '--admin-port',
      '0',
      ...extraArgs,
    ],
    {
      env: site.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  for (
    let i = 0;
    !(await fetch(`http://127.0.0.1:${port}/healthz`)
      .then((r) => r.ok)
      .catch(() => false));
    i++
  ) {
    if (child.exitCode !== null || i > 300) {
      child.kill('SIGKILL');
      throw new Error(`palabre serve did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

export type ServeListener = 'http' | 'smtp' | 'submission' | 'imap' | 'sieve' | 'admin' | 'http-redirect';

/**
 * `palabre serve` in a child process on `dataDir`, bound to loopback: each listener on the port given,
 * every other one off (port 0), JSON log lines; `args` go after (`--workers 2`…).
 */
export function spawnServe(
  dataDir: string,
  ports: Partial<Record<ServeListener, number>>,
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): ChildProcess {
  return spawn(process.execPath, serveArgs(dataDir, ports, args), {
    env: { PALABRE_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Stop a spawnServe child (SIGTERM) and wait for it to exit; nothing if it is gone already. */
export async function stopServe(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The node arguments of spawnServe, for a child started through another program (`prlimit … node …`). */
export function serveArgs(dataDir: string, ports: Partial<Record<ServeListener, number>>, args: string[] = []): string[] {
  const listeners: ServeListener[] = ['http', 'smtp', 'submission', 'imap', 'sieve', 'admin'];
  const portArgs = listeners.flatMap((name) => [`--${name}-port`, String(ports[name] ?? 0)]);
  if (ports['http-redirect'] !== undefined) portArgs.push('--http-redirect-port', String(ports['http-redirect']));
  return [BIN, 'serve', '--data', dataDir, '--host', '127.0.0.1', ...portArgs, ...args];
}

/** Europe/Paris as Apple and Thunderbird send it with an event, for CalDAV tests. */
export const PARIS_VTIMEZONE = [
  'BEGIN:VTIMEZONE',
  'TZID:Europe/Paris',
  'BEGIN:STANDARD',
  'DTSTART:19701025T030000',
  'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU',
  'TZOFFSETFROM:+0200',
  'TZOFFSETTO:+0100',
  'END:STANDARD',
  'BEGIN:DAYLIGHT',
  'DTSTART:19700329T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0200',
  'END:DAYLIGHT',
  'END:VTIMEZONE',
];

/** One SMTP transaction over a raw socket: the replies, in order. */
export function smtp(port: number, lines: string[], data: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const replies: string[] = [];
    let buf = '';
    const script = [...lines, 'DATA', `${data}\r\n.`, 'QUIT'];
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (/^\d{3} /.test(line)) {
          replies.push(line);
          const next = script.shift();
          if (next !== undefined) socket.write(`${next}\r\n`);
        }
      }
    });
    socket.on('close', () => resolve(replies));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 60_000).unref();
  });
}

/** A one-hour event with this UID, as a calendar app PUTs it. */
export const simpleEvent = (uid: string): string =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//palabre test//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20261201T090000Z', 'DTSTART:20261207T090000Z', 'DURATION:PT1H', 'SUMMARY:x', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');

/** A DAV request to a served `/dav` as `user` (HTTP Basic), bounded in time. */
export function davRequest(origin: string, user: string, password: string, method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return fetch(`${origin}/dav${path}`, { method, headers: { authorization, ...init.headers }, body: init.body ?? null, signal: AbortSignal.timeout(30_000) });
}

/** Run CLI commands one after the other on a site, failing the test at the first that does not succeed. */
export async function provision(site: Site, commands: readonly string[][]): Promise<void> {
  for (const argv of commands) {
    const r = await site.run(...argv);
    if (r.code !== 0) throw new Error(`palabre ${argv.join(' ')} exited ${r.code}: ${r.err}`);
  }
}
