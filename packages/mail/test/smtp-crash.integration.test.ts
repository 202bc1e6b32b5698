import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { createDataSource } from '@palabre/core/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, 'helpers', 'crash-server.mjs');
let data: string;
let child: ChildProcess | null = null;

beforeEach(async () => {
  data = await mkdtemp(join(tmpdir(), 'palabre-crash-'));
});
afterEach(async () => {
  child?.kill('SIGKILL');
  child = null;
  await rm(data, { recursive: true, force: true });
});

async function start(crash = ''): Promise<number> {
  child = spawn(process.execPath, [script], { env: { ...process.env, DATA: data, CRASH: crash }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child!.once('exit', (code) => reject(new Error(`server exited ${code} before it was ready`)));
  });
}

const exited = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));

const raw = 'From: ami@example.org\r\nTo: awa@sante.gouv.tg\r\nSubject: important\r\nMessage-ID: <crash-1@example.org>\r\n\r\nDo not lose me.\r\n';
const send = (port: number) =>
  nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true }).sendMail({ envelope: { from: 'ami@example.org', to: ['awa@sante.gouv.tg'] }, raw });

async function stored(): Promise<{ count: number }> {
  const db = await createDataSource({ sqlite: { file: join(data, 'palabre.sqlite') } });
  try {
    const rows: { n: number }[] = await db.run((m) => m.query('SELECT COUNT(*) AS n FROM mail_messages'));
    return { count: Number(rows[0]!.n) };
  } finally {
    await db.close();
  }
}

describe('kill -9 around the 250', () => {
  it('a message acknowledged with 250 is there after kill -9 and restart', async () => {
    const port = await start();
    const info = await send(port);
    expect(info.response).toMatch(/^250 /);
    child!.kill('SIGKILL');
    await exited(child!);
    expect((await stored()).count).toBe(1);
    await start(); // and the restarted server opens the same store without complaint
  });

  it('kill -9 before the commit leaves no partial message; the retry delivers exactly one', async () => {
    const port = await start('before-commit');
    await expect(send(port)).rejects.toThrow();
    await exited(child!);
    expect((await stored()).count).toBe(0);
    const again = await start();
    await send(again);
    expect((await stored()).count).toBe(1);
  });

  it('kill -9 after the commit but before the 250 (a lost reply): the client retry does not duplicate', async () => {
    const port = await start('after-commit');
    await expect(send(port)).rejects.toThrow();
    await exited(child!);
    expect((await stored()).count).toBe(1);
    const again = await start();
    const info = await send(again);
    expect(info.response).toMatch(/^250 /);
    expect((await stored()).count).toBe(1);
  });
});
