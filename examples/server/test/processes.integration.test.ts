import { spawn } from 'node:child_process';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryNotifier } from '@palabre/core';
import { FsBlobStore, SqlDirectoryStore, SqlMailStore, SqlUsageStore, createDataSource, sqliteFileIn } from '@palabre/core/storage';
import { analyzeMessage } from '@palabre/mail';
import { BIN, freePort, makeSite, runBin, siteKinds, waitForLine, type Site } from './helpers.js';

describe.each(siteKinds)('palabre as separate processes on %s', (kind) => {
  let site: Site;
  beforeEach(async () => {
    site = await makeSite(kind);
    await site.run('domain', 'add', 'sante.gouv.tg');
  });
  afterEach(async () => site.cleanup());

  const bin = (argv: string[], input?: string) => runBin(['--data', site.dataDir, ...argv], { env: site.env, input });

  it('lets exactly one of two processes creating the same address win', async () => {
    const results = await Promise.all(
      [1, 2, 3].map(() => bin(['user', 'add', 'race@sante.gouv.tg', '--password', 'A long enough passphrase'])),
    );
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    for (const r of results.filter((r) => r.code !== 0)) expect(r.err).toMatch(/already in use|already exists/);
    expect((await site.run('user', 'list')).out.split('\n').filter((l) => l.startsWith('race@'))).toHaveLength(1);
  });

  it('reads a password from standard input', async () => {
    const r = await bin(['user', 'add', 'awa@sante.gouv.tg', '--password-stdin'], 'Une phrase lue sur stdin\n');
    expect(r).toMatchObject({ code: 0 });
    const bad = await bin(['user', 'passwd', 'awa@sante.gouv.tg', '--password-stdin'], 'short\n');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/at least 12/);
  });

  it('leaves a consistent database when an import is killed, and a re-run completes it', async () => {
    const rows = 20_000;
    const lines = ['email,name,department,groups'];
    for (let i = 0; i < rows; i++) lines.push(`agent${String(i).padStart(5, '0')}@sante.gouv.tg,Agent ${i},Dept ${i % 40},sante-staff`);
    const csv = join(site.dataDir, 'staff.csv');
    await writeFile(csv, `${lines.join('\n')}\n`);

    const child = spawn(process.execPath, [BIN, '--data', site.dataDir, 'user', 'import', csv, '--batch', '50'], { env: site.env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Wait until some batches are in, then pull the plug.
    await waitForLine(child, /[1-9]\d*% /);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const db = await createDataSource(
      site.env.DATABASE_URL ? { postgres: { url: site.env.DATABASE_URL } } : { sqlite: { file: sqliteFileIn(site.dataDir) } },
    );
    try {
      const q = async (sql: string) => Number((await db.dataSource.query(sql))[0].n);
      const accounts = await q('SELECT COUNT(*) AS n FROM accounts');
      expect(accounts).toBeGreaterThan(0);
      expect(accounts).toBeLessThan(rows);
      // Whole batches only: every account has its address row and its group membership.
      expect(accounts % 50).toBe(0);
      expect(await q("SELECT COUNT(*) AS n FROM addresses WHERE kind = 'account'")).toBe(accounts);
      expect(await q("SELECT COUNT(*) AS n FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM addresses x WHERE x.account_id = a.id)")).toBe(0);
      expect(await q("SELECT COUNT(*) AS n FROM group_members WHERE member_kind = 'account'")).toBe(accounts);
    } finally {
      await db.close();
    }

    const again = await bin(['user', 'import', csv, '--batch', '500']);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(new RegExp(`created, \\d+ updated, \\d+ unchanged, 0 refused \\(of ${rows} rows\\)`));
    const third = await bin(['user', 'import', csv]);
    expect(third.out).toContain(`0 created, 0 updated, ${rows} unchanged, 0 refused`);
  }, 300_000);
});

describe('palabre serve', () => {
  it('starts on an empty data folder, prints how to connect, answers, and stops on SIGTERM', async () => {
    const site = await makeSite('sqlite');
    try {
      const port = await freePort();
      const child = spawn(process.execPath, [BIN, 'serve', '--data', site.dataDir, '--http-port', String(port), '--smtp-port', '0', '--submission-port', '0', '--imap-port', '0', '--sieve-port', '0', '--admin-port', '0'], {
        env: { ...site.env, DATABASE_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const banner = await waitForLine(child, /password: +\S+/);
      expect(banner).toContain('Palabre is running.');
      expect(banner).toMatch(/user: +demo@palabre\.test/);
      expect(banner).toContain(sqliteFileIn(site.dataDir));
      expect(banner).toContain(`files:     http://127.0.0.1:${port}/dav/files/demo@palabre.test/`);
      // Windows' mini-redirector probes the server root before mounting anything.
      const probe = await fetch(`http://127.0.0.1:${port}/`, { method: 'OPTIONS' });
      expect(probe.headers.get('ms-author-via')).toBe('DAV');
      expect(probe.headers.get('dav')).toMatch(/\b2\b/);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.text()).toBe('ok\n');
      child.kill('SIGTERM');
      const code = await new Promise((r) => child.once('exit', r));
      expect(code).toBe(0);
      // The demo password works and is reprinted next time.
      const r = await runBin(['user', 'list', '--data', site.dataDir], { env: { ...site.env, DATABASE_URL: '' } });
      expect(r.out).toContain('demo@palabre.test');
    } finally {
      await site.cleanup();
    }
  }, 120_000);
});

describe('palabre serve console', () => {
  const serve = async (extra: string[]) => {
    const site = await makeSite('sqlite');
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--data', site.dataDir, '--http-port', String(ports[0]), '--smtp-port', String(ports[1]), '--submission-port', '0', '--imap-port', String(ports[2]), '--sieve-port', '0', '--admin-port', '0', ...extra],
      { env: { ...site.env, DATABASE_URL: '', PALABRE_LOG_FORMAT: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitForLine(child, /server\.started/);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await site.cleanup();
    return out.split('\n').filter(Boolean);
  };

  it('writes JSON log lines when stdout is not a terminal, and a banner that tells the truth about TLS per listener', async () => {
    const lines = await serve([]);
    const logs = lines.filter((l) => l.startsWith('{'));
    expect(logs.map((l) => JSON.parse(l).msg)).toContain('server.started');
    const banner = lines.filter((l) => !l.startsWith('{')).join('\n');
    // HTTP runs without TLS on loopback, while SMTP and IMAP do offer STARTTLS: both said, neither denied.
    expect(banner).toMatch(/TLS: +HTTP without TLS/);
    expect(banner).toMatch(/SMTP and IMAP: TLS with the self-signed certificate/);
    expect(banner).not.toMatch(/TLS: +off/);
  }, 120_000);

  it('writes short human lines with --log-format human', async () => {
    const lines = await serve(['--log-format', 'human']);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d info  server\.started {2}services=/));
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d info  imap\.listening {2}port=\d+/));
  }, 120_000);

  it('refuses an unknown log format as a usage error', async () => {
    const r = await runBin(['serve', '--log-format', 'xml', '--data', '/nonexistent']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--log-format takes human or json/);
  });
});

describe('palabre serve with mail', () => {
  it('collects mail blobs that nothing holds any more when it starts: an orphan trashed by an earlier run is destroyed, a new one trashed, held ones kept', async () => {
    const site = await makeSite('sqlite');
    const env = { ...site.env, DATABASE_URL: '' };
    try {
      await runBin(['--data', site.dataDir, 'domain', 'add', 'sante.gouv.tg'], { env });
      await runBin(['--data', site.dataDir, 'user', 'add', 'awa@sante.gouv.tg', '--password', 'A long enough passphrase'], { env });
      const db = await createDataSource({ sqlite: { file: sqliteFileIn(site.dataDir) } });
      const root = join(site.dataDir, 'blobs', 'mail');
      const blobs = new FsBlobStore(root);
      const raw = Buffer.from('From: kofi@example.org\r\nSubject: kept\r\n\r\nhello\r\n');
      const kept = await blobs.put(raw);
      const orphan = await blobs.put('bytes of a message expunged long ago');
      const settled = await blobs.put('bytes an earlier collection set aside an hour ago');
      try {
        const account = (await new SqlDirectoryStore(db).findAccount('awa@sante.gouv.tg'))!;
        const store = new SqlMailStore(db, { blobs, usage: new SqlUsageStore(db), notifier: new MemoryNotifier() });
        const inbox = (await store.ensureMailboxes(account.id)).find((b) => b.name === 'INBOX')!;
        await store.append(inbox.id, { blobId: kept.id, size: kept.size, internalDate: new Date(), analysis: await analyzeMessage(raw) });
      } finally {
        await db.close();
      }
      // All older than the collector's grace period; `settled` in the trash for longer than settleMs.
      const long = new Date(Date.now() - 3 * 3600_000);
      const pathOf = (id: string) => join(root, id.slice(0, 2), id.slice(2, 4), id);
      for (const id of [kept.id, orphan.id, settled.id]) await utimes(pathOf(id), long, long);
      await blobs.trash(settled.id);
      await utimes(join(root, '.trash', settled.id), long, long);

      const imap = await freePort();
      const child = spawn(process.execPath, [BIN, 'serve', '--data', site.dataDir, '--http-port', '0', '--smtp-port', '0', '--submission-port', '0', '--imap-port', String(imap), '--sieve-port', '0', '--admin-port', '0'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        await waitForLine(child, /IMAP: /);
        const fresh = new FsBlobStore(root);
        for (let i = 0; i < 100 && (await fresh.stat(settled.id)); i++) await new Promise((r) => setTimeout(r, 100));
        expect(await fresh.stat(settled.id)).toBeNull();
        // Found by this run: set aside (no longer listed, still readable) until its second look.
        const trashed = new Set<string>();
        for await (const entry of fresh.listTrash()) trashed.add(entry.id);
        const listed = new Set<string>();
        for await (const entry of fresh.list()) listed.add(entry.id);
        expect(trashed).toEqual(new Set([orphan.id]));
        expect(listed).toEqual(new Set([kept.id]));
        expect(await fresh.stat(kept.id)).toEqual({ id: kept.id, size: kept.size });
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    } finally {
      await site.cleanup();
    }
  }, 120_000);
});
