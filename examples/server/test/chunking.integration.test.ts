import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeSite, provision, spawnServe, stopServe, waitForLine, type Site } from './helpers.js';

/** Issue 14 §6.1 through `palabre serve`: a message sent in BDAT chunks (RFC 3030) reads back over IMAP byte for byte. */
const USER = 'agent@interieur.gouv.test';
const PASS = 'Une phrase de passe assez longue';

/** Pipelined commands and chunks on a raw socket; every reply line up to the server closing after QUIT. */
function session(port: number, parts: Buffer[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let buf = '';
    socket.on('data', (d: Buffer) => (buf += d.toString('latin1')));
    socket.once('data', () => socket.write(Buffer.concat(parts)));
    socket.on('close', () => resolve(buf.split('\r\n').filter((l) => /^\d{3} /.test(l))));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 60_000).unref();
  });
}

describe('BDAT through palabre serve', () => {
  let site: Site;
  let child: ChildProcess;
  const ports = { smtp: 0, imap: 0 };

  beforeAll(async () => {
    site = await makeSite('sqlite');
    await provision(site, [
      ['domain', 'add', 'interieur.gouv.test'],
      ['user', 'add', USER, '--password', PASS],
    ]);
    [ports.smtp, ports.imap] = [await freePort(), await freePort()];
    child = spawnServe(site.dataDir, ports, site.env, ['--hostname', 'mail.interieur.gouv.test']);
    await waitForLine(child, /Palabre is running[\s\S]*\n\n/);
  }, 180_000);
  afterAll(async () => {
    await stopServe(child);
    await site?.cleanup();
  });

  it('a message in chunks cut inside a UTF-8 character and inside a CRLF is stored exactly', async () => {
    const message = Buffer.from(
      `From: Ami <ami@example.org>\r\nTo: ${USER}\r\nSubject: =?utf-8?q?r=C3=A9union?=\r\nMessage-ID: <bdat-1@example.org>\r\n` +
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
        'Réunion à 10 h — salle Kpalimé.\r\n.\r\n..\r\n.point en tête\r\n' + `${'é'.repeat(400)}\r\n`,
    );
    const cuts = [message.indexOf('é') + 1, message.indexOf('\r\n.\r\n') + 1, message.length - 3];
    const chunks: Buffer[] = [];
    let from = 0;
    for (const [i, to] of [...cuts, message.length].entries()) {
      const piece = message.subarray(from, to);
      chunks.push(Buffer.from(`BDAT ${piece.length}${i === cuts.length ? ' LAST' : ''}\r\n`), piece);
      from = to;
    }
    const replies = await session(ports.smtp, [
      Buffer.from(`EHLO client.example.org\r\nMAIL FROM:<ami@example.org> BODY=8BITMIME\r\nRCPT TO:<${USER}>\r\n`),
      ...chunks,
      Buffer.from('QUIT\r\n'),
    ]);
    expect(replies.slice(1).map((l) => l.slice(0, 3))).toEqual(['250', '250', '250', '250', '250', '250', '250', '221']);

    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user: USER, pass: PASS }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    try {
      await imap.mailboxOpen('INBOX');
      const [msg] = await imap.fetchAll('1:*', { source: true });
      const source = msg!.source!;
      // Only our trace fields are added, in front.
      expect(source.subarray(source.length - message.length).equals(message)).toBe(true);
      expect(source.subarray(0, source.length - message.length).toString()).toMatch(/^Return-Path: <ami@example\.org>\r\n[\s\S]*Received: from client\.example\.org/);
    } finally {
      await imap.logout();
    }
  });
});
