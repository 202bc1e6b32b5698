import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { skipWithout } from '@palabre/core/testing';

const UNIT = fileURLToPath(new URL('../deploy/palabre.service', import.meta.url));
const REPO = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');
const run = promisify(execFile);

/** The shipped unit with this machine's node and checkout in place of /usr/bin/node and /opt/palabre. */
async function localUnit(dir: string): Promise<string> {
  const text = (await readFile(UNIT, 'utf8')).replaceAll('/usr/bin/node', process.execPath).replaceAll('/opt/palabre', REPO);
  const path = join(dir, 'palabre.service');
  await writeFile(path, text);
  return path;
}

describe('deploy/palabre.service', () => {
  it('asks for what the production checklist promises', async () => {
    const unit = await readFile(UNIT, 'utf8');
    for (const line of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/palabre',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'ExecReload=/bin/kill -HUP $MAINPID',
      'LimitNOFILE=65536',
      'User=palabre',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    // The data folder the service may write is the one it serves.
    expect(unit).toMatch(/^ExecStart=.* --data \/var\/lib\/palabre .*serve$/m);
  });

  it.skipIf(skipWithout('systemd-analyze'))('passes systemd-analyze verify without a warning, and its exposure stays low', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palabre-unit-'));
    try {
      const path = await localUnit(dir);
      const verify = await run('systemd-analyze', ['verify', path]).catch((error: { code: number; stderr: string }) => error);
      const stderr = ('stderr' in verify ? verify.stderr : '').split('\n').filter((l) => l.includes('palabre.service'));
      // Unknown or misspelt directives are only warnings to systemd (exit 0): none is allowed here.
      expect(stderr).toEqual([]);
      expect('code' in verify ? verify.code : 0).toBe(0);
      const security = await run('systemd-analyze', ['security', '--offline=yes', path]).catch((error: { stdout: string }) => error);
      const level = /Overall exposure level for palabre\.service: ([\d.]+)/.exec(security.stdout ?? '');
      expect(level).not.toBeNull();
      expect(Number(level![1])).toBeLessThanOrEqual(2.5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
