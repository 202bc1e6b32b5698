import { execFileSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { skipWithout } from '@palabre/core/testing';
import { child as childOf, elements, parseXml, textOf, attribute } from '@palabre/webdav';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeSite, spawnServe, waitForLine, stopServe, type Site } from './helpers.js';

const USER = 'agent@interieur.gouv.test';
const PASS = 'A long enough passphrase';

/** An HTTPS GET to the self-signed server: status, headers and body bytes. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, rejectUnauthorized: false, servername: 'mail.gouv.test' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
    req.end();
  });
}

/** What a listener really speaks first: a TLS handshake (implicit TLS) or a greeting offering STARTTLS. */
async function socketType(port: number, protocol: 'imap' | 'smtp'): Promise<'SSL' | 'STARTTLS' | 'plain'> {
  const implicit = await new Promise<boolean>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.setTimeout(3000, () => (s.destroy(), resolve(false)));
  });
  if (implicit) return 'SSL';
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let seen = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      seen += d;
      if (protocol === 'imap' && /^\* OK/m.test(seen) && !seen.includes('a OK')) s.write('a CAPABILITY\r\n');
      if (protocol === 'smtp' && /^220 /m.test(seen) && !seen.includes('EHLO-sent')) {
        seen += 'EHLO-sent';
        s.write('EHLO client.example\r\n');
      }
      if ((protocol === 'imap' && /^a OK/m.test(seen)) || (protocol === 'smtp' && /^250 /m.test(seen))) {
        s.destroy();
        resolve(/STARTTLS/.test(seen) ? 'STARTTLS' : 'plain');
      }
    });
    s.once('error', reject);
  });
}

/** Onboarding answers from a running `palabre serve` with TLS on: the ports and TLS modes they name are the real ones. */
describe('onboarding answers under palabre serve with TLS', () => {
  let site: Site;
  let server: ChildProcess;
  const ports = { http: 0, imap: 0, imaps: 0, submission: 0 };
  let certPem = '';

  beforeAll(async () => {
    site = await makeSite('sqlite');
    for (const argv of [['domain', 'add', 'interieur.gouv.test'], ['user', 'add', USER, '--password', PASS]]) expect((await site.run(...argv)).code).toBe(0);
    // An ECDSA certificate, as many CAs issue now: the profile is signed with it.
    const certFile = join(site.dataDir, 'server.crt');
    const keyFile = join(site.dataDir, 'server.key');
    if (skipWithout('openssl')) return;
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=mail.gouv.test', '-addext', 'subjectAltName=DNS:mail.gouv.test'], { stdio: 'pipe' });
    certPem = readFileSync(certFile, 'utf8');
    Object.assign(ports, { http: await freePort(), imap: await freePort(), imaps: await freePort(), submission: await freePort() });
    await writeFile(join(site.dataDir, 'palabre.json'), JSON.stringify({ hostname: 'mail.gouv.test', tls: { certFile, keyFile }, ports: { imaps: ports.imaps } }));
    server = spawnServe(site.dataDir, { http: ports.http, imap: ports.imap, submission: ports.submission }, { ...site.env, DATABASE_URL: '' });
    await waitForLine(server, /server\.started/);
  }, 120_000);
  afterAll(async () => {
    await stopServe(server);
    await site.cleanup();
  });

  it('autoconfig names each listener with the TLS mode it really speaks', async () => {
    if (!certPem) return;
    const res = await get(ports.http, `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(USER)}`);
    expect(res.status).toBe(200);
    const provider = childOf(parseXml(res.body.toString('utf8')), '', 'emailProvider')!;
    const servers = elements(provider)
      .filter((e) => e.name === 'incomingServer' || e.name === 'outgoingServer')
      .map((e) => ({ type: attribute(e, '', 'type'), host: textOf(childOf(e, '', 'hostname')!), port: Number(textOf(childOf(e, '', 'port')!)), socket: textOf(childOf(e, '', 'socketType')!), user: textOf(childOf(e, '', 'username')!) }));
    expect(servers.map((s) => [s.type, s.port, s.socket]).sort()).toEqual(
      [
        ['imap', ports.imaps, 'SSL'],
        ['imap', ports.imap, 'STARTTLS'],
        ['smtp', ports.submission, 'STARTTLS'],
      ].sort(),
    );
    for (const s of servers) {
      expect(s.host).toBe('mail.gouv.test');
      // Thunderbird substitutes the address typed in: the user name is the address.
      expect(s.user).toBe('%EMAILADDRESS%');
      expect(await socketType(s.port, s.type === 'imap' ? 'imap' : 'smtp'), `${s.type}:${s.port}`).toBe(s.socket);
    }
  });

  it('the Apple profile is signed with the server certificate and names the real ports', async () => {
    if (!certPem) return;
    const res = await get(ports.http, '/onboarding/palabre.mobileconfig', { authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` });
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/x-apple-aspen-config');
    const der = join(site.dataDir, 'profile.der');
    const signerOut = join(site.dataDir, 'signer.pem');
    await writeFile(der, res.body);
    await writeFile(join(site.dataDir, 'ca.pem'), certPem);
    const plist = execFileSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', der, '-CAfile', join(site.dataDir, 'ca.pem'), '-purpose', 'any', '-signer', signerOut], { stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
    expect(new X509Certificate(readFileSync(signerOut)).fingerprint256).toBe(new X509Certificate(certPem).fingerprint256);
    expect(plist).toContain(`<integer>${ports.imaps}</integer>`);
    expect(plist).toContain(`<integer>${ports.http}</integer>`);
    expect(plist).toContain('mail.gouv.test');
    expect(plist).not.toMatch(/Password<\/key>\s*<string>/);
  });
});
