import { dkimVerify } from 'mailauth';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDkimKey, dkimDnsRecord } from '../src/index.js';
import { QueueWorker } from '../src/outbound/queue-worker.js';
import { startFakeMx, type MxBehaviour } from './helpers/fake-mx.js';
import { startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';

let f: SmtpFixture;
let mx: Awaited<ReturnType<typeof startFakeMx>>;
const behaviour: { value: MxBehaviour } = { value: 'accept' };
let worker: QueueWorker;
let offset = 0;
const nowMs = () => Date.now() + offset;

beforeEach(async () => {
  behaviour.value = 'accept';
  offset = 0;
  f = await startSmtpFixture();
  mx = await startFakeMx(behaviour);
  worker = new QueueWorker({
    queue: f.queue,
    blobs: f.blobs,
    directory: f.directory,
    delivery: f.delivery,
    hostname: 'mail.sante.gouv.tg',
    port: mx.port,
    mtaSts: false,
    lookupMx: async (domain) => (domain === 'nowhere.example' ? { kind: 'none', reason: 'null MX' } : { kind: 'hosts', hosts: [{ host: '127.0.0.1', priority: 10 }] }),
    clock: { now: () => new Date(nowMs()) },
  });
});
afterEach(async () => {
  await f.close();
  await mx.close();
});

async function submit(to: string[], extra = ''): Promise<void> {
  await f.submitter().sendMail({
    envelope: { from: 'awa@sante.gouv.tg', to },
    raw: `From: Awa <awa@sante.gouv.tg>\r\nTo: ${to.join(', ')}\r\nSubject: note\r\n${extra}\r\nCorps du message.\r\n`,
  });
}

describe('outbound delivery', () => {
  it('delivers over STARTTLS with a DKIM signature that verifies, and empties the queue', async () => {
    const key = generateDkimKey('rsa-sha256');
    await f.dkimKeys.add({ domain: 'sante.gouv.tg', selector: 's1', ...key });
    await submit(['ami@example.org']);
    expect(await worker.runOnce()).toBe(1);
    expect(mx.received).toHaveLength(1);
    const got = mx.received[0]!;
    expect(got).toMatchObject({ from: 'awa@sante.gouv.tg', to: ['ami@example.org'], secure: true });
    const record = dkimDnsRecord({ domain: 'sante.gouv.tg', selector: 's1', algorithm: key.algorithm, publicKey: key.publicKey });
    const verified = await dkimVerify(got.data, {
      resolver: async (name: string, type: string) => {
        if (type === 'TXT' && name === record.name) return [[record.value]];
        throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
      },
    } as never);
    expect(verified.results[0]!.status.result).toBe('pass');
    expect(verified.results[0]!.signingDomain).toBe('sante.gouv.tg');
    expect((await f.queue.summary(new Date(nowMs()))).messages).toBe(0);
  });

  it('retries a 4xx later with back-off and delivers then', async () => {
    behaviour.value = 'defer';
    await submit(['ami@example.org']);
    await worker.runOnce();
    const [job] = await f.queue.list();
    expect(job!.attempts).toBe(1);
    expect(job!.lastError).toMatch(/451/);
    expect(job!.nextAttemptAt.getTime()).toBeGreaterThan(nowMs() + 50_000);
    expect(await worker.runOnce()).toBe(0); // not due yet
    behaviour.value = 'accept';
    offset += 2 * 60_000;
    expect(await worker.runOnce()).toBe(1);
    expect(mx.received).toHaveLength(1);
    expect((await f.queue.summary(new Date(nowMs()))).messages).toBe(0);
  });

  it('bounces a 5xx to the sender with an RFC 3464 report, delivering the rest', async () => {
    behaviour.value = (rcpt) => (rcpt.startsWith('gone') ? 'reject' : 'accept');
    await submit(['gone@example.org', 'ami@example.org']);
    await worker.runOnce();
    expect(mx.received).toHaveLength(1);
    expect(mx.received[0]!.to).toEqual(['ami@example.org']);
    // The bounce is queued for a hosted sender: the next run files it in Awa's INBOX.
    await worker.runOnce();
    const inbox = f.delivery.inbox(f.awa.id);
    expect(inbox).toHaveLength(1);
    const dsn = (await f.blobs.read(inbox[0]!.message.blobId)).toString();
    expect(dsn).toMatch(/Content-Type: multipart\/report; report-type=delivery-status/);
    expect(dsn).toMatch(/Final-Recipient: rfc822; gone@example\.org\r\nAction: failed\r\nStatus: 5\.1\.1/);
    expect(dsn).toMatch(/Diagnostic-Code: smtp; 550 5\.1\.1 user unknown/);
    expect(dsn).toContain('Corps du message.');
    expect(dsn).not.toMatch(/Final-Recipient: rfc822; ami@example\.org/);
    expect((await f.queue.summary(new Date(nowMs()))).messages).toBe(0);
  });

  it('survives a dropped connection: the job stays queued and goes through on the next attempt', async () => {
    behaviour.value = 'drop';
    await submit(['ami@example.org']);
    await worker.runOnce();
    expect(mx.received).toHaveLength(0);
    const [job] = await f.queue.list();
    expect(job!.attempts).toBe(1);
    behaviour.value = 'accept';
    offset += 10 * 60_000;
    await worker.runOnce();
    expect(mx.received).toHaveLength(1);
  });

  it('gives up after the queue lifetime and bounces with 4.4.7', async () => {
    behaviour.value = 'defer';
    await submit(['ami@example.org']);
    for (let i = 0; i < 60 && (await f.queue.list()).some((j) => j.domain === 'example.org'); i++) {
      await worker.runOnce();
      offset += 4 * 3600_000 + 600_000;
    }
    expect((await f.queue.list()).some((j) => j.domain === 'example.org')).toBe(false);
    await worker.runOnce();
    const dsn = (await f.blobs.read(f.delivery.inbox(f.awa.id)[0]!.message.blobId)).toString();
    expect(dsn).toMatch(/Status: 4\.4\.7/);
    expect(dsn).toMatch(/delivery time expired/);
  });

  it('bounces at once for a domain that accepts no mail (null MX)', async () => {
    await submit(['x@nowhere.example']);
    await worker.runOnce();
    await worker.runOnce();
    const dsn = (await f.blobs.read(f.delivery.inbox(f.awa.id)[0]!.message.blobId)).toString();
    expect(dsn).toMatch(/Status: 5\.1\.10/);
    expect(mx.connections).toBe(0);
  });
});
