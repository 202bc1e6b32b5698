import { accessSync, appendFileSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Tests that drive a real program from Debian (rclone, cadaver, swaks, slapd…) skip where it is not
 * installed, so `npm test` passes on a machine that has only Node.js, and say so: every skip is written
 * to the file named by PALABRE_SKIPPED_PROGRAMS, which the root Vitest config prints as one line at the
 * end of the run. With PALABRE_REQUIRE_CLIENTS=1 (CI) nothing is skipped: the test runs and fails on the
 * missing program.
 */
export const INSTALL_COMMAND = 'sudo bash .ci/install-deps.sh';

/** Programs that come in another program's Debian package, so the summary names what to install. */
const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  dovecot: 'dovecot-imapd',
  doveadm: 'dovecot-core',
  slapadd: 'slapd',
  slappasswd: 'slapd',
  'smtp-source': 'postfix',
  'smtp-sink': 'postfix',
  'sieve-connect': 'sieve-connect',
  'systemd-analyze': 'systemd',
  clamd: 'clamav-daemon',
  'swift-ring-builder': 'swift',
  'swift-proxy-server': 'swift-proxy',
  'swift-object-server': 'swift-object',
  'swift-container-server': 'swift-container',
  'swift-account-server': 'swift-account',
  'ldns-keygen': 'ldnsutils',
  'ldns-signzone': 'ldnsutils',
};

const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin'];
const found = new Map<string, boolean>();

/** True when `name` is an executable on PATH (or in the sbin folders, where Debian puts daemons). */
export function programInstalled(name: string): boolean {
  let hit = found.get(name);
  if (hit === undefined) {
    const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
    hit = dirs.some((dir) => {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    found.set(name, hit);
  }
  return hit;
}

/** Whether a missing program is a failure rather than a skip (CI). */
export function clientsRequired(): boolean {
  return process.env.PALABRE_REQUIRE_CLIENTS === '1';
}

/**
 * For `it.skipIf(skipWithout('rclone'))` / `describe.skipIf(...)`: true (skip) when one of the programs
 * is missing and CI does not require it. The skip is recorded for the run's summary.
 */
export function skipWithout(...programs: string[]): boolean {
  const missing = programs.filter((p) => !programInstalled(p));
  if (missing.length === 0 || clientsRequired()) return false;
  const log = process.env.PALABRE_SKIPPED_PROGRAMS;
  if (log) {
    try {
      appendFileSync(log, missing.map((p) => `${DEBIAN_PACKAGE[p] ?? p}\n`).join(''));
    } catch {
      // The summary is a courtesy; a test never fails for it.
    }
  }
  return true;
}
