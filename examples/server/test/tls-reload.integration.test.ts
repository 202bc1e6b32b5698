import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { get as httpsGet } from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { freePort, makeSite, spawnServe, waitForLine, type Site } from './helpers.js';

interface Pem {
  cert: string;
  key: string;
  fingerprint: string;
}

async function certificate(names: string[], days = 30, startDaysAgo = 0): Promise<Pem> {
  const pems = await generate([{ name: 'commonName', value: names[0]! }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - startDaysAgo * 86_400_000 - 60_000),
    notAfterDate: new Date(Date.now() + days * 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) }],
  });
  return { cert: pems.cert, key: pems.private, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

/** Lines of a plain socket that may be upgraded to TLS in place (STARTTLS), as a client does it. */
class Conversation {
  private buffer = '';
  private waiting: (() => void) | null = null;
  constructor(public socket: net.Socket | tls.TLSSocket) {
    this.listen();
  }
  private listen() {
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.buffer += d;
      this.waiting?.();
    });
    this.socket.on('error', () => undefined);
  }
  async until(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const started = Date.now();
    while (!pattern.test(this.buffer)) {
      if (Date.now() - started > timeoutMs || this.socket.destroyed) throw new Error(`no ${pattern} in ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 200);
      });
    }
    const seen = this.buffer;
    this.buffer = '';
    return seen;
  }
  send(line: string) {
    this.socket.write(`${line}\r\n`);
  }
  async upgrade(servername?: string): Promise<string> {
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket as net.Socket, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
    await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.listen();
    return secure.getPeerCertificate().fingerprint256;
  }
  static connect(port: number): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new Conversation(socket))).once('error', reject);
    });
  }
}

/** The certificate a new TLS client gets from an implicit-TLS port (HTTPS), for a server name. */
function httpsFingerprint(port: number, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

async function imapFingerprint(port: number, servername?: string): Promise<string> {
  const c = await Conversation.connect(port);
  await c.until(/^\* OK/m);
  c.send('a STARTTLS');
  await c.until(/^a OK/m);
  const fingerprint = await c.upgrade(servername);
  c.socket.destroy();
  return fingerprint;
}

async function smtpFingerprint(port: number): Promise<string> {
  const c = await Conversation.connect(port);
  await c.until(/^220 /m);
  c.send('EHLO client.example');
  await c.until(/^250 /m);
  c.send('STARTTLS');
  await c.until(/^220 /m);
  const fingerprint = await c.upgrade();
  c.socket.destroy();
  return fingerprint;
}

/** Ask until `probe` answers `expected` (the watcher waits for renewals to settle). */
async function eventually(probe: () => Promise<string>, expected: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < timeoutMs) {
    last = await probe();
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(last).toBe(expected);
}

describe('palabre serve TLS certificates', () => {
  let site: Site;
  let child: ChildProcess;
  let output = '';
  const ports = { http: 0, imap: 0, smtp: 0, redirect: 0 };
  let first: Pem;
  let second: Pem;
  let drive: Pem;
  let certFile: string;
  let keyFile: string;

  /** Replace the pair the way certbot and acme.sh do: new files renamed over the old ones. */
  const install = async (pem: { cert: string; key: string }) => {
    await writeFile(`${keyFile}.new`, pem.key);
    await writeFile(`${certFile}.new`, pem.cert);
    await rename(`${keyFile}.new`, keyFile);
    await rename(`${certFile}.new`, certFile);
  };

  beforeAll(async () => {
    site = await makeSite('sqlite');
    [first, second, drive] = await Promise.all([
      certificate(['mail.sante.gouv.tg', 'localhost']),
      certificate(['mail.sante.gouv.tg', 'localhost']),
      certificate(['drive.sante.gouv.tg', '*.agents.sante.gouv.tg']),
    ]);
    certFile = join(site.dataDir, 'mail.crt');
    keyFile = join(site.dataDir, 'mail.key');
    await install(first);
    await writeFile(join(site.dataDir, 'drive.crt'), drive.cert);
    await writeFile(join(site.dataDir, 'drive.key'), drive.key);
    await writeFile(
      join(site.dataDir, 'palabre.json'),
      JSON.stringify({
        tls: {
          certFile,
          keyFile,
          acmeWebroot: join(site.dataDir, 'webroot'),
          certificates: [{ certFile: join(site.dataDir, 'drive.crt'), keyFile: join(site.dataDir, 'drive.key') }],
        },
      }),
    );
    Object.assign(ports, { http: await freePort(), imap: await freePort(), smtp: await freePort(), redirect: await freePort() });
    child = spawnServe(
      site.dataDir,
      { http: ports.http, smtp: ports.smtp, imap: ports.imap, 'http-redirect': ports.redirect },
      { ...site.env, DATABASE_URL: '' },
    );
    child.stdout!.on('data', (d: Buffer) => (output += d));
    child.stderr!.on('data', (d: Buffer) => (output += d));
    await waitForLine(child, /server\.started/);
  }, 120_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await site.cleanup();
  });

  it('chooses the certificate by the name the client asks for (SNI), on HTTPS and mail', async () => {
    expect(await httpsFingerprint(ports.http)).toBe(first.fingerprint);
    expect(await httpsFingerprint(ports.http, 'drive.sante.gouv.tg')).toBe(drive.fingerprint);
    expect(await httpsFingerprint(ports.http, 'DRIVE.sante.gouv.tg')).toBe(drive.fingerprint);
    expect(await httpsFingerprint(ports.http, 'bureau.agents.sante.gouv.tg')).toBe(drive.fingerprint);
    // A wildcard covers one label only; an unknown name gets the default.
    expect(await httpsFingerprint(ports.http, 'a.b.agents.sante.gouv.tg')).toBe(first.fingerprint);
    expect(await httpsFingerprint(ports.http, 'mail.sante.gouv.tg')).toBe(first.fingerprint);
    expect(await imapFingerprint(ports.imap, 'drive.sante.gouv.tg')).toBe(drive.fingerprint);
    expect(await imapFingerprint(ports.imap)).toBe(first.fingerprint);
    expect(await smtpFingerprint(ports.smtp)).toBe(first.fingerprint);
  });

  it('serves a certificate swapped on disk to the next client while an IMAP session over TLS stays up', async () => {
    const session = await Conversation.connect(ports.imap);
    await session.until(/^\* OK/m);
    session.send('a STARTTLS');
    await session.until(/^a OK/m);
    expect(await session.upgrade()).toBe(first.fingerprint);
    session.send('b NOOP');
    await session.until(/^b OK/m);

    await install(second);
    await eventually(() => httpsFingerprint(ports.http), second.fingerprint);
    expect(await imapFingerprint(ports.imap)).toBe(second.fingerprint);
    expect(await smtpFingerprint(ports.smtp)).toBe(second.fingerprint);
    expect(output).toMatch(/"msg":"tls\.reloaded"[^\n]*"reason":"file changed"|"reason":"file changed"[^\n]*"msg":"tls\.reloaded"/);

    // The session opened before is still there, on its old certificate, and answers.
    session.send('c NOOP');
    expect(await session.until(/^c OK/m)).toMatch(/^c OK/m);
    expect((session.socket as tls.TLSSocket).getPeerCertificate().fingerprint256).toBe(first.fingerprint);
    session.send('d LOGOUT');
    await session.until(/^d OK/m);
  });

  it('refuses a bad new certificate with a log line and keeps serving the old one', async () => {
    const before = output.length;
    // Half a renewal: the new certificate with the old key.
    const third = await certificate(['mail.sante.gouv.tg']);
    await install({ cert: third.cert, key: second.key });
    for (let i = 0; i < 100 && !/tls\.reload-refused/.test(output.slice(before)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(output.slice(before)).toMatch(/tls\.reload-refused[^\n]*is not the key of|is not the key of[^\n]*tls\.reload-refused/);
    expect(await httpsFingerprint(ports.http)).toBe(second.fingerprint);
    expect(await imapFingerprint(ports.imap)).toBe(second.fingerprint);

    // Not PEM at all, then an expired certificate: refused the same way.
    const garbage = output.length;
    await install({ cert: '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n', key: second.key });
    for (let i = 0; i < 100 && !/not a PEM certificate/.test(output.slice(garbage)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(output.slice(garbage)).toMatch(/not a PEM certificate/);
    const expired = await certificate(['mail.sante.gouv.tg'], -1, 30);
    const late = output.length;
    await install(expired);
    for (let i = 0; i < 100 && !/expired on/.test(output.slice(late)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(output.slice(late)).toMatch(/expired on/);
    expect(await smtpFingerprint(ports.smtp)).toBe(second.fingerprint);
  });

  it('reloads on SIGHUP without stopping', async () => {
    await install(first);
    const before = output.length;
    child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/"reason":"SIGHUP"/.test(output.slice(before)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(output.slice(before)).toMatch(/"reason":"SIGHUP"/);
    expect(child.exitCode).toBeNull();
    expect(await httpsFingerprint(ports.http)).toBe(first.fingerprint);
  });
});

/** One plain-HTTP request with exactly the Host header and target we choose (fetch forbids both). */
function plainRequest(
  port: number,
  target: string,
  host: string | undefined,
  method = 'GET',
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: target, method, setHost: false, headers: host === undefined ? {} : { host } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The whole answer to bytes written as they are (no client normalising the path). */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

describe('palabre serve with HTTPS: the plain HTTP port redirects, HTTPS answers carry HSTS', () => {
  let site: Site;
  let child: ChildProcess;
  const ports = { https: 0, redirect: 0 };
  beforeAll(async () => {
    site = await makeSite('sqlite');
    const pem = await certificate(['mail.sante.gouv.tg', 'localhost']);
    await writeFile(join(site.dataDir, 'mail.crt'), pem.cert);
    await writeFile(join(site.dataDir, 'mail.key'), pem.key);
    await mkdir(join(site.dataDir, 'webroot', '.well-known', 'acme-challenge'), { recursive: true });
    await writeFile(join(site.dataDir, 'webroot', '.well-known', 'acme-challenge', 'tok3n_-A'), 'tok3n_-A.thumbprint');
    await writeFile(
      join(site.dataDir, 'palabre.json'),
      JSON.stringify({
        hostname: 'mail.sante.gouv.tg',
        tls: {
          certFile: join(site.dataDir, 'mail.crt'),
          keyFile: join(site.dataDir, 'mail.key'),
          acmeWebroot: join(site.dataDir, 'webroot'),
        },
      }),
    );
    Object.assign(ports, { https: await freePort(), redirect: await freePort() });
    child = spawnServe(site.dataDir, { http: ports.https, 'http-redirect': ports.redirect }, { ...site.env, DATABASE_URL: '' });
    const banner = await waitForLine(child, /server\.started/);
    expect(banner).toContain(`redirect:  http://127.0.0.1:${ports.redirect}/ answers 308 to HTTPS`);
  }, 120_000);
  afterAll(async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await site.cleanup();
  });

  it('answers 308 to the same path and query over HTTPS, on the host the client named', async () => {
    const r = await plainRequest(
      ports.redirect,
      '/dav/files/awa@sante.gouv.tg/Rapport%202026.odt?x=1',
      `mail.sante.gouv.tg:${ports.redirect}`,
    );
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe(`https://mail.sante.gouv.tg:${ports.https}/dav/files/awa@sante.gouv.tg/Rapport%202026.odt?x=1`);
    expect(r.headers['strict-transport-security']).toBeUndefined(); // RFC 6797 §7.2: never over plain HTTP
    // 308 keeps the method: a PUT is redirected, not turned into a GET, and nothing is stored here.
    expect((await plainRequest(ports.redirect, '/dav/files/x', 'mail.sante.gouv.tg', 'PUT', 'body')).status).toBe(308);
    expect((await plainRequest(ports.redirect, '/', '[::1]:80')).headers.location).toBe(`https://[::1]:${ports.https}/`);
    // The redirected-to URL works, with HSTS.
    const https = await new Promise<http.IncomingMessage>((resolve, reject) =>
      httpsGet({ host: '127.0.0.1', port: ports.https, path: '/', rejectUnauthorized: false }, resolve).on('error', reject),
    );
    expect(https.statusCode).toBe(200);
    expect(https.headers['strict-transport-security']).toBe('max-age=31536000');
    https.resume();
  });

  it('names no host but its own for a Host header that is not one, and survives hostile requests', async () => {
    for (const host of ['evil.example/@x', 'a b', 'x@evil.example', 'evil.example?x', 'evil.example#x', '', 'a'.repeat(400), undefined]) {
      const r = await plainRequest(ports.redirect, '/inbox', host);
      expect(r.status === 308 || r.status === 400).toBe(true);
      if (r.status === 308) expect(r.headers.location).toBe(`https://mail.sante.gouv.tg:${ports.https}/inbox`);
    }
    // Absolute-form and asterisk targets: to the root, not to wherever they point.
    expect((await plainRequest(ports.redirect, 'http://evil.example/x', 'mail.sante.gouv.tg')).headers.location).toBe(
      `https://mail.sante.gouv.tg:${ports.https}/`,
    );
    expect(await rawRequest(ports.redirect, 'GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawRequest(ports.redirect, `GET / HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect((await plainRequest(ports.redirect, '/', 'mail.sante.gouv.tg')).status).toBe(308);
  });

  it('serves ACME HTTP-01 challenges from the webroot, and nothing else from it', async () => {
    const ok = await plainRequest(ports.redirect, '/.well-known/acme-challenge/tok3n_-A', 'mail.sante.gouv.tg');
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('tok3n_-A.thumbprint');
    expect((await plainRequest(ports.redirect, '/.well-known/acme-challenge/unknown', 'mail.sante.gouv.tg')).status).toBe(404);
    expect(
      (await plainRequest(ports.redirect, '/.well-known/acme-challenge/..%2f..%2f..%2fpalabre.json', 'mail.sante.gouv.tg')).status,
    ).toBe(404);
    expect(
      await rawRequest(
        ports.redirect,
        'GET /.well-known/acme-challenge/../../../palabre.json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
      ),
    ).toMatch(/^HTTP\/1\.1 404 /);
    expect((await plainRequest(ports.redirect, '/.well-known/acme-challenge/tok3n_-A', 'mail.sante.gouv.tg', 'POST', 'x')).status).toBe(
      404,
    );
  });
});
