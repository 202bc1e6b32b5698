import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { MemoryMtaStsPolicyStore, MemoryTlsReportStore } from '@palabre/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MtaSts, mxMatches, parseStsPolicy, parseStsRecord } from '../src/outbound/mta-sts.js';
import { parseTlsRptRecord, TlsReporter } from '../src/outbound/tls-rpt.js';
import { RawSmtp } from './helpers/raw-smtp.js';
import { fakeDns, fixtureWorker, PASSWORD, startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';
import { testCa, type TestCa } from './helpers/tls.js';

/**
 * RFC 8461 on outbound delivery. DNS answers come from a table (the resolver the queue uses); the policy
 * host is a real HTTPS server on loopback with a certificate from a test CA, and the receiving MX a
 * Palabre MX with a certificate from the same CA.
 */
const POLICY = 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 604800\r\n';

interface PolicyHost {
  port: number;
  requests: number;
  /** TLS-RPT reports POSTed to /tlsrpt. */
  posts: { type: string; body: Buffer }[];
  /** What the next requests get. */
  respond: { status: number; type: string; body: string | Buffer; hang?: boolean; headers?: Record<string, string> };
  close(): Promise<void>;
}

async function policyHost(cert: { key: Buffer; cert: Buffer }): Promise<PolicyHost> {
  const host: PolicyHost = { port: 0, requests: 0, posts: [], respond: { status: 200, type: 'text/plain', body: POLICY }, close: async () => undefined };
  const server: Server = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    if (req.method === 'POST' && req.url === '/tlsrpt') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        host.posts.push({ type: String(req.headers['content-type']), body: Buffer.concat(chunks) });
        res.writeHead(201).end();
      });
      return;
    }
    host.requests++;
    const r = host.respond;
    if (r.hang || req.url !== '/.well-known/mta-sts.txt') {
      if (r.hang) return; // never answers
      res.writeHead(404).end();
      return;
    }
    res.writeHead(r.status, { 'content-type': r.type, ...r.headers });
    res.end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  host.port = (server.address() as AddressInfo).port;
  host.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return host;
}

let ca: TestCa;
let policy: PolicyHost;
let sender: SmtpFixture;
let receiver: SmtpFixture;
let dns: ReturnType<typeof fakeDns>;
let store: MemoryMtaStsPolicyStore;
let reports: MemoryTlsReportStore;

beforeEach(async () => {
  ca = await testCa();
  policy = await policyHost(await ca.issue(['mta-sts.example.org']));
  receiver = await startSmtpFixture({ hostname: 'mx.example.org', tls: await ca.issue(['mx.example.org']), trustedNetworks: ['127.0.0.1/32'] });
  await receiver.directory.createDomain({ name: 'example.org' });
  await receiver.directory.createAccount({ address: 'ami@example.org', displayName: 'Ami' });
  sender = await startSmtpFixture();
  store = new MemoryMtaStsPolicyStore();
  reports = new MemoryTlsReportStore();
  dns = fakeDns({
    'MX:example.org': [{ exchange: 'mx.example.org', priority: 10 }],
    'TXT:_mta-sts.example.org': [['v=STSv1; id=20260301']],
    'A:mta-sts.example.org': ['127.0.0.1'],
    'A:mx.example.org': ['127.0.0.1'],
    'A:rogue.example.net': ['127.0.0.1'],
  });
});
afterEach(async () => {
  await policy.close();
  await receiver.close();
  await sender.close();
});

const worker = (timeoutMs = 5_000) =>
  fixtureWorker(sender, { dns, port: receiver.mxPort, tlsCa: [ca.cert], mtaStsStore: store, tlsReports: reports, mtaStsFetch: { port: policy.port, timeoutMs } });

async function submit(params = '', extra = ''): Promise<void> {
  const { c, auth } = await RawSmtp.signedIn(sender.submissionPort, 'awa@sante.gouv.tg', PASSWORD);
  expect(auth.code).toBe(235);
  expect((await c.cmd(`MAIL FROM:<awa@sante.gouv.tg>${params}`)).code).toBe(250);
  expect((await c.cmd('RCPT TO:<ami@example.org>')).code).toBe(250);
  expect((await c.dataRaw(`From: Awa <awa@sante.gouv.tg>\r\nTo: ami@example.org\r\nSubject: sts\r\n${extra}\r\nBonjour.\r\n.\r\n`)).code).toBe(250);
  c.close();
}

const mtaSts = (timeoutMs = 5_000) => new MtaSts({ store, resolver: dns, fetch: { port: policy.port, timeoutMs, ca: [ca.cert] } });

describe('MTA-STS enforce on delivery', () => {
  it('delivers to a listed MX with a valid certificate, and keeps the policy for its max_age', async () => {
    await submit();
    await worker().runOnce();
    expect(receiver.delivery.messages, JSON.stringify(await sender.queue.list())).toHaveLength(1);
    expect(await store.get('example.org')).toMatchObject({ id: '20260301', mode: 'enforce', mx: ['mx.example.org'], maxAge: 604800 });
    // The policy host goes away: the stored policy still holds, and is not fetched again for the same id.
    await policy.close();
    dns.records['MX:example.org'] = [{ exchange: 'rogue.example.net', priority: 10 }];
    await submit();
    await worker().runOnce();
    expect(receiver.delivery.messages).toHaveLength(1);
    expect((await sender.queue.list())[0]!.lastError).toMatch(/matches its MTA-STS policy/);
  });

  it('an MX host the policy does not list gets nothing (deferred); without a policy it would', async () => {
    dns.records['MX:example.org'] = [{ exchange: 'rogue.example.net', priority: 10 }];
    await submit();
    await worker().runOnce();
    expect(receiver.delivery.messages).toHaveLength(0);
    const [job] = await sender.queue.list();
    expect(job!.recipients[0]!.status).toBe('pending');
    delete dns.records['TXT:_mta-sts.example.org'];
    await store.delete('example.org');
    await sender.queue.flush(new Date());
    await worker().runOnce();
    expect(receiver.delivery.messages).toHaveLength(1);
  });

  it('an MX whose certificate is not for its name gets nothing under enforce', async () => {
    await receiver.mx.setSecureContext(await ca.issue(['other.example.org']));
    await submit();
    await worker().runOnce();
    expect(receiver.delivery.messages).toHaveLength(0);
    expect((await sender.queue.list())[0]!.lastError).toMatch(/altname|certificate|Hostname/i);
  });

  it('testing mode delivers to an unlisted MX and reports it', async () => {
    policy.respond.body = POLICY.replace('enforce', 'testing');
    dns.records['MX:example.org'] = [{ exchange: 'rogue.example.net', priority: 10 }];
    await submit();
    await worker().runOnce();
    expect(receiver.delivery.messages).toHaveLength(1);
    expect(sender.logger.records.some((r) => r.event === 'mta-sts.testing-failure' && JSON.stringify(r.fields).includes('rogue.example.net'))).toBe(true);
  });

  it('testing mode delivers over TLS whose certificate fails, and counts the failure for TLS-RPT', async () => {
    policy.respond.body = POLICY.replace('enforce', 'testing');
    await receiver.mx.setSecureContext(await ca.issue(['other.example.org']));
    await submit();
    await worker().runOnce();
    expect(receiver.delivery.messages).toHaveLength(1);
    const counts = await reports.take(new Date().toISOString().slice(0, 10));
    expect(counts.map((c) => [c.policyType, c.resultType, c.receivingMx, c.count])).toEqual([['sts', 'certificate-host-mismatch', 'mx.example.org', 1]]);
  });

  it('TLS-Required: No from the sender sets an enforced policy aside', async () => {
    dns.records['MX:example.org'] = [{ exchange: 'rogue.example.net', priority: 10 }];
    await submit('', 'TLS-Required: No\r\n');
    await worker().runOnce();
    expect(receiver.delivery.messages).toHaveLength(1);
    expect(policy.requests).toBe(0);
  });

  it('REQUIRETLS goes to an MX an enforced policy lists, over verified TLS', async () => {
    await submit(' REQUIRETLS');
    await worker().runOnce();
    expect(receiver.delivery.messages, JSON.stringify(await sender.queue.list())).toHaveLength(1);
  });
});

describe('MTA-STS from the attacker side: no policy is what a bad answer gives', () => {
  const verdictFor = async (respond: Partial<PolicyHost['respond']>, timeoutMs = 5_000) => {
    policy.respond = { status: 200, type: 'text/plain', body: POLICY, ...respond };
    return mtaSts(timeoutMs).verdict('example.org');
  };

  it('refuses malformed policy files', async () => {
    for (const body of [
      '',
      'version: STSv2\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n',
      'version: STSv1\nmode: enforce\nmax_age: 86400\n', // enforce without mx
      'version: STSv1\nmode: Enforce\nmx: mx.example.org\nmax_age: 86400\n', // values are case-sensitive
      'version: STSv1\nmode: enforce\nmode: none\nmx: mx.example.org\nmax_age: 86400\n',
      'version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 31557601\n',
      'version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: -1\n',
      'version: STSv1\nmode: enforce\nmx: mx.example.org\n', // no max_age
      'version: STSv1\nmode: enforce\nmx: *.*.example.org\nmax_age: 86400\n',
      'version: STSv1\nmode: enforce\nmx: mx.example.org evil.example\nmax_age: 86400\n',
      'version: STSv1\rmode: enforce\rmx: mx.example.org\rmax_age: 86400\r',
      'version: STSv1\nmode: enforce\n\nmx: mx.example.org\nmax_age: 86400\n',
      'version STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n',
      '<html>version: STSv1</html>',
    ]) {
      expect((await verdictFor({ body })).mode, JSON.stringify(body)).toBe('none');
      expect(await store.get('example.org')).toBeNull();
    }
  });

  it('refuses a policy larger than the limit, declared or streamed', async () => {
    const big = `${POLICY}${'x_pad: y\n'.repeat(8000)}`; // well formed, about 72 KiB
    expect(parseStsPolicy(big)).not.toBeNull();
    expect((await verdictFor({ body: big })).mode).toBe('none');
    expect((await verdictFor({ body: big, headers: { 'transfer-encoding': 'chunked' } })).mode).toBe('none');
  });

  it('gives up on a policy host that never answers (the deadline, not a hang)', async () => {
    const v = await verdictFor({ hang: true }, 300);
    expect(v.mode).toBe('none');
    expect(policy.requests).toBe(1);
  });

  it('refuses a policy host with a certificate for another name, or from an unknown CA', async () => {
    await policy.close();
    policy = await policyHost(await ca.issue(['www.example.org']));
    expect((await mtaSts().verdict('example.org')).mode).toBe('none');
    await policy.close();
    policy = await policyHost(await (await testCa()).issue(['mta-sts.example.org']));
    expect((await mtaSts().verdict('example.org')).mode).toBe('none');
    expect(await store.get('example.org')).toBeNull();
  });

  it('refuses redirects, other statuses and other media types', async () => {
    expect((await verdictFor({ status: 301, headers: { location: 'https://evil.example/policy' } })).mode).toBe('none');
    expect((await verdictFor({ status: 404 })).mode).toBe('none');
    expect((await verdictFor({ type: 'text/html' })).mode).toBe('none');
    expect((await verdictFor({})).mode).toBe('enforce'); // the same host, answering properly
  });

  it('a TXT answer with two STS records, or a broken one, means no policy and no fetch', async () => {
    for (const txt of [
      [['v=STSv1; id=1'], ['v=STSv1; id=2']],
      [['v=STSv1; id=bad-id']],
      [['v=STSv1; id=1; id=2']],
      [['v=STSv1']],
      [['v=STSv10; id=1']],
    ]) {
      dns.records['TXT:_mta-sts.example.org'] = txt;
      expect((await mtaSts().verdict('example.org')).mode, JSON.stringify(txt)).toBe('none');
    }
    expect(policy.requests).toBe(0);
    // Other TXT records beside one STS record are fine; the record may be split into strings.
    dns.records['TXT:_mta-sts.example.org'] = [['v=spf1 -all'], ['v=STSv1; ', 'id=20260301;']];
    expect((await mtaSts().verdict('example.org')).mode).toBe('enforce');
  });

  it('keeps a stored policy when a new id\'s fetch fails, and takes the new one when it works', async () => {
    expect((await mtaSts().verdict('example.org')).mode).toBe('enforce');
    dns.records['TXT:_mta-sts.example.org'] = [['v=STSv1; id=20260302']];
    policy.respond = { status: 500, type: 'text/plain', body: '' };
    expect((await mtaSts().verdict('example.org')).mode).toBe('enforce');
    expect((await store.get('example.org'))!.id).toBe('20260301');
    policy.respond = { status: 200, type: 'text/plain', body: POLICY.replace('enforce', 'testing') };
    expect((await mtaSts().verdict('example.org')).mode).toBe('testing');
    expect((await store.get('example.org'))!.id).toBe('20260302');
  });

  it('parses the record and matches mx patterns as RFC 8461 says', () => {
    expect(parseStsRecord([['v=STSv1; id=abc123;']])).toEqual({ id: 'abc123' });
    expect(parseStsRecord([['v=STSv1;id=abc;ext=val']])).toEqual({ id: 'abc' });
    expect(mxMatches('*.example.org', 'mx1.example.org')).toBe(true);
    expect(mxMatches('*.example.org', 'a.b.example.org')).toBe(false);
    expect(mxMatches('*.example.org', 'example.org')).toBe(false);
    expect(mxMatches('mx.example.org', 'MX.example.org.')).toBe(true);
    expect(mxMatches('mx.example.org', 'mx.example.org.evil')).toBe(false);
  });
});

describe('TLS-RPT (RFC 8460)', () => {
  const today = () => new Date().toISOString().slice(0, 10);
  const reporter = () =>
    new TlsReporter({
      counts: reports,
      policies: store,
      resolver: dns,
      queue: sender.queue,
      blobs: sender.blobs,
      dkimKeys: sender.dkimKeys,
      hostname: 'mail.sante.gouv.tg',
      organization: 'Ministère de la Santé',
      https: { port: policy.port, ca: [ca.cert] },
    });

  /** The RFC 8460 §4.4 fields, checked one by one (no schema library: the RFC's JSON is small). */
  function checkReport(json: Record<string, any>): void {
    expect(Object.keys(json).sort()).toEqual(['contact-info', 'date-range', 'organization-name', 'policies', 'report-id']);
    expect(json['organization-name']).toBe('Ministère de la Santé');
    expect(json['date-range']['start-datetime']).toBe(`${today()}T00:00:00Z`);
    expect(Date.parse(json['date-range']['end-datetime']) - Date.parse(json['date-range']['start-datetime'])).toBe(86_400_000);
    expect(json['contact-info']).toBe('tlsrpt-noreply@mail.sante.gouv.tg');
    expect(json['report-id']).toMatch(/^\S+$/);
    const sts = json.policies.find((p: any) => p.policy['policy-type'] === 'sts');
    expect(sts.policy).toEqual({
      'policy-type': 'sts',
      'policy-domain': 'example.org',
      'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx.example.org', 'max_age: 604800'],
      'mx-host': ['mx.example.org'],
    });
    expect(sts.summary).toEqual({ 'total-successful-session-count': 1, 'total-failure-session-count': 1 });
    expect(sts['failure-details']).toEqual([{ 'result-type': 'certificate-host-mismatch', 'receiving-mx-hostname': 'mx.example.org', 'failed-session-count': 1 }]);
  }

  it('counts sessions per policy and result, and sends the day\'s report by mail and by HTTPS POST', async () => {
    await receiver.directory.createAccount({ address: 'tlsrpt@example.org', displayName: 'TLS reports' });
    dns.records['TXT:_smtp._tls.example.org'] = [['v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://mta-sts.example.org/tlsrpt']];
    await submit(); // a good session
    await worker().runOnce();
    await receiver.mx.setSecureContext(await ca.issue(['other.example.org']));
    await submit(); // refused certificate
    await worker().runOnce();
    await receiver.mx.setSecureContext(await ca.issue(['mx.example.org']));
    expect(receiver.delivery.messages).toHaveLength(1);

    const outcomes = await reporter().send(today());
    expect(outcomes.map((o) => [o.rua, o.ok])).toEqual([
      ['mailto:tlsrpt@example.org', true],
      ['https://mta-sts.example.org/tlsrpt', true],
    ]);
    expect(await reports.take(today())).toEqual([]); // counted once, reported once

    // By HTTPS: application/tlsrpt+gzip.
    expect(policy.posts).toHaveLength(1);
    expect(policy.posts[0]!.type).toBe('application/tlsrpt+gzip');
    checkReport(JSON.parse(gunzipSync(policy.posts[0]!.body).toString()));

    // By mail, through our queue, to a real receiver (its MTA-STS policy applies to the report too).
    await sender.queue.flush(new Date());
    await worker().runOnce();
    const texts = await Promise.all(receiver.delivery.messages.map((_, i) => receiver.delivery.text(i)));
    // The deferred message went too, now that the certificate is right again.
    expect(texts.filter((t) => t.includes('Subject: sts'))).toHaveLength(2);
    const stored = texts.find((t) => t.includes('TLS-Report-Domain'))!;
    expect(stored, JSON.stringify(await sender.queue.list())).toBeDefined();
    expect(stored).toMatch(/\r\nContent-Type: multipart\/report; report-type="tlsrpt"; boundary=/);
    expect(stored).toMatch(/\r\nTLS-Report-Domain: example\.org\r\n/);
    expect(stored).toMatch(/\r\nTLS-Report-Submitter: mail\.sante\.gouv\.tg\r\n/);
    expect(stored).toMatch(/\r\nSubject: Report Domain: example\.org Submitter: mail\.sante\.gouv\.tg Report-ID: <\S+>\r\n/);
    const attachment = /Content-Type: application\/tlsrpt\+gzip\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="mail\.sante\.gouv\.tg!example\.org!\d+!\d+!\S+\.json\.gz"\r\n\r\n([A-Za-z0-9+/=\r\n]+)\r\n--/.exec(stored);
    expect(attachment).not.toBeNull();
    checkReport(JSON.parse(gunzipSync(Buffer.from(attachment![1]!.replace(/\r\n/g, ''), 'base64')).toString()));
  });

  it('sends nothing where the TXT record is missing, doubled or asks for plain http', async () => {
    for (const txt of [undefined, [['v=TLSRPTv1; rua=mailto:a@example.org'], ['v=TLSRPTv1; rua=mailto:b@example.org']], [['v=TLSRPTv1; rua=http://mta-sts.example.org/tlsrpt']]]) {
      if (txt) dns.records['TXT:_smtp._tls.example.org'] = txt;
      await reports.count({ day: today(), domain: 'example.org', policyType: 'no-policy-found', policyId: '', resultType: '', receivingMx: 'mx.example.org' });
      expect(await reporter().send(today())).toEqual([]);
    }
    expect(policy.posts).toHaveLength(0);
    expect(await sender.queue.list()).toHaveLength(0);
  });

  it('reads the record strictly', () => {
    expect(parseTlsRptRecord([['v=TLSRPTv1;rua=mailto:tls@example.org']])).toEqual({ rua: ['mailto:tls@example.org'] });
    expect(parseTlsRptRecord([['v=TLSRPTv1; rua=mailto:a@example.org, https://r.example.org/x;']])).toEqual({ rua: ['mailto:a@example.org', 'https://r.example.org/x'] });
    expect(parseTlsRptRecord([['v=TLSRPTv1']])).toBeNull();
    expect(parseTlsRptRecord([['v=TLSRPTv1; rua=ftp://x.example.org']])).toBeNull();
    expect(parseTlsRptRecord([['v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org']])).toBeNull();
    expect(parseTlsRptRecord([['v=TLSRPTv1; rua=mailto:a@example.org\r\nBcc: x@y']])).toBeNull();
    expect(parseTlsRptRecord([['v=spf1 -all']])).toBeNull();
  });
});
