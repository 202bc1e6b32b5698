import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, until, type Daemon } from './scanner-daemons.js';

/** The Debian programs a one-node Swift with s3api needs (for `skipWithout`). */
export const SWIFT_PROGRAMS = [
  'swift-ring-builder',
  'swift-proxy-server',
  'swift-object-server',
  'swift-container-server',
  'swift-account-server',
] as const;

export interface Swift extends Daemon {
  /** The proxy's S3 endpoint (`http://127.0.0.1:PORT`). */
  readonly endpoint: string;
  /** s3api's region (its `location`), which SigV4 signatures must name. */
  readonly region: string;
  /** tempauth's `account:user`, s3api's access key id. */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Stop the proxy only (the storage servers keep their data): every request is then refused. */
  stopProxy(): Promise<void>;
  /** Start the proxy again on the same port. */
  startProxy(): Promise<void>;
}

/**
 * Debian's OpenStack Swift as one node on loopback, from a temp folder: rings of one replica on one
 * device, account, container and object servers and a proxy with s3api and tempauth (one user), and
 * Swift's at-rest encryption (keymaster) so that SSE-S3 (`x-amz-server-side-encryption: AES256`) is
 * accepted as a real S3 would. Every server runs in the foreground (workers = 0), so each is one PID
 * that close() stops. Swift keeps object metadata in extended attributes: the folder is made where
 * user xattrs work, or the start fails saying so.
 */
export async function startSwift(): Promise<Swift> {
  const base = xattrCapableTempDir();
  const dir = await mkdtemp(join(base, 'palabre-swift-'));
  const devices = join(dir, 'srv');
  await mkdir(join(devices, 'd1'), { recursive: true });
  const [proxy, account, container, object, memcache] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const user = userInfo().username;
  const region = 'us-east-1';
  const accessKeyId = 'palabre:tester';
  const secretAccessKey = randomBytes(12).toString('hex');
  const common = (port: number) =>
    [
      '[DEFAULT]',
      'bind_ip = 127.0.0.1',
      `bind_port = ${port}`,
      `swift_dir = ${dir}`,
      `devices = ${devices}`,
      'mount_check = false',
      'disable_fallocate = true',
      'workers = 0',
      `user = ${user}`,
      // Logs to a closed loopback UDP port instead of the machine's syslog.
      'log_udp_host = 127.0.0.1',
      `log_udp_port = ${memcache}`,
      'log_level = ERROR',
      '',
    ].join('\n');
  const storage = (kind: 'account' | 'container' | 'object', port: number) =>
    `${common(port)}[pipeline:main]\npipeline = healthcheck ${kind}-server\n\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n\n[app:${kind}-server]\nuse = egg:swift#${kind}\n\n[${kind}-replicator]\n[${kind}-auditor]\n${kind === 'account' ? '' : `[${kind}-updater]\n`}`;
  const files: Record<string, string> = {
    'swift.conf': `[swift-hash]\nswift_hash_path_suffix = ${randomBytes(8).toString('hex')}\nswift_hash_path_prefix = ${randomBytes(8).toString('hex')}\n\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n`,
    'account-server.conf': storage('account', account),
    'container-server.conf': storage('container', container),
    'object-server.conf': storage('object', object),
    'proxy-server.conf': [
      common(proxy),
      '[pipeline:main]',
      'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo keymaster encryption proxy-logging proxy-server',
      '',
      '[app:proxy-server]',
      'use = egg:swift#proxy',
      'account_autocreate = true',
      '',
      '[filter:s3api]',
      'use = egg:swift#s3api',
      `location = ${region}`,
      '',
      '[filter:tempauth]',
      'use = egg:swift#tempauth',
      `user_palabre_tester = ${secretAccessKey} .admin`,
      '',
      // tempauth wants a cache object; S3 signatures are checked without one, so nothing listens here.
      '[filter:cache]',
      'use = egg:swift#memcache',
      `memcache_servers = 127.0.0.1:${memcache}`,
      '',
      '[filter:keymaster]',
      'use = egg:swift#keymaster',
      `encryption_root_secret = ${randomBytes(32).toString('base64')}`,
      '',
      '[filter:encryption]',
      'use = egg:swift#encryption',
      '',
      ...['catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging', 'listing_formats', 'copy', 'slo', 'dlo'].flatMap((name) => [
        `[filter:${name}]`,
        `use = egg:swift#${name.replace('-', '_')}`,
        '',
      ]),
    ].join('\n'),
  };
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    buildRings(dir, { account, container, object });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const children = new Map<string, ChildProcess>();
  let failed: Error | null = null;
  const launch = (name: 'account' | 'container' | 'object' | 'proxy') => {
    const child = spawn(`swift-${name}-server`, [join(dir, `${name}-server.conf`)], { cwd: dir, stdio: 'ignore' });
    child.once('error', (error) => (failed = error));
    children.set(name, child);
  };
  const healthy = (port: number) => () => {
    if (failed) throw failed; // a server that could not start (not installed): fail now, not at the timeout
    return fetch(`http://127.0.0.1:${port}/healthcheck`).then(
      (r) => r.ok,
      () => false,
    );
  };
  const close = async () => {
    await Promise.all([...children.values()].map(stopChild));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const name of ['account', 'container', 'object', 'proxy'] as const) launch(name);
    for (const port of [account, container, object, proxy]) await until(healthy(port), 60_000, 'swift');
  } catch (error) {
    await close();
    throw error;
  }
  return {
    dir,
    endpoint: `http://127.0.0.1:${proxy}`,
    region,
    accessKeyId,
    secretAccessKey,
    async stopProxy() {
      const child = children.get('proxy');
      if (child) await stopChild(child);
    },
    async startProxy() {
      launch('proxy');
      await until(healthy(proxy), 60_000, 'swift proxy');
    },
    close,
  };
}

/** Rings of one replica on one device each: part power 6, no wait between rebalances. */
function buildRings(dir: string, ports: Record<'account' | 'container' | 'object', number>): void {
  for (const [ring, port] of Object.entries(ports)) {
    const builder = join(dir, `${ring}.builder`);
    for (const args of [['create', '6', '1', '0'], ['add', `r1z1-127.0.0.1:${port}/d1`, '100'], ['rebalance']]) {
      const r = spawnSync('swift-ring-builder', [builder, ...args], { cwd: dir, encoding: 'utf8' });
      // rebalance exits 1 for warnings (a ring of one device is "unbalanced"); 2 is an error.
      if (r.error || (r.status ?? 2) >= 2) throw new Error(`swift-ring-builder ${ring} ${args[0]} failed: ${r.error?.message ?? r.stderr}`);
    }
  }
}

/**
 * The system temp folder, or /var/tmp where that one refuses user xattrs (tmpfs before Linux 6.6):
 * Swift's object server stores every object's metadata in `user.swift.metadata`.
 */
function xattrCapableTempDir(): string {
  const probe = `import os, sys, tempfile
for d in sys.argv[1:]:
    try:
        with tempfile.NamedTemporaryFile(dir=d) as f:
            os.setxattr(f.name, 'user.palabre', b'1')
        print(d)
        break
    except OSError:
        pass`;
  const r = spawnSync('/usr/bin/python3', ['-c', probe, tmpdir(), '/var/tmp'], { encoding: 'utf8' });
  const dir = r.stdout?.trim();
  if (!dir) throw new Error(`no temp folder here supports user xattrs (${tmpdir()}, /var/tmp), which Swift needs`);
  return dir;
}
