import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DNSSEC_PROGRAMS, skipWithout, startDnssecLab, type DnssecLab } from '@palabre/core/testing';
import { createDnssecResolver } from '@palabre/mail';
import { generate } from 'selfsigned';
import { parseConfig } from '@palabre/core';
import {
  checkCertificate,
  checkDnssecResolver,
  checkHostname,
  checkMailDomain,
  configFindings,
  configuredSrv,
  DEFAULT_SRV,
  recordsToPublish,
  type DoctorResolver,
} from '../src/doctor/checks.js';

function fakeDns(records: Record<string, unknown[]>): DoctorResolver {
  const answer = (key: string) => async () => {
    if (key in records) return records[key] as never;
    throw Object.assign(new Error(`queryX ENOTFOUND ${key}`), { code: 'ENOTFOUND' });
  };
  return {
    resolveMx: (n) => answer(`MX ${n}`)(),
    resolveTxt: (n) => answer(`TXT ${n}`)(),
    resolveSrv: (n) => answer(`SRV ${n}`)(),
    resolveCname: (n) => answer(`CNAME ${n}`)(),
    resolve4: (n) => answer(`A ${n}`)(),
    resolve6: (n) => answer(`AAAA ${n}`)(),
    reverse: (ip) => answer(`PTR ${ip}`)(),
  };
}

describe('palabre doctor', () => {
  it('passes a well-published mail domain', async () => {
    const dns = fakeDns({
      'MX sante.gouv.tg': [{ exchange: 'mail.gouv.tg', priority: 10 }],
      'TXT sante.gouv.tg': [['v=spf1 mx ', '-all']],
      'TXT _dmarc.sante.gouv.tg': [['v=DMARC1; p=reject']],
      'TXT _mta-sts.sante.gouv.tg': [['v=STSv1; id=1']],
      ...Object.fromEntries(
        DEFAULT_SRV.map(([s, port]) => [`SRV ${s}.sante.gouv.tg`, [{ name: 'mail.gouv.tg', port, priority: 0, weight: 1 }]]),
      ),
      'TXT _caldavs._tcp.sante.gouv.tg': [['path=/dav/']],
      'TXT _carddavs._tcp.sante.gouv.tg': [['path=/dav/']],
      'CNAME autoconfig.sante.gouv.tg': ['mail.gouv.tg.'],
      // A and not CNAME: the same address as the server is good enough.
      'A autodiscover.sante.gouv.tg': ['192.0.2.25'],
      'A mail.gouv.tg': ['192.0.2.25'],
    });
    const findings = await checkMailDomain(dns, 'sante.gouv.tg', 'mail.gouv.tg');
    expect(findings.filter((f) => f.verdict !== 'ok')).toEqual([]);
    expect(findings.map((f) => f.message)).toEqual(
      expect.arrayContaining([
        '_caldavs._tcp.sante.gouv.tg TXT path=/dav/',
        'autoconfig.sante.gouv.tg → mail.gouv.tg',
        "autodiscover.sante.gouv.tg resolves to mail.gouv.tg's address",
      ]),
    );
  });

  it('says when the DAV path records or the discovery names point elsewhere', async () => {
    const dns = fakeDns({
      'TXT _caldavs._tcp.sante.gouv.tg': [['path=/remote.php/dav/']],
      'CNAME autoconfig.sante.gouv.tg': ['old-mail.sante.gouv.tg.'],
      'A autodiscover.sante.gouv.tg': ['198.51.100.7'],
      'A mail.gouv.tg': ['192.0.2.25'],
    });
    const findings = await checkMailDomain(dns, 'sante.gouv.tg', 'mail.gouv.tg');
    const text = findings.map((f) => `${f.verdict} ${f.message} | ${f.fix ?? ''}`).join('\n');
    expect(text).toContain(
      'warn _caldavs._tcp.sante.gouv.tg TXT says path=/remote.php/dav/, but Palabre serves /dav/ | _caldavs._tcp.sante.gouv.tg. TXT "path=/dav/"',
    );
    expect(text).toContain('warn no _carddavs._tcp.sante.gouv.tg TXT path record');
    expect(text).toContain(
      'warn autoconfig.sante.gouv.tg is a CNAME to old-mail.sante.gouv.tg., not mail.gouv.tg | autoconfig.sante.gouv.tg. CNAME mail.gouv.tg.',
    );
    expect(text).toContain('warn autodiscover.sante.gouv.tg resolves to 198.51.100.7, not to mail.gouv.tg');
    // Without an HTTP listener there is nothing to point at.
    const mailOnly = await checkMailDomain(dns, 'sante.gouv.tg', 'mail.gouv.tg', [['_imaps._tcp', 993]]);
    expect(mailOnly.some((f) => /autoconfig|TXT path/.test(f.message))).toBe(false);
  });

  it('says what to publish when records are missing or weak', async () => {
    const dns = fakeDns({
      'MX sante.gouv.tg': [],
      'TXT sante.gouv.tg': [['v=spf1 +all'], ['google-site-verification=x']],
      'TXT _dmarc.sante.gouv.tg': [['v=DMARC1; p=none']],
    });
    const findings = await checkMailDomain(dns, 'sante.gouv.tg', 'mail.gouv.tg');
    const text = findings.map((f) => `${f.verdict} ${f.message} ${f.fix ?? ''}`).join('\n');
    expect(text).toMatch(/fail no MX record.*sante\.gouv\.tg\. MX 10 mail\.gouv\.tg\./);
    expect(text).toMatch(/warn SPF "v=spf1 \+all" does not end in -all/);
    expect(text).toMatch(/warn DMARC p=none only monitors/);
    expect(text).toMatch(/warn no _imaps\._tcp SRV record.*_imaps\._tcp\.sante\.gouv\.tg\. SRV 0 1 993 mail\.gouv\.tg\./);
  });

  it('reports a DNS outage as a failure, not as missing records', async () => {
    const broken: DoctorResolver = {
      ...fakeDns({}),
      resolveMx: async () => Promise.reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })),
    };
    expect(await checkMailDomain(broken, 'sante.gouv.tg', 'mail.gouv.tg')).toEqual([
      expect.objectContaining({ verdict: 'fail', message: expect.stringContaining('DNS lookups failed') }),
    ]);
  });

  it('checks that the server name resolves forward and back', async () => {
    const good = fakeDns({ 'A mail.gouv.tg': ['192.0.2.25'], 'AAAA mail.gouv.tg': [], 'PTR 192.0.2.25': ['mail.gouv.tg'] });
    expect((await checkHostname(good, 'mail.gouv.tg')).every((f) => f.verdict === 'ok')).toBe(true);
    const bad = fakeDns({ 'A mail.gouv.tg': ['192.0.2.25'], 'PTR 192.0.2.25': ['dsl-192-0-2-25.isp.example'] });
    expect((await checkHostname(bad, 'mail.gouv.tg')).some((f) => f.verdict === 'warn' && /reverse DNS/.test(f.message))).toBe(true);
    expect((await checkHostname(fakeDns({}), 'mail.gouv.tg'))[0]?.verdict).toBe('fail');
  });

  it('checks the certificate: name, dates, key, self-signed', async () => {
    const pems = await generate([{ name: 'commonName', value: 'mail.gouv.tg' }], {
      keySize: 2048,
      notAfterDate: new Date(Date.now() + 10 * 86_400_000),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'mail.gouv.tg' }] }],
    });
    const other = await generate([{ name: 'commonName', value: 'x' }], { keySize: 2048 });
    const ok = checkCertificate(Buffer.from(pems.cert), Buffer.from(pems.private), 'mail.gouv.tg', false);
    expect(ok.map((f) => f.verdict)).toEqual(['warn', 'ok']); // expires in 10 days
    const wrong = checkCertificate(Buffer.from(pems.cert), Buffer.from(other.private), 'imap.gouv.tg', true);
    const text = wrong.map((f) => `${f.verdict} ${f.message}`).join('\n');
    expect(text).toMatch(/fail certificate does not name imap\.gouv\.tg/);
    expect(text).toMatch(/fail the private key does not match/);
    expect(text).toMatch(/warn self-signed/);
    expect(
      checkCertificate(Buffer.from(pems.cert), Buffer.from(pems.private), 'mail.gouv.tg', false, new Date(Date.now() + 20 * 86_400_000))[0],
    ).toMatchObject({ verdict: 'fail', message: expect.stringContaining('expired') });
    expect(checkCertificate(Buffer.from('garbage'), Buffer.from('x'), 'a', false)[0]?.verdict).toBe('fail');
  });

  it('prints the records of the listeners as configured, and checks SRV ports against them', async () => {
    const config = parseConfig({
      hostname: 'mail.gouv.tg',
      ports: { http: 443, imap: 143, imaps: 993, submission: 587, submissions: 465 },
    });
    expect(recordsToPublish(config, true, 'interieur.gouv.tg')).toEqual([
      'interieur.gouv.tg. MX 10 mail.gouv.tg.',
      '_submissions._tcp.interieur.gouv.tg. SRV 0 1 465 mail.gouv.tg.',
      '_submission._tcp.interieur.gouv.tg. SRV 0 1 587 mail.gouv.tg.',
      '_imaps._tcp.interieur.gouv.tg. SRV 0 1 993 mail.gouv.tg.',
      '_imap._tcp.interieur.gouv.tg. SRV 0 1 143 mail.gouv.tg.',
      '_caldavs._tcp.interieur.gouv.tg. SRV 0 1 443 mail.gouv.tg.',
      '_carddavs._tcp.interieur.gouv.tg. SRV 0 1 443 mail.gouv.tg.',
      '_caldavs._tcp.interieur.gouv.tg. TXT "path=/dav/"',
      '_carddavs._tcp.interieur.gouv.tg. TXT "path=/dav/"',
      'autoconfig.interieur.gouv.tg. CNAME mail.gouv.tg.',
      'autodiscover.interieur.gouv.tg. CNAME mail.gouv.tg.',
    ]);
    const dns = fakeDns({ 'SRV _imaps._tcp.interieur.gouv.tg': [{ name: 'mail.gouv.tg', port: 994, priority: 0, weight: 1 }] });
    const findings = await checkMailDomain(dns, 'interieur.gouv.tg', 'mail.gouv.tg', configuredSrv(config, true));
    expect(findings.find((f) => f.message.startsWith('_imaps._tcp'))).toMatchObject({
      verdict: 'warn',
      fix: '_imaps._tcp.interieur.gouv.tg. SRV 0 1 993 mail.gouv.tg.',
    });
  });
});

describe('doctor: blobs on S3', () => {
  const s3 = (endpoint: string) =>
    parseConfig({ blobs: { kind: 's3', s3: { endpoint, bucket: 'palabre', accessKeyId: 'k', secretAccessKey: 's' } } });
  const warned = (endpoint: string) => configFindings(s3(endpoint)).some((f) => f.verdict === 'warn' && f.message.includes('plain HTTP'));

  it('warns of an S3 endpoint in plain HTTP beyond loopback, not of HTTPS or a local store', () => {
    expect(warned('http://s3.gouv.tg')).toBe(true);
    expect(warned('http://10.1.2.3:8080')).toBe(true);
    expect(warned('https://s3.gouv.tg')).toBe(false);
    expect(warned('http://127.0.0.1:8080')).toBe(false);
    expect(warned('http://[::1]:8080')).toBe(false);
  });
});

describe.skipIf(skipWithout(...DNSSEC_PROGRAMS))('doctor: the DNSSEC resolver DANE relies on (unbound and NSD on loopback)', () => {
  let lab: DnssecLab;
  beforeAll(async () => {
    lab = await startDnssecLab([
      { name: 'signed.test', signed: true, records: ['mx IN A 127.0.0.1'] },
      { name: 'unsigned.test', signed: false, records: ['mx IN A 127.0.0.1'] },
      // Signed, then its key changed under the trust anchor: every answer is bogus.
      { name: 'broken.test', signed: true, records: ['mx IN A 127.0.0.1'], tamper: (t) => t.replace(/(DNSKEY\s+257 3 13 )(\S)/, (_m, a: string, c: string) => `${a}${c === 'A' ? 'B' : 'A'}`) },
    ]);
  }, 60_000);
  afterAll(async () => lab?.close());
  const probe = () => createDnssecResolver({ server: lab.resolver, timeoutMs: 3000 });

  it('says DANE is off without a resolver, ok when AD comes back, and fails a resolver that does not validate', async () => {
    expect(await checkDnssecResolver(undefined, null)).toMatchObject({ verdict: 'warn', message: expect.stringMatching(/^off/) });
    expect(await checkDnssecResolver(lab.resolver, probe(), 'signed.test')).toMatchObject({ verdict: 'ok', message: expect.stringMatching(/validates DNSSEC/) });
    // The authoritative server answers without AD, as a non-validating resolver would.
    const nsd = createDnssecResolver({ server: lab.authoritative, timeoutMs: 3000 });
    expect(await checkDnssecResolver(lab.authoritative, nsd, 'signed.test')).toMatchObject({ verdict: 'fail', message: expect.stringMatching(/without AD/) });
    expect(await checkDnssecResolver(lab.resolver, probe(), 'unsigned.test')).toMatchObject({ verdict: 'fail', message: expect.stringMatching(/without AD/) });
    expect(await checkDnssecResolver(lab.resolver, probe(), 'broken.test')).toMatchObject({ verdict: 'fail', message: expect.stringMatching(/SERVFAIL/) });
  });

  it('fails a resolver that is not there', async () => {
    expect(parseConfig({ smtp: { outbound: { dnssecResolver: '[::1]:5353' } } }).smtp.outbound.dnssecResolver).toBe('[::1]:5353');
    expect(parseConfig({}).smtp.outbound.dnssecResolver).toBeUndefined();
    for (const bad of ['resolver.example:53', '127.0.0.1:53; rm -rf /', '']) expect(() => parseConfig({ smtp: { outbound: { dnssecResolver: bad } } })).toThrow(/IP address and port/);
    expect(parseConfig({ smtp: { outbound: { daneRequired: ['finances.gouv.tg', '.partenaire.example'] } } }).smtp.outbound.daneRequired).toEqual(['finances.gouv.tg', '.partenaire.example']);
    expect(parseConfig({}).smtp.outbound.daneRequired).toEqual([]);
    for (const bad of ['*.example', 'a..b', 'x'.repeat(64) + '.example', 'ex ample', '']) expect(() => parseConfig({ smtp: { outbound: { daneRequired: [bad] } } })).toThrow(/domain name/);
    const gone = createDnssecResolver({ server: '127.0.0.1:9', timeoutMs: 500 });
    expect(await checkDnssecResolver('127.0.0.1:9', gone, 'signed.test')).toMatchObject({ verdict: 'fail', message: expect.stringMatching(/cannot be asked/) });
  });
});
