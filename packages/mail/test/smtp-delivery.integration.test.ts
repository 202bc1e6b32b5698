import nodemailer from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueWorker } from '../src/outbound/queue-worker.js';
import { vacationSkipReason } from '../src/index.js';
import { HeaderSection } from '../src/mime/header-section.js';
import { RawSmtp } from './helpers/raw-smtp.js';
import { startSmtpFixture, type SmtpFixture } from './helpers/smtp-fixture.js';

let f: SmtpFixture;
beforeEach(async () => {
  f = await startSmtpFixture();
});
afterEach(async () => f.close());

const mx = () => nodemailer.createTransport({ host: '127.0.0.1', port: f.mxPort, secure: false, ignoreTLS: true });
const mail = (from: string, to: string, subject: string, extra = '') =>
  mx().sendMail({ envelope: { from, to: [to] }, raw: `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n${extra}\r\nHello.\r\n` });
const settle = () => new Promise((r) => setTimeout(r, 100));

describe('out-of-office (RFC 3834)', () => {
  beforeEach(async () => {
    await f.vacations.set({ accountId: f.awa.id, enabled: true, subject: 'Absente', body: 'De retour le 12 mars.', startsAt: null, endsAt: null, intervalMs: 7 * 86400_000 });
  });

  it('answers a person once per interval, from the null sender, marked auto-replied', async () => {
    await mail('ami@example.org', 'awa@sante.gouv.tg', 'question un');
    await mail('ami@example.org', 'awa@sante.gouv.tg', 'question deux');
    await settle();
    const replies = await f.queue.list();
    expect(replies).toHaveLength(1);
    expect(replies[0]!.message.sender).toBe('');
    expect(replies[0]!.recipients.map((r) => r.address)).toEqual(['ami@example.org']);
    const text = (await f.blobs.read(replies[0]!.message.blobId)).toString();
    expect(text).toMatch(/^From: "Awa Diallo" <awa@sante\.gouv\.tg>\r\nTo: <ami@example\.org>\r\nSubject: Absente\r\n/);
    expect(text).toMatch(/\r\nAuto-Submitted: auto-replied\r\n/);
    expect(text).toMatch(/\r\nIn-Reply-To: <questionun@example\.org>\r\n/);
    expect(Buffer.from(text.split('\r\n\r\n')[1]!.replace(/\r\n/g, ''), 'base64').toString()).toBe('De retour le 12 mars.');
  });

  it('stays silent for lists, bulk, auto-submitted mail, robots and Bcc', async () => {
    await mail('news@example.org', 'awa@sante.gouv.tg', 'list', 'List-Id: <news.example.org>\r\n');
    await mail('promo@example.org', 'awa@sante.gouv.tg', 'bulk', 'Precedence: bulk\r\n');
    await mail('robot@example.org', 'awa@sante.gouv.tg', 'auto', 'Auto-Submitted: auto-generated\r\n');
    await mail('MAILER-DAEMON@example.org', 'awa@sante.gouv.tg', 'daemon');
    await mx().sendMail({ envelope: { from: 'ami@example.org', to: ['awa@sante.gouv.tg'] }, raw: 'From: ami@example.org\r\nTo: someone@example.org\r\nSubject: bcc\r\n\r\nx\r\n' });
    await mx().sendMail({ envelope: { from: '', to: ['awa@sante.gouv.tg'] }, raw: 'From: x@example.org\r\nTo: awa@sante.gouv.tg\r\nSubject: bounce\r\n\r\nx\r\n' });
    await settle();
    expect(await f.queue.list()).toHaveLength(0);
  });

  it('stays silent once the end date has passed', async () => {
    await f.vacations.set({ accountId: f.awa.id, enabled: true, subject: 'Absente', body: 'x', startsAt: null, endsAt: new Date(Date.now() - 1000), intervalMs: 86400_000 });
    await mail('ami@example.org', 'awa@sante.gouv.tg', 'late');
    await settle();
    expect(await f.queue.list()).toHaveLength(0);
  });

  it('explains each refusal (vacationSkipReason)', () => {
    const h = (text: string) => HeaderSection.parse(Buffer.from(`${text}\r\n\r\n`));
    const own = ['awa@sante.gouv.tg'];
    expect(vacationSkipReason(h('To: awa@sante.gouv.tg'), 'ami@example.org', own)).toBeNull();
    expect(vacationSkipReason(h('Cc: Awa <AWA@sante.gouv.tg>'), 'ami@example.org', own)).toBeNull();
    expect(vacationSkipReason(h('To: awa@sante.gouv.tg\r\nAuto-Submitted: no'), 'ami@example.org', own)).toBeNull();
    expect(vacationSkipReason(h('To: awa@sante.gouv.tg\r\nX-Auto-Response-Suppress: OOF'), 'ami@example.org', own)).toBe('x-auto-response-suppress');
    expect(vacationSkipReason(h('To: awa@sante.gouv.tg'), 'list-request@example.org', own)).toBe('robot sender');
    expect(vacationSkipReason(h('To: awa@sante.gouv.tg'), 'awa@sante.gouv.tg', own)).toBe('own message');
    expect(vacationSkipReason(h('To: tous@sante.gouv.tg'), 'ami@example.org', own)).toBe('not addressed directly');
  });
});

describe('quota', () => {
  it('answers 452 4.2.2 at RCPT when the mailbox is full', async () => {
    await f.directory.updateAccount(f.awa.id, { quotaBytes: 1000 });
    await f.delivery.usage.add(f.awa.id, 'mail', 1000);
    const { c } = await RawSmtp.connect(f.mxPort);
    await c.cmd('EHLO client.example.org');
    await c.cmd('MAIL FROM:<ami@example.org>');
    const r = await c.cmd('RCPT TO:<awa@sante.gouv.tg>');
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.2\.2 /);
    c.close();
  });

  it('answers 552 5.2.2 when the message alone is larger than the quota', async () => {
    await f.directory.updateAccount(f.awa.id, { quotaBytes: 300 });
    await expect(mail('ami@example.org', 'awa@sante.gouv.tg', 'too big', `X-Pad: ${'p'.repeat(400)}\r\n`)).rejects.toMatchObject({ responseCode: 552 });
    expect(f.delivery.messages).toHaveLength(0);
  });

  it('delivers a list message to the members with room and retries the full one from the queue', async () => {
    await f.directory.updateAccount(f.kofi.id, { quotaBytes: 2000 });
    await f.delivery.usage.add(f.kofi.id, 'mail', 1900);
    await mail('ami@example.org', 'tous@sante.gouv.tg', 'a la liste');
    expect(f.delivery.inbox(f.awa.id)).toHaveLength(1);
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(0);
    const [job] = await f.queue.list();
    expect(job).toMatchObject({ transport: 'local' });
    expect(job!.recipients.map((r) => r.accountId)).toEqual([f.kofi.id]);
    // Kofi makes room; the queue files the same blob for him.
    await f.delivery.usage.add(f.kofi.id, 'mail', -1900);
    const worker = new QueueWorker({ queue: f.queue, blobs: f.blobs, directory: f.directory, delivery: f.delivery, hostname: 'mail.sante.gouv.tg', clock: { now: () => new Date(Date.now() + 3600_000) } });
    await worker.runOnce();
    expect(f.delivery.inbox(f.kofi.id)).toHaveLength(1);
    expect(f.delivery.inbox(f.kofi.id)[0]!.message.blobId).toBe(f.delivery.inbox(f.awa.id)[0]!.message.blobId);
    expect(await f.blobs.stat(f.delivery.inbox(f.kofi.id)[0]!.message.blobId)).not.toBeNull();
  });
});

describe('failures inside the server', () => {
  it('turns an unexpected storage error into 451 4.3.0, logged at error with its causes', async () => {
    f.delivery.failWith = new Error('disk on fire');
    await expect(mail('ami@example.org', 'awa@sante.gouv.tg', 'oops')).rejects.toMatchObject({ responseCode: 451 });
    const record = f.logger.records.find((r) => r.event === 'smtp.data-refused');
    expect(record?.level).toBe('error');
    expect(JSON.stringify(record?.fields)).toContain('disk on fire');
    expect(f.logger.text()).not.toContain('Hello.');
  });
});
