import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { BIN, freePort, makeSite, waitForLine, type Site } from './helpers.js';

const USER = 'awa@sante.gouv.tg';
const PASS = 'Une phrase de passe solide';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('palabre serve --workers 2', () => {
  let site: Site;
  let child: ChildProcess;
  let ports: { http: number; smtp: number; imap: number };

  beforeEach(async () => {
    site = await makeSite('sqlite');
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('user', 'add', USER, '--password', PASS);
    ports = { http: await freePort(), smtp: await freePort(), imap: await freePort() };
    child = spawn(
      process.execPath,
      [BIN, 'serve', '--data', site.dataDir, '--workers', '2', '--http-port', String(ports.http), '--smtp-port', String(ports.smtp), '--submission-port', '0', '--imap-port', String(ports.imap), '--sieve-port', '0', '--admin-port', '0'],
      { env: { ...site.env, DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await waitForLine(child, /Palabre is running \(2 worker processes\)/);
  }, 90_000);

  afterEach(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await site.cleanup();
  });

  it('serves from both processes and relays IMAP change notifications between them', async () => {
    // Two IDLE sessions: the cluster deals connections out in turn, so they land on different workers.
    const sessions = [0, 1].map(
      () => new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user: USER, pass: PASS }, logger: false, tls: { rejectUnauthorized: false } }),
    );
    const counts: number[] = [0, 0];
    const arrivals = sessions.map(
      (s, i) =>
        new Promise<void>((resolve) => {
          s.on('exists', (data: { count: number }) => {
            counts[i] = data.count;
            resolve();
          });
        }),
    );
    for (const s of sessions) {
      await s.connect();
      await s.mailboxOpen('INBOX');
      void s.idle();
    }
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: ports.smtp, secure: false, tls: { rejectUnauthorized: false } });
    await transport.sendMail({ from: 'kofi@example.org', to: USER, subject: 'across workers', text: 'hello' });
    await Promise.race([Promise.all(arrivals), new Promise((_, reject) => setTimeout(() => reject(new Error(`IDLE sessions saw ${counts}`)), 20_000))]);
    expect(counts).toEqual([1, 1]);
    for (const s of sessions) await s.logout();
    const health = await Promise.all([1, 2, 3, 4].map(() => fetch(`http://127.0.0.1:${ports.http}/healthz`).then((r) => r.status)));
    expect(health).toEqual([200, 200, 200, 200]);
  }, 60_000);

  it('stops every worker on SIGTERM, and workers never outlive a primary killed with -9', async () => {
    const workers = await childrenOf(child.pid!);
    expect(workers).toHaveLength(2);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (let i = 0; i < 100 && workers.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(workers.filter(alive)).toEqual([]);
  }, 60_000);
});

/** The PIDs whose parent is `pid`, read from /proc (no procps needed). */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may hold spaces and parentheses): state, then the parent PID.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === pid) out.push(Number(entry));
  }
  return out;
}
