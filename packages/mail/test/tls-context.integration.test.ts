import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { createSmtpServer, type SmtpListener } from '../src/index.js';
import { startImap, type ImapWorld } from './imap-harness.js';
import { testAuthenticator } from '@palabre/core/testing';
import { selfSignedTls } from './helpers/tls.js';

async function anotherCertificate(): Promise<{ key: Buffer; cert: Buffer; fingerprint: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 86_400_000),
  });
  return { key: Buffer.from(pems.private), cert: Buffer.from(pems.cert), fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

const fingerprintOf = (cert: Buffer) => new X509Certificate(cert).fingerprint256;

/** The certificate the next client gets: implicit TLS, or STARTTLS after the plain greeting and `command`. */
function peer(port: number, startTls?: { greeting: RegExp; command: string; ready: RegExp }): Promise<string> {
  return new Promise((resolve, reject) => {
    const finish = (socket: tls.TLSSocket) => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    };
    if (!startTls) {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => finish(s));
      s.once('error', reject);
      return;
    }
    const plain = net.connect(port, '127.0.0.1');
    let seen = '';
    let sent = false;
    plain.setEncoding('utf8');
    plain.on('error', reject);
    plain.on('data', (d: string) => {
      seen += d;
      if (!sent && startTls.greeting.test(seen)) {
        sent = true;
        seen = '';
        plain.write(startTls.command);
      } else if (sent && startTls.ready.test(seen)) {
        plain.removeAllListeners('data');
        const s = tls.connect({ socket: plain, rejectUnauthorized: false }, () => finish(s));
        s.once('error', reject);
      }
    });
  });
}

describe('setSecureContext: a renewed certificate for the next handshakes, a bad one refused', () => {
  let world: ImapWorld;
  let smtp: SmtpListener;
  let smtpPort: number;
  let original: string;
  beforeAll(async () => {
    world = await startImap();
    const cert = await selfSignedTls();
    original = fingerprintOf(cert.cert);
    smtp = createSmtpServer({
      hostname: 'mx.sante.gouv.tg',
      role: 'mx',
      tls: cert,
      directory: world.directory,
      blobs: world.blobs,
      delivery: world.store,
      authenticator: testAuthenticator(world.directory, {}),
    });
    smtpPort = await smtp.listen(0, '127.0.0.1');
  }, 60_000);
  afterAll(async () => {
    await smtp.close(100);
    await world.close();
  });

  const imapStartTls = { greeting: /^\* OK/m, command: 'a STARTTLS\r\n', ready: /^a OK/m };

  it('IMAP: STARTTLS and implicit TLS', async () => {
    expect(await peer(world.tlsPort)).toBe(original);
    const next = await anotherCertificate();
    world.server.setSecureContext(next);
    expect(await peer(world.tlsPort)).toBe(next.fingerprint);
    expect(await peer(world.port, imapStartTls)).toBe(next.fingerprint);
    // A key that is not the certificate's: thrown, nothing changed.
    const other = await anotherCertificate();
    expect(() => world.server.setSecureContext({ cert: other.cert, key: next.key })).toThrow();
    expect(() => world.server.setSecureContext({ cert: Buffer.from('not a certificate'), key: next.key })).toThrow();
    expect(await peer(world.tlsPort)).toBe(next.fingerprint);
    expect(await peer(world.port, imapStartTls)).toBe(next.fingerprint);
  });

  it('SMTP: STARTTLS', async () => {
    // STARTTLS right after the greeting (RFC 3207 allows it before EHLO with smtp-server).
    const starttls = () => peer(smtpPort, { greeting: /^220 /m, command: 'STARTTLS\r\n', ready: /^220 /m });
    expect(await starttls()).toBe(original);
    const next = await anotherCertificate();
    smtp.setSecureContext(next);
    expect(await starttls()).toBe(next.fingerprint);
    const other = await anotherCertificate();
    expect(() => smtp.setSecureContext({ cert: other.cert, key: next.key })).toThrow();
    expect(await starttls()).toBe(next.fingerprint);
  });
});
