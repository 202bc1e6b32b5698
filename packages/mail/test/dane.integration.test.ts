import { createHash, X509Certificate } from 'node:crypto';
import { DNSSEC_PROGRAMS, MemoryMtaStsPolicyStore, MemoryTlsReportStore, skipWithout, startDnssecLab, type DnssecLab } from '@palabre/core/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDnssecResolver, type DnssecResolver } from '../src/dns/dnssec-resolver.js';
import { buildTlsReport } from '../src/outbound/tls-rpt.js';
import { RawSmtp } from './helpers/raw-smtp.js';
import { fakeDns, fixtureWorker, PASSWORD, startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';
import { testCa, type TestCa } from './helpers/tls.js';

/**
 * SMTP DANE (RFC 7672) with real parts: zones signed by ldns-signzone and served by NSD, validated by
 * unbound against their trust anchors, all on loopback; the queue worker asks unbound (the DNSSEC
 * resolver) for MX, A and TLSA and delivers to a Palabre MX whose certificate matches the TLSA
 * records or not. Every MX host is 127.0.0.1 in the zones; the worker's port points at the receiver.
 */

const missing = skipWithout(...DNSSEC_PROGRAMS);
const spkiSha256 = (pem: Buffer | string) => createHash('sha256').update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
const certSha256 = (pem: Buffer | string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

const DOMAINS = ['good.test', 'mismatch.test', 'bogus.test', 'insecure.test', 'ta.test', 'taname.test', 'plain.test', 'backup.test', 'alias.test', 'aliasorig.test', 'aliasta.test'] as const;

let ca: TestCa;
let lab: DnssecLab;
let receiver: SmtpFixture;
let dnssec: DnssecResolver;
let sender: SmtpFixture;
let reports: MemoryTlsReportStore;
let policies: MemoryMtaStsPolicyStore;
let stsDns: ReturnType<typeof fakeDns>;
let receiverCert: Buffer;
let otherSpki: string;
const accounts = new Map<string, string>();
const baseline = new Map<string, number>();

describe.skipIf(missing)('DANE on outbound delivery, against unbound and NSD', () => {
  beforeAll(async () => {
    ca = await testCa();
    // One receiver for every zone: its certificate names the MX hosts of all but taname.test, and
    // its chain carries the CA (what a DANE-TA record names).
    const issued = await ca.issue(DOMAINS.filter((d) => d !== 'taname.test').map((d) => `mx.${d}`));
    const chain = Buffer.concat([issued.cert, Buffer.from('\n'), ca.cert]);
    receiver = await startSmtpFixture({ hostname: 'mx.good.test', tls: { key: issued.key, cert: chain }, trustedNetworks: ['127.0.0.1/32'] });
    for (const d of DOMAINS) {
      await receiver.directory.createDomain({ name: d });
      accounts.set(d, (await receiver.directory.createAccount({ address: `ami@${d}`, displayName: 'Ami' })).id);
    }
    receiverCert = issued.cert;
    const good = spkiSha256(issued.cert);
    const other = (otherSpki = spkiSha256((await ca.issue(['mx.mismatch.test'])).cert));
    const mx = (tlsa: string | null) => ['@ IN MX 10 mx', 'mx IN A 127.0.0.1', ...(tlsa ? [`_25._tcp.mx IN TLSA ${tlsa}`] : [])];
    lab = await startDnssecLab([
      { name: 'good.test', signed: true, records: mx(`3 1 1 ${good}`) },
      { name: 'mismatch.test', signed: true, records: mx(`3 1 1 ${other}`) },
      {
        name: 'bogus.test',
        signed: true,
        records: mx(`3 1 1 ${good}`),
        // The TLSA data changed after signing: its RRSIG no longer verifies, unbound answers SERVFAIL.
        tamper: (text) => {
          const changed = text.replace(new RegExp(good, 'i'), other);
          if (changed === text) throw new Error('the TLSA record was not found in the signed zone');
          return changed;
        },
      },
      { name: 'insecure.test', signed: false, records: mx(`3 1 1 ${other}`) },
      { name: 'ta.test', signed: true, records: mx(`2 0 1 ${certSha256(ca.cert)}`) },
      { name: 'taname.test', signed: true, records: mx(`2 0 1 ${certSha256(ca.cert)}`) },
      { name: 'plain.test', signed: true, records: mx(null) },
      // Two MX hosts: the preferred one's TLSA answer is bogus, the backup's matches.
      {
        name: 'backup.test',
        signed: true,
        records: ['@ IN MX 10 mx1', '@ IN MX 20 mx', 'mx1 IN A 127.0.0.1', 'mx IN A 127.0.0.1', `_25._tcp.mx1 IN TLSA 3 1 1 ${good}`, `_25._tcp.mx IN TLSA 3 1 1 ${good}`],
        tamper: (text) => text.replace(/^(_25\._tcp\.mx1\.backup\.test\.\s+\d+\s+IN\s+TLSA\s+3 1 1 )[0-9a-f]+/im, `$1${other}`),
      },
      // RFC 7672 §2.2.3: the MX host is an alias. TLSA records at the name it expands to come first
      // (there: a mismatch, the original name's would match); without any there, the original name's.
      {
        name: 'alias.test',
        signed: true,
        records: ['@ IN MX 10 mx', 'mx IN CNAME real', 'real IN A 127.0.0.1', `_25._tcp.real IN TLSA 3 1 1 ${other}`, `_25._tcp.mx IN TLSA 3 1 1 ${good}`],
      },
      { name: 'aliasorig.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN CNAME real', 'real IN A 127.0.0.1', `_25._tcp.mx IN TLSA 3 1 1 ${other}`] },
      // DANE-TA through an alias: the certificate names the MX host only, which is one of the reference names.
      { name: 'aliasta.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN CNAME real', 'real IN A 127.0.0.1', `_25._tcp.real IN TLSA 2 0 1 ${certSha256(ca.cert)}`] },
    ]);
    dnssec = createDnssecResolver({ server: lab.resolver, timeoutMs: 5_000 });
  }, 60_000);
  afterAll(async () => {
    await receiver?.close();
    await lab?.close();
  });
  beforeEach(async () => {
    daneRequired = [];
    sender = await startSmtpFixture();
    reports = new MemoryTlsReportStore();
    policies = new MemoryMtaStsPolicyStore();
    stsDns = fakeDns();
  });
  afterEach(async () => {
    await sender.close();
  });

  let daneRequired: string[] = [];
  const worker = () => fixtureWorker(sender, { dns: stsDns, dnssec, port: receiver.mxPort, mtaStsStore: policies, tlsReports: reports, tlsCa: [ca.cert], daneRequired });

  async function send(domain: string, params = ''): Promise<void> {
    const { c, auth } = await RawSmtp.signedIn(sender.submissionPort, 'awa@sante.gouv.tg', PASSWORD);
    expect(auth.code).toBe(235);
    expect((await c.cmd(`MAIL FROM:<awa@sante.gouv.tg>${params}`)).code).toBe(250);
    expect((await c.cmd(`RCPT TO:<ami@${domain}>`)).code).toBe(250);
    expect((await c.dataRaw(`From: Awa <awa@sante.gouv.tg>\r\nTo: ami@${domain}\r\nSubject: dane\r\n\r\nBonjour.\r\n.\r\n`)).code).toBe(250);
    c.close();
    await worker().runOnce();
  }

  /** Messages the receiver filed for ami@domain since the test began (the receiver serves every test). */
  const deliveredTo = (domain: string) => receiver.delivery.messages.filter((m) => m.accountId === accounts.get(domain)).length - (baseline.get(domain) ?? 0);
  beforeEach(() => {
    for (const d of DOMAINS) baseline.set(d, 0);
    for (const d of DOMAINS) baseline.set(d, deliveredTo(d));
  });
  const job = async () => (await sender.queue.list())[0]!;
  const counts = async () => (await reports.take(new Date().toISOString().slice(0, 10))).map((c) => [c.policyType, c.resultType, c.receivingMx, c.count]);

  it('the resolver validates the signed zones and not the unsigned one', async () => {
    expect(await dnssec('_25._tcp.mx.good.test', 'TLSA')).toMatchObject({ rcode: 'NOERROR', secure: true, records: [{ usage: 3, selector: 1, matchingType: 1 }] });
    expect(await dnssec('good.test', 'MX')).toMatchObject({ secure: true, records: [{ exchange: 'mx.good.test', priority: 10 }] });
    expect(await dnssec('_25._tcp.mx.insecure.test', 'TLSA')).toMatchObject({ rcode: 'NOERROR', secure: false });
    expect(await dnssec('_25._tcp.mx.bogus.test', 'TLSA')).toMatchObject({ rcode: 'SERVFAIL', secure: false, records: [] });
    expect(await dnssec('nothing.good.test', 'A')).toMatchObject({ rcode: 'NXDOMAIN', secure: true });
  });

  it('delivers to an MX whose certificate matches its DANE-EE record, and counts a tlsa session', async () => {
    await send('good.test');
    expect(deliveredTo('good.test'), JSON.stringify(await sender.queue.list())).toBe(1);
    expect(await counts()).toEqual([['tlsa', '', 'mx.good.test', 1]]);
    expect(sender.logger.records.some((r) => r.event === 'dane.verified')).toBe(true);
  });

  it('defers when the certificate matches no TLSA record (tlsa-invalid), and sends nothing of the message', async () => {
    await send('mismatch.test');
    expect(deliveredTo('mismatch.test')).toBe(0);
    const j = await job();
    expect(j.recipients[0]!.status).toBe('pending');
    expect(j.lastError).toMatch(/DANE: the certificate of mx\.mismatch\.test does not match its TLSA records/);
    expect(await counts()).toEqual([['tlsa', 'tlsa-invalid', 'mx.mismatch.test', 1]]);
  });

  it('defers when the TLSA answer is bogus (dnssec-invalid): no connection at all', async () => {
    await send('bogus.test');
    expect(deliveredTo('bogus.test')).toBe(0);
    const j = await job();
    expect(j.recipients[0]!.status).toBe('pending');
    expect(j.lastError).toMatch(/SERVFAIL/);
    expect(await counts()).toEqual([['tlsa', 'dnssec-invalid', 'mx.bogus.test', 1]]);
  });

  it('a bogus TLSA answer for the preferred MX: the next MX host gets the mail under DANE', async () => {
    await send('backup.test');
    expect(deliveredTo('backup.test'), JSON.stringify(await sender.queue.list())).toBe(1);
    expect((await counts()).sort()).toEqual([
      ['tlsa', '', 'mx.backup.test', 1],
      ['tlsa', 'dnssec-invalid', 'mx1.backup.test', 1],
    ]);
  });

  it('an MX host that is an alias: TLSA records of the name it expands to are used first, the original name\'s only when there are none', async () => {
    await send('alias.test');
    expect(deliveredTo('alias.test')).toBe(0);
    expect((await job()).lastError).toMatch(/DANE: the certificate of mx\.alias\.test does not match its TLSA records/);
    await send('aliasorig.test');
    expect(deliveredTo('aliasorig.test')).toBe(0);
    expect((await sender.queue.list()).find((x) => x.domain === 'aliasorig.test')!.lastError).toMatch(/does not match its TLSA records/);
    await send('aliasta.test');
    expect(deliveredTo('aliasta.test'), JSON.stringify(await sender.queue.list())).toBe(1);
  });

  it('the day\'s TLS report quotes, per DANE policy, its TLSA base as policy-domain and its records as policy-string (RFC 8460 §4.4)', async () => {
    await send('good.test');
    await send('alias.test');
    const day = new Date().toISOString().slice(0, 10);
    const taken = await reports.take(day);
    const report = (domain: string) =>
      buildTlsReport({ organization: 'o', contact: 'c', reportId: 'r', day, domain, counts: taken.filter((c) => c.domain === domain), policy: null }).policies as {
        policy: Record<string, unknown>;
        summary: Record<string, number>;
      }[];
    const [good] = report('good.test');
    expect(good!.policy).toEqual({ 'policy-type': 'tlsa', 'policy-domain': 'mx.good.test', 'policy-string': [`3 1 1 ${spkiSha256(receiverCert).toUpperCase()}`], 'mx-host': ['mx.good.test'] });
    expect(good!.summary).toEqual({ 'total-successful-session-count': 1, 'total-failure-session-count': 0 });
    // The alias: the records used were those at the name the CNAME expands to, and the report says so.
    const [alias] = report('alias.test');
    expect(alias!.policy['policy-domain']).toBe('real.alias.test');
    expect(alias!.policy['policy-string']).toEqual([`3 1 1 ${otherSpki.toUpperCase()}`]);
    expect(alias!.summary['total-failure-session-count']).toBe(1);
  });

  it('a domain that requires DANE: delivered under DANE where its MX has TLSA records, held (4.7.5) where it has none or is unsigned, even with MTA-STS', async () => {
    daneRequired = ['good.test', '.test'];
    await send('good.test');
    expect(deliveredTo('good.test'), JSON.stringify(await sender.queue.list())).toBe(1);
    await send('plain.test');
    expect(deliveredTo('plain.test')).toBe(0);
    const plain = (await sender.queue.list()).find((x) => x.domain === 'plain.test')!;
    expect(plain.recipients[0]!.status).toBe('pending');
    expect(plain.lastError).toMatch(/mx\.plain\.test has no usable TLSA records \(DANE is required for plain\.test\)/);
    // An enforced MTA-STS policy listing the host does not stand in for DANE.
    stsDns.records['TXT:_mta-sts.insecure.test'] = [['v=STSv1; id=1']];
    await policies.put({ domain: 'insecure.test', id: '1', mode: 'enforce', mx: ['mx.insecure.test'], maxAge: 86_400, fetchedAt: new Date() });
    await send('insecure.test');
    expect(deliveredTo('insecure.test')).toBe(0);
    expect((await sender.queue.list()).find((x) => x.domain === 'insecure.test')!.lastError).toMatch(/DANE is required for insecure\.test: its MX RRset is not DNSSEC-validated/);
  });

  it('an unsigned zone goes without DANE (its TLSA record, which would not match, is not used)', async () => {
    await send('insecure.test');
    expect(deliveredTo('insecure.test'), JSON.stringify(await sender.queue.list())).toBe(1);
    expect(await counts()).toEqual([['no-policy-found', '', 'mx.insecure.test', 1]]);
  });

  it('a signed zone without TLSA records goes without DANE', async () => {
    await send('plain.test');
    expect(deliveredTo('plain.test')).toBe(1);
    expect(await counts()).toEqual([['no-policy-found', '', 'mx.plain.test', 1]]);
  });

  it('DANE-TA: the chain up to the CA named in TLSA, and the MX host name in the certificate', async () => {
    await send('ta.test');
    expect(deliveredTo('ta.test'), JSON.stringify(await sender.queue.list())).toBe(1);
    await send('taname.test');
    expect(deliveredTo('taname.test')).toBe(0);
    const j = (await sender.queue.list()).find((x) => x.domain === 'taname.test')!;
    expect(j.lastError).toMatch(/names none of mx\.taname\.test, taname\.test/);
  });

  it('DANE takes precedence over MTA-STS: an enforced policy that lists other hosts does not stop a DANE host', async () => {
    for (const domain of ['good.test', 'insecure.test']) {
      stsDns.records[`TXT:_mta-sts.${domain}`] = [['v=STSv1; id=1']];
      await policies.put({ domain, id: '1', mode: 'enforce', mx: ['elsewhere.example.org'], maxAge: 86_400, fetchedAt: new Date() });
    }
    await send('good.test');
    expect(deliveredTo('good.test')).toBe(1);
    await send('insecure.test');
    expect(deliveredTo('insecure.test')).toBe(0);
    expect((await sender.queue.list()).find((x) => x.domain === 'insecure.test')!.lastError).toMatch(/matches its MTA-STS policy/);
  });

  it('REQUIRETLS goes to a DNSSEC-validated MX under DANE, and is refused for an unsigned one without MTA-STS', async () => {
    await send('ta.test', ' REQUIRETLS');
    expect(deliveredTo('ta.test'), JSON.stringify(await sender.queue.list())).toBe(1);
    await send('insecure.test', ' REQUIRETLS');
    expect(deliveredTo('insecure.test')).toBe(0);
    // Failed for good: the job is done and the sender's report (5.7.30) waits in the queue.
    const jobs = await sender.queue.list();
    expect(jobs.some((x) => x.domain === 'insecure.test')).toBe(false);
    const bounce = jobs.find((x) => x.message.sender === '')!;
    const text = (await sender.blobs.read(bounce.message.blobId)).toString();
    expect(text).toMatch(/Status: 5\.7\.30/);
    expect(text).toMatch(/the MX hosts of insecure\.test cannot be authenticated \(no MTA-STS policy in force; the MX RRset is not DNSSEC-signed\)/);
  });
});
