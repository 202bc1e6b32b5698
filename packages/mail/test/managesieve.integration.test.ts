import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { MemoryDirectoryStore, MemorySieveScriptStore, testAuthenticator } from '@palabre/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManageSieveServer, type ManageSieveServer } from '../src/managesieve/server.js';
import { parseCommand } from '../src/managesieve/server.js';
import { selfSignedTls } from './helpers/tls.js';

const USER = 'agent@interieur.gouv.test';
const PASS = 'Une phrase de passe assez longue';
const plain = Buffer.from(`\u0000${USER}\u0000${PASS}`).toString('base64');

/** Read until a line that starts with OK, NO or BYE. */
function reader(socket: Socket) {
  let buf = '';
  let wake: (() => void) | null = null;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    buf += d;
    wake?.();
  });
  socket.on('close', () => wake?.());
  return async (): Promise<string> => {
    for (let i = 0; i < 100; i++) {
      const m = /^(?:OK|NO|BYE)\b.*\r\n/m.exec(buf);
      if (m) {
        const out = buf.slice(0, m.index + m[0].length);
        buf = buf.slice(m.index + m[0].length);
        return out;
      }
      if (socket.destroyed) return `${buf}<closed>`;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    throw new Error(`no response: ${buf}`);
  };
}

describe('ManageSieve without plaintext passwords (production rule)', () => {
  let server: ManageSieveServer;
  let port = 0;
  const scripts = new MemorySieveScriptStore();
  beforeAll(async () => {
    const directory = new MemoryDirectoryStore();
    await directory.createDomain({ name: 'interieur.gouv.test' });
    await directory.createAccount({ address: USER });
    server = createManageSieveServer({ scripts, authenticator: testAuthenticator(directory, { [USER]: PASS }), tls: await selfSignedTls(), allowInsecureAuth: false });
    ({ port } = await server.listen({ port: 0 }));
  });
  afterAll(() => server.close());

  it('offers no SASL mechanism and refuses AUTHENTICATE before STARTTLS; after it, re-sends capabilities and logs in', async () => {
    const socket = connect({ port, host: '127.0.0.1' });
    const read = reader(socket);
    const greeting = await read();
    expect(greeting).toContain('"SASL" ""');
    expect(greeting).toContain('"STARTTLS"');
    socket.write(`AUTHENTICATE "PLAIN" "${plain}"\r\n`);
    expect(await read()).toMatch(/^NO \(ENCRYPT-NEEDED\)/m);
    socket.write('STARTTLS\r\n');
    expect(await read()).toMatch(/^OK/m);
    socket.removeAllListeners('data');
    const secure = tlsConnect({ socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((r) => secure.once('secureConnect', () => r()));
    const readTls = reader(secure as unknown as Socket);
    const caps = await readTls();
    expect(caps).toContain('"SASL" "PLAIN LOGIN"');
    expect(caps).not.toContain('"STARTTLS"');
    secure.write(`AUTHENTICATE "PLAIN" "${plain}"\r\n`);
    expect(await readTls()).toMatch(/^OK/m);
    // LOGIN without an initial response: two continuations, answered with quoted strings.
    secure.write('UNAUTHENTICATE\r\n');
    expect(await readTls()).toMatch(/^OK/m);
    secure.write('AUTHENTICATE "LOGIN"\r\n');
    await new Promise((r) => setTimeout(r, 50));
    secure.write(`"${Buffer.from(USER).toString('base64')}"\r\n`);
    await new Promise((r) => setTimeout(r, 50));
    secure.write(`"${Buffer.from(PASS).toString('base64')}"\r\n`);
    expect(await readTls()).toMatch(/^OK "Logged in"/m);
    secure.write('PUTSCRIPT "a" {5+}\r\nkeep;\r\nSETACTIVE "a"\r\n');
    expect(await readTls()).toMatch(/^OK/m);
    expect(await readTls()).toMatch(/^OK/m);
    secure.end('LOGOUT\r\n');
  });
});

describe('ManageSieve command parser', () => {
  const limits = { maxLineBytes: 1024, maxLiteralBytes: 4096 };
  it('reads atoms, quoted strings with escapes, numbers and both literal forms', () => {
    expect(parseCommand(Buffer.from('PUTSCRIPT "a\\"b" {5+}\r\nkeep;\r\n'), limits)).toMatchObject({ kind: 'command', name: 'PUTSCRIPT', args: ['a"b', 'keep;'] });
    expect(parseCommand(Buffer.from('havespace "x" 123\r\n'), limits)).toMatchObject({ kind: 'command', name: 'HAVESPACE', args: ['x', '123'] });
    expect(parseCommand(Buffer.from('CHECKSCRIPT {5}\r\nke'), limits)).toEqual({ kind: 'incomplete', need: 22 });
    expect(parseCommand(Buffer.from('PUTSCRIPT "a" {99999}\r\n'), limits)).toMatchObject({ kind: 'error', fatal: true });
  });

  it('never throws and always consumes or waits, on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = parseCommand(Buffer.from(bytes), limits);
        if (r.kind === 'incomplete') expect(r.need).toBeGreaterThan(bytes.length - 1);
        else expect(r.consumed).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
  });
});
