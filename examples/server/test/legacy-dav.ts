import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientsRequired } from '@palabre/core/testing';
import { afterAll, beforeAll, expect } from 'vitest';
import { freePort, makeSite, serveHttp, type ServedHttp, type Site } from './helpers.js';

/** Debian's python, the one Debian's radicale and xandikos packages install into. */
const PYTHON = '/usr/bin/python3';

/** Radicale is a Python module without a program on PATH: its package's folder says it is there. */
export const noRadicale = !existsSync('/usr/lib/python3/dist-packages/radicale') && !clientsRequired();

export interface LegacyDav {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

async function waitUp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`legacy server exited: ${log()}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`legacy server did not come up: ${log()}`);
}

function stopper(child: ChildProcess, dir: string) {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // A server still draining after 10 s is stopped for good (its PID is ours: we started it).
      const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(late);
    }
    await rm(dir, { recursive: true, force: true });
  };
}

/** Radicale (the anchors' configuration: htpasswd, owner_only rights) with several users. */
export async function startRadicale(users: readonly { user: string; password: string }[]): Promise<LegacyDav> {
  const dir = await mkdtemp(join(tmpdir(), 'palabre-radicale-'));
  const port = await freePort();
  await mkdir(join(dir, 'collections'));
  await writeFile(join(dir, 'users'), users.map((u) => `${u.user}:${u.password}\n`).join(''));
  await writeFile(
    join(dir, 'config'),
    `[server]\nhosts = 127.0.0.1:${port}\nmax_content_length = 100000000\n[auth]\ntype = htpasswd\nhtpasswd_filename = ${dir}/users\nhtpasswd_encryption = plain\n[rights]\ntype = owner_only\n[storage]\nfilesystem_folder = ${dir}/collections\n[web]\ntype = none\n[logging]\nlevel = warning\n`,
  );
  let log = '';
  const child = spawn(PYTHON, ['-m', 'radicale', '-C', join(dir, 'config')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}/`;
  await waitUp(url, child, () => log);
  return { url, port, dir, stop: stopper(child, dir) };
}

/** Xandikos (no authentication of its own: any Basic credentials pass), one principal `/user/`. */
export async function startXandikos(): Promise<LegacyDav> {
  const dir = await mkdtemp(join(tmpdir(), 'palabre-xandikos-'));
  const port = await freePort();
  let log = '';
  const child = spawn('xandikos', ['-d', dir, '--autocreate', '-l', '127.0.0.1', '-p', String(port), '--current-user-principal', '/user/'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}/`;
  await waitUp(url, child, () => log);
  return { url, port, dir, stop: stopper(child, dir) };
}

/** What the proxy does to one request: forward it, refuse it, answer for the server, or cut it. */
export type Fault =
  | { kind: 'status'; status: number }
  | { kind: 'answer'; status: number; body: string | (() => AsyncIterable<string>); contentType?: string }
  | { kind: 'rewrite'; edit: (body: string) => string }
  | { kind: 'cut'; afterBytes: number };

export interface FaultRule {
  readonly method?: string;
  /** The Depth header it applies to (discovery asks Depth 0, listings Depth 1). */
  readonly depth?: string;
  readonly path: RegExp;
  readonly fault: Fault;
  /** Requests this rule answered. */
  hits: number;
}

/**
 * The attacker between the migration and a real legacy server: an HTTP relay that forwards every
 * request unchanged, except those a rule matches, which it refuses, answers itself (an XML bomb, a
 * huge body, hrefs elsewhere), rewrites, or cuts mid-answer (the TCP connection destroyed).
 */
export interface FaultProxy {
  readonly url: string;
  readonly origin: string;
  rules: FaultRule[];
  add(rule: Omit<FaultRule, 'hits'>): FaultRule;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  const port = await freePort();
  const proxy: FaultProxy = {
    url: `http://127.0.0.1:${port}/`,
    origin: `http://127.0.0.1:${port}`,
    rules: [],
    add(rule) {
      const r = { ...rule, hits: 0 };
      proxy.rules.push(r);
      return r;
    },
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        // Keep-alive connections (fetch's pool) would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const rule = proxy.rules.find((r) => (!r.method || r.method === req.method) && (!r.depth || r.depth === req.headers.depth) && r.path.test(req.url ?? ''));
    if (rule) rule.hits++;
    const fault = rule?.fault;
    if (fault?.kind === 'status') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'text/plain' }).end('no');
      return;
    }
    if (fault?.kind === 'answer') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'application/xml; charset=utf-8' });
      if (typeof fault.body === 'string') res.end(fault.body);
      else
        void (async () => {
          for await (const chunk of (fault.body as () => AsyncIterable<string>)()) {
            if (res.destroyed) return;
            if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
          }
          res.end();
        })().catch(() => res.destroy());
      return;
    }
    const headers = { ...req.headers, host: up.host };
    delete headers['accept-encoding'];
    const out = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (answer) => {
      if (fault?.kind === 'rewrite') {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const body = Buffer.from(fault.edit(Buffer.concat(chunks).toString('utf8')));
          const h = { ...answer.headers, 'content-length': String(body.length) };
          delete h['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 502, h).end(body);
        });
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (fault?.kind === 'cut') {
        let sent = 0;
        answer.on('data', (c: Buffer) => {
          if (sent + c.length >= fault.afterBytes) {
            res.write(c.subarray(0, Math.max(0, fault.afterBytes - sent)));
            // The connection dies mid-answer, as a network cut or a crashed server leaves it.
            res.socket?.destroy();
            answer.destroy();
            return;
          }
          sent += c.length;
          res.write(c);
        });
        answer.on('end', () => res.end());
        return;
      }
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return proxy;
}

/**
 * Debian's Apache httpd with mod_dav_fs (the webdav anchor's configuration): a tree per user under
 * `/<user>/`, Basic auth from an htpasswd file of `{SHA}` entries. Apache started as root serves as
 * www-data, so the data folder is handed to it.
 */
export async function startApacheDav(users: readonly { user: string; password: string }[]): Promise<LegacyDav> {
  const { createHash } = await import('node:crypto');
  const { chown } = await import('node:fs/promises');
  const { execFileSync } = await import('node:child_process');
  const dir = await mkdtemp(join(tmpdir(), 'palabre-apache-'));
  const port = await freePort();
  for (const d of ['run', 'logs', 'lock', 'data', ...users.map((u) => `data/${u.user}`)]) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'htpasswd'), users.map((u) => `${u.user}:{SHA}${createHash('sha1').update(u.password).digest('base64')}\n`).join(''));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // mkdtemp makes the folder 0700: the www-data workers must reach the data below it.
    const { chmod } = await import('node:fs/promises');
    await chmod(dir, 0o755);
    const id = (flag: string) => Number(execFileSync('id', [flag, 'www-data']).toString().trim());
    const [uid, gid] = [id('-u'), id('-g')];
    for (const d of ['lock', 'data', ...users.map((u) => `data/${u.user}`)]) await chown(join(dir, d), uid, gid);
  }
  const m = '/usr/lib/apache2/modules';
  const modules = ['mpm_event', 'authz_core', 'authn_core', 'authn_file', 'auth_basic', 'authz_user', 'dav', 'dav_fs', 'mime'];
  await writeFile(
    join(dir, 'httpd.conf'),
    [
      `ServerRoot "${dir}"`,
      'ServerName 127.0.0.1',
      `Listen 127.0.0.1:${port}`,
      `PidFile ${dir}/run/httpd.pid`,
      `DefaultRuntimeDir ${dir}/run`,
      ...modules.map((x) => `LoadModule ${x}_module ${m}/mod_${x}.so`),
      ...(asRoot ? ['User www-data', 'Group www-data'] : []),
      `ErrorLog ${dir}/logs/error.log`,
      'LogLevel warn',
      'TypesConfig /etc/mime.types',
      'StartServers 1',
      'ThreadsPerChild 10',
      'MaxRequestWorkers 20',
      `DavLockDB ${dir}/lock/DavLock`,
      `DocumentRoot ${dir}/data`,
      `<Directory ${dir}/data>`,
      '  Dav On',
      '  AuthType Basic',
      '  AuthName "legacy"',
      '  AuthBasicProvider file',
      `  AuthUserFile ${dir}/htpasswd`,
      '  Require valid-user',
      '</Directory>',
      '',
    ].join('\n'),
  );
  // In the foreground, so the test owns the PID and stops it (SIGTERM stops the workers too).
  let log = '';
  const child = spawn('apache2', ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}/`;
  await waitUp(url, child, () => log);
  return { url, port, dir, stop: stopper(child, dir) };
}

/** A Palabre site with the domain and the agents' accounts, served over HTTP (to list it as a client would). */
export async function palabreWithAgents(kind: 'sqlite' | 'postgres', domain: string, addresses: readonly string[], password: string): Promise<{ site: Site; served: ServedHttp }> {
  const site = await makeSite(kind);
  expect((await site.run('domain', 'add', domain)).code).toBe(0);
  for (const a of addresses) expect((await site.run('user', 'add', a, '--password', password)).code).toBe(0);
  return { site, served: await serveHttp(site) };
}

/** The same, made before the tests of the calling block and removed after them. */
export function palabreForBlock(kind: 'sqlite' | 'postgres', domain: string, addresses: readonly string[], password: string): { readonly site: Site; readonly served: ServedHttp } {
  const held = {} as { site: Site; served: ServedHttp };
  beforeAll(async () => {
    Object.assign(held, await palabreWithAgents(kind, domain, addresses, password));
  }, 120_000);
  afterAll(async () => {
    await held.served?.stop();
    await held.site?.cleanup();
  });
  return held;
}
