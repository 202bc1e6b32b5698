import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, until, type Daemon } from './scanner-daemons.js';

/** The Debian programs the DNSSEC lab needs (packages unbound, nsd, ldnsutils), for `skipWithout`. */
export const DNSSEC_PROGRAMS = ['unbound', 'nsd', 'ldns-keygen', 'ldns-signzone'] as const;

export interface TestZone {
  /** The zone's name, e.g. `dane.test`. */
  readonly name: string;
  /** Records in zone-file syntax, names relative to the zone (`mx IN A 127.0.0.1`); SOA and NS are added. */
  readonly records: readonly string[];
  /** Sign with a fresh key (ldns-keygen, ECDSA P-256) and give unbound its trust anchor. Unsigned zones are insecure. */
  readonly signed: boolean;
  /** Change the signed zone text after signing (a record whose RRSIG no longer matches: bogus). */
  readonly tamper?: (signed: string) => string;
}

export interface DnssecLab extends Daemon {
  /** The validating resolver (unbound), `127.0.0.1:PORT`. */
  readonly resolver: string;
  /** The authoritative server (nsd), `127.0.0.1:PORT`. */
  readonly authoritative: string;
}

/**
 * A real DNSSEC world on loopback from a temp folder: zones signed with ldnsutils, served by NSD, and
 * an unbound that validates them against their own trust anchors (there is no root: every other name
 * goes to NSD too, which refuses it, so nothing ever leaves the machine). Both run in the foreground,
 * one PID each, stopped by close().
 */
export async function startDnssecLab(zones: readonly TestZone[]): Promise<DnssecLab> {
  const dir = await mkdtemp(join(tmpdir(), 'palabre-dnssec-'));
  const children: ChildProcess[] = [];
  try {
    const anchors: string[] = [];
    for (const zone of zones) {
      const text = [
        `$ORIGIN ${zone.name}.`,
        '$TTL 300',
        `@ IN SOA ns1.${zone.name}. hostmaster.${zone.name}. 1 3600 600 86400 300`,
        `@ IN NS ns1.${zone.name}.`,
        'ns1 IN A 127.0.0.1',
        ...zone.records,
        '',
      ].join('\n');
      const file = join(dir, `${zone.name}.zone`);
      await writeFile(file, text);
      if (!zone.signed) continue;
      const key = execFileSync('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', zone.name], { cwd: dir, encoding: 'utf8' }).trim();
      execFileSync('ldns-signzone', ['-o', `${zone.name}.`, '-f', `${file}.signed`, file, key], { cwd: dir });
      if (zone.tamper) await writeFile(`${file}.signed`, zone.tamper(await readFile(`${file}.signed`, 'utf8')));
      anchors.push(join(dir, `${key}.key`));
    }
    const nsdPort = await freeDnsPort();
    let unboundPort = await freeDnsPort();
    while (unboundPort === nsdPort) unboundPort = await freeDnsPort();
    await writeFile(
      join(dir, 'nsd.conf'),
      [
        'server:',
        `  ip-address: 127.0.0.1@${nsdPort}`,
        `  port: ${nsdPort}`,
        '  do-ip6: no',
        `  zonesdir: "${dir}"`,
        '  database: ""',
        `  zonelistfile: "${dir}/zone.list"`,
        `  xfrdfile: "${dir}/xfrd.state"`,
        `  xfrdir: "${dir}"`,
        `  pidfile: "${dir}/nsd.pid"`,
        '  username: ""',
        '  chroot: ""',
        `  logfile: "${dir}/nsd.log"`,
        '  server-count: 1',
        'remote-control:',
        '  control-enable: no',
        ...zones.flatMap((z) => ['zone:', `  name: ${z.name}`, `  zonefile: ${z.name}.zone${z.signed ? '.signed' : ''}`]),
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'unbound.conf'),
      [
        'server:',
        `  interface: 127.0.0.1@${unboundPort}`,
        `  port: ${unboundPort}`,
        '  do-ip6: no',
        '  do-daemonize: no',
        '  username: ""',
        '  chroot: ""',
        `  directory: "${dir}"`,
        `  pidfile: "${dir}/unbound.pid"`,
        '  use-syslog: no',
        '  logfile: ""',
        '  verbosity: 1',
        '  access-control: 127.0.0.0/8 allow',
        // The authoritative server is on loopback, which unbound skips by default.
        '  do-not-query-localhost: no',
        '  module-config: "validator iterator"',
        '  qname-minimisation: no',
        '  val-log-level: 2',
        // RFC 6761 reserves .test; unbound answers it locally unless told not to.
        '  local-zone: "test." nodefault',
        ...anchors.map((a) => `  trust-anchor-file: "${a}"`),
        'stub-zone:',
        '  name: "."',
        `  stub-addr: 127.0.0.1@${nsdPort}`,
        ...zones.flatMap((z) => ['stub-zone:', `  name: "${z.name}"`, `  stub-addr: 127.0.0.1@${nsdPort}`]),
        '',
      ].join('\n'),
    );
    const start = (cmd: string, args: string[]) => {
      const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      child.on('error', () => undefined);
      children.push(child);
      return () => stderr;
    };
    const nsdErr = start('nsd', ['-d', '-c', join(dir, 'nsd.conf')]);
    await until(() => listening(nsdPort), 15_000, `nsd (${nsdErr()})`);
    const unboundErr = start('unbound', ['-d', '-c', join(dir, 'unbound.conf')]);
    await until(() => listening(unboundPort), 15_000, `unbound (${unboundErr()})`);
    return {
      dir,
      resolver: `127.0.0.1:${unboundPort}`,
      authoritative: `127.0.0.1:${nsdPort}`,
      async close() {
        await Promise.all(children.map((c) => stopChild(c)));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(children.map((c) => stopChild(c)));
    const files = await readdir(dir).catch(() => []);
    await rm(dir, { recursive: true, force: true });
    throw new Error(`DNSSEC lab did not start (${files.join(', ')}): ${(error as Error).message}`);
  }
}

/** A loopback port free for TCP and for UDP (a DNS server listens on both). */
async function freeDnsPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((r) => (free ? udp.close(() => r()) : r()));
    if (free) return port;
  }
  throw new Error('no loopback port free for both TCP and UDP');
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
