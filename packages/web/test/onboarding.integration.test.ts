import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDirectoryStore, skipWithout, testAuthenticator, testHttpAuthenticator } from '@palabre/core/testing';
import { child, elements, parseXml, textOf, attribute, type XmlElement } from '@palabre/webdav';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmsSigner, createOnboardingHandler, MOBILECONFIG_PATH, type OnboardingEndpoints } from '../src/index.js';

const USER = 'agent@interieur.gouv.test';
const PASS = 'A long enough passphrase';
const ENDPOINTS: OnboardingEndpoints = {
  hostname: 'mail.gouv.test',
  imap: [
    { port: 1143, socket: 'STARTTLS' },
    { port: 1993, socket: 'SSL' },
  ],
  submission: [{ port: 2587, socket: 'STARTTLS' }],
  http: { port: 8443, tls: true },
  davPath: '/dav/',
};

/** Thunderbird's reading of config-v1.1 (readFromXML): values outside its tables are refused. */
function readAsThunderbird(xml: string) {
  const root = parseXml(xml);
  expect(root.name).toBe('clientConfig');
  const provider = child(root, '', 'emailProvider')!;
  const socketTypes: Record<string, number> = { plain: 1, SSL: 2, STARTTLS: 3 };
  const auths = new Set(['password-cleartext', 'plain', 'password-encrypted', 'secure', 'GSSAPI', 'NTLM', 'OAuth2']);
  const server = (el: XmlElement) => {
    const port = Number(textOf(child(el, '', 'port')!));
    const socketType = textOf(child(el, '', 'socketType')!);
    const authentication = textOf(child(el, '', 'authentication')!);
    if (!(port >= 1 && port <= 65535) || !(socketType in socketTypes) || !auths.has(authentication))
      throw new Error('Thunderbird would refuse this');
    return {
      type: attribute(el, '', 'type'),
      hostname: textOf(child(el, '', 'hostname')!),
      port,
      socketType,
      authentication,
      username: textOf(child(el, '', 'username')!),
    };
  };
  return {
    domains: elements(provider)
      .filter((e) => e.name === 'domain')
      .map(textOf),
    incoming: elements(provider)
      .filter((e) => e.name === 'incomingServer')
      .map(server),
    outgoing: elements(provider)
      .filter((e) => e.name === 'outgoingServer')
      .map(server),
  };
}

describe('onboarding on a real HTTP server', () => {
  let server: Server;
  let origin: string;
  let tmp: string;
  let signer: CmsSigner | null = null;
  const directory = new MemoryDirectoryStore();
  beforeAll(async () => {
    await directory.createDomain({ name: 'interieur.gouv.test' });
    await directory.addDomainAlias('interieur.gouv.test', 'mininter.test');
    await directory.createAccount({ address: USER, displayName: 'Agent Public' });
    tmp = mkdtempSync(join(tmpdir(), 'palabre-web-'));
    if (!skipWithout('openssl')) {
      const run = (...args: string[]) => execFileSync('openssl', args, { cwd: tmp, stdio: 'pipe' });
      run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test Root');
      run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=mail.gouv.test');
      writeFileSync(join(tmp, 'ext'), 'subjectAltName=DNS:mail.gouv.test\nkeyUsage=digitalSignature\n');
      run(
        'x509',
        '-req',
        '-in',
        'leaf.csr',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'leaf.pem',
        '-days',
        '2',
        '-extfile',
        'ext',
      );
      signer = await CmsSigner.create({ cert: readFileSync(join(tmp, 'leaf.pem')), key: readFileSync(join(tmp, 'leaf.key')) });
    }
    const handler = createOnboardingHandler({
      endpoints: ENDPOINTS,
      directory,
      authenticator: testHttpAuthenticator(testAuthenticator(directory, { [USER]: PASS })),
      signer,
      isSecure: () => true,
      organization: 'Gouvernement',
    });
    server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('answers Thunderbird for a ministry subdomain and for its alias domain', async () => {
    for (const address of [USER, 'anyone@mininter.test']) {
      const res = await fetch(`${origin}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(address)}`);
      expect(res.status).toBe(200);
      const tb = readAsThunderbird(await res.text());
      expect(tb.domains).toEqual([address.split('@')[1]]);
      expect(tb.incoming[0]).toEqual({
        type: 'imap',
        hostname: 'mail.gouv.test',
        port: 1993,
        socketType: 'SSL',
        authentication: 'password-cleartext',
        username: '%EMAILADDRESS%',
      });
      expect(tb.incoming[1]).toMatchObject({ port: 1143, socketType: 'STARTTLS' });
      expect(tb.outgoing).toEqual([
        {
          type: 'smtp',
          hostname: 'mail.gouv.test',
          port: 2587,
          socketType: 'STARTTLS',
          authentication: 'password-cleartext',
          username: '%EMAILADDRESS%',
        },
      ]);
    }
    // fetch may not set Host: node:http does, as Thunderbird's request to autoconfig.<domain> would.
    const viaHost = await new Promise<number>((resolve, reject) =>
      request(`${origin}/mail/config-v1.1.xml`, { headers: { host: 'autoconfig.interieur.gouv.test' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end(),
    );
    expect(viaHost).toBe(200);
    expect((await fetch(`${origin}/mail/config-v1.1.xml?emailaddress=x@unhosted.test`)).status).toBe(404);
  });

  it('answers Outlook POX and the v2 JSON endpoint', async () => {
    const body = `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${USER}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`;
    const res = await fetch(`${origin}/Autodiscover/Autodiscover.xml`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
    expect(res.status).toBe(200);
    const root = parseXml(await res.text());
    const account = child(
      child(root, 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006', 'Response') ??
        child(root, 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a', 'Response')!,
      'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a',
      'Account',
    )!;
    const protocols = elements(account)
      .filter((e) => e.name === 'Protocol')
      .map((p) => Object.fromEntries(elements(p).map((e) => [e.name, textOf(e)])));
    expect(protocols.map((p) => [p.Type, p.Server, p.Port, p.SSL, p.LoginName])).toEqual([
      ['IMAP', 'mail.gouv.test', '1993', 'on', USER],
      ['SMTP', 'mail.gouv.test', '2587', 'on', USER],
    ]);
    const json = await fetch(`${origin}/autodiscover/autodiscover.json/v1.0/${USER}?Protocol=AutodiscoverV1`);
    expect(await json.json()).toEqual({ Protocol: 'AutodiscoverV1', Url: 'https://mail.gouv.test:8443/autodiscover/autodiscover.xml' });
    expect((await fetch(`${origin}/autodiscover/autodiscover.json/v1.0/${USER}?Protocol=ActiveSync`)).status).toBe(400);
  });

  it('refuses hostile requests with a precise status', async () => {
    const post = (body: string) => fetch(`${origin}/autodiscover/autodiscover.xml`, { method: 'POST', body });
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>&b;</EMailAddress></Request></Autodiscover>';
    expect((await post(bomb)).status).toBe(400);
    expect((await post('<a>'.repeat(100))).status).toBe(400);
    expect((await post('x'.repeat(10 * 1024 * 1024)).catch(() => ({ status: 413 }))).status).toBe(413);
    for (const bad of ['nobody', 'a@b.test\r\nSet-Cookie: x=1', '<script>@interieur.gouv.test', 'a@@interieur.gouv.test']) {
      const res = await fetch(`${origin}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    expect(
      (await fetch(`${origin}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=a@interieur.gouv.test&emailaddress=b@x.test`))
        .status,
    ).toBe(400);
    const anonymous = await fetch(`${origin}${MOBILECONFIG_PATH}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('gives the signed-in user a configuration profile', async () => {
    const res = await fetch(`${origin}${MOBILECONFIG_PATH}`, {
      headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    const bytes = Buffer.from(await res.arrayBuffer());
    let plist = bytes.toString('utf8');
    if (signer) {
      const file = join(tmp, 'profile.der');
      writeFileSync(file, bytes);
      plist = execFileSync(
        'openssl',
        ['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', join(tmp, 'ca.pem'), '-purpose', 'any'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ).toString('utf8');
      execFileSync('openssl', ['smime', '-verify', '-inform', 'DER', '-in', file, '-CAfile', join(tmp, 'ca.pem'), '-purpose', 'any'], {
        stdio: 'pipe',
      });
    }
    expect(plist).not.toMatch(/Password<\/key>\s*<string>/);
    const root = parseXml(plist.replace(/<!DOCTYPE plist [^>]*>/, ''));
    const text = JSON.stringify(root);
    for (const needle of ['com.apple.mail.managed', 'com.apple.caldav.account', 'com.apple.carddav.account', 'mail.gouv.test', USER])
      expect(text).toContain(needle);
    if (!skipWithout('python3')) {
      const out = execFileSync(
        'python3',
        [
          '-c',
          'import plistlib,sys,json; p=plistlib.loads(sys.stdin.buffer.read()); print(json.dumps([[c["PayloadType"], c.get("IncomingMailServerPortNumber") or c.get("CalDAVPort") or c.get("CardDAVPort")] for c in p["PayloadContent"]]))',
        ],
        { input: plist },
      ).toString();
      expect(JSON.parse(out)).toEqual([
        ['com.apple.mail.managed', 1993],
        ['com.apple.caldav.account', 8443],
        ['com.apple.carddav.account', 8443],
      ]);
    }
  });

  it('signs with an ECDSA server key as well, verifiable by openssl', async () => {
    if (skipWithout('openssl')) return;
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: tmp, stdio: 'pipe' });
    for (const curve of ['P-256', 'P-384']) {
      const name = `ec-${curve}`;
      run('req', '-x509', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', '/CN=mail.gouv.test', '-addext', 'subjectAltName=DNS:mail.gouv.test');
      const ec = await CmsSigner.create({ cert: readFileSync(join(tmp, `${name}.pem`)), key: readFileSync(join(tmp, `${name}.key`)) });
      const content = Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict/></plist>');
      writeFileSync(join(tmp, `${name}.der`), await ec.sign(content));
      const out = execFileSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', join(tmp, `${name}.der`), '-CAfile', join(tmp, `${name}.pem`), '-purpose', 'any'], { stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out.equals(content), curve).toBe(true);
      // One changed byte of the signed content and the signature no longer verifies.
      const signed = readFileSync(join(tmp, `${name}.der`));
      const at = signed.indexOf(Buffer.from('<dict/>'));
      signed[at + 1] = 0x44;
      writeFileSync(join(tmp, `${name}-bad.der`), signed);
      expect(() => run('cms', '-verify', '-inform', 'DER', '-in', `${name}-bad.der`, '-CAfile', `${name}.pem`, '-purpose', 'any')).toThrow();
    }
    const ed = join(tmp, 'ed.key');
    run('genpkey', '-algorithm', 'ed25519', '-out', ed);
    run('req', '-x509', '-key', ed, '-out', 'ed.pem', '-days', '2', '-subj', '/CN=mail.gouv.test');
    await expect(CmsSigner.create({ cert: readFileSync(join(tmp, 'ed.pem')), key: readFileSync(ed) })).rejects.toThrow(/RSA or ECDSA/);
  });
});
