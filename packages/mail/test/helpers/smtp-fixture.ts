import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Account } from '@palabre/core';
import {
  MemoryBlobStore,
  MemoryDirectoryStore,
  MemoryDkimKeyStore,
  MemoryOutboundQueue,
  MemoryRateLimitStore,
  MemoryVacationStore,
  memoryLogger,
  testAuthenticator,
  type MemoryLogger,
} from '@palabre/core/testing';
import { createSmtpServer, type SmtpListener, type SmtpServerOptions } from '../../src/index.js';
import { QueueWorker, type QueueWorkerOptions } from '../../src/outbound/queue-worker.js';
import type { DnsResolver } from '../../src/auth-results/dns-resolver.js';
import { MemoryMailDelivery } from './memory-delivery.js';
import { selfSignedTls } from './tls.js';

export const PASSWORD = 'correct horse battery staple';

/** DNS with nothing in it (and a few records tests add): no test ever leaves the machine. */
export function fakeDns(records: Record<string, unknown[]> = {}): DnsResolver & { records: Record<string, unknown[]> } {
  const fn = (async (name: string, rrtype: string) => {
    const hit = fn.records[`${rrtype}:${name.toLowerCase()}`];
    if (hit) return hit;
    throw Object.assign(new Error(`no ${rrtype} for ${name}`), { code: 'ENOTFOUND' });
  }) as DnsResolver & { records: Record<string, unknown[]> };
  fn.records = records;
  return fn;
}

export interface SmtpFixture {
  directory: MemoryDirectoryStore;
  blobs: MemoryBlobStore;
  delivery: MemoryMailDelivery;
  queue: MemoryOutboundQueue;
  dkimKeys: MemoryDkimKeyStore;
  vacations: MemoryVacationStore;
  rateLimits: MemoryRateLimitStore;
  logger: MemoryLogger;
  dns: ReturnType<typeof fakeDns>;
  awa: Account;
  kofi: Account;
  mx: SmtpListener;
  submission: SmtpListener;
  mxPort: number;
  submissionPort: number;
  /** nodemailer on the submission port: STARTTLS required, AUTH PLAIN as `user` (default awa). */
  submitter(user?: string): Transporter;
  close(): Promise<void>;
}

/** Two hosted domains, users awa and kofi, a group, an alias; MX and submission on loopback. */
export async function startSmtpFixture(over: Partial<SmtpServerOptions> = {}): Promise<SmtpFixture> {
  const directory = new MemoryDirectoryStore();
  await directory.createDomain({ name: 'sante.gouv.tg' });
  await directory.createDomain({ name: 'finances.gouv.tg' });
  const awa = await directory.createAccount({ address: 'awa@sante.gouv.tg', displayName: 'Awa Diallo' });
  const kofi = await directory.createAccount({ address: 'kofi@finances.gouv.tg', displayName: 'Kofi Mensah' });
  // A second account of awa's domain, for what is counted per domain.
  await directory.createAccount({ address: 'fatou@sante.gouv.tg', displayName: 'Fatou Sow' });
  await directory.addAlias('direction@sante.gouv.tg', awa.id);
  const group = await directory.createGroup({ name: 'tous', domain: 'sante.gouv.tg', address: 'tous@sante.gouv.tg' });
  await directory.addGroupMember(group.id, { accountId: awa.id });
  await directory.addGroupMember(group.id, { accountId: kofi.id });
  const blobs = new MemoryBlobStore();
  const delivery = new MemoryMailDelivery(directory, blobs);
  const queue = new MemoryOutboundQueue();
  const dkimKeys = new MemoryDkimKeyStore();
  const vacations = new MemoryVacationStore();
  const rateLimits = new MemoryRateLimitStore();
  const logger = memoryLogger();
  const dns = fakeDns();
  const spoolDir = await mkdtemp(join(tmpdir(), 'palabre-spool-'));
  const tls = await selfSignedTls();
  const common: Omit<SmtpServerOptions, 'role'> = {
    hostname: 'mail.sante.gouv.tg',
    tls,
    directory,
    blobs,
    delivery,
    authenticator: testAuthenticator(directory, { 'awa@sante.gouv.tg': PASSWORD, 'kofi@finances.gouv.tg': PASSWORD, 'fatou@sante.gouv.tg': PASSWORD }),
    queue,
    dkimKeys,
    vacations,
    rateLimits,
    usage: delivery.usage,
    dns,
    spoolDir,
    logger,
    ...over,
  };
  const mx = createSmtpServer({ ...common, role: 'mx' });
  const submission = createSmtpServer({ ...common, role: 'submission' });
  const mxPort = await mx.listen(0);
  const submissionPort = await submission.listen(0);
  return {
    directory,
    blobs,
    delivery,
    queue,
    dkimKeys,
    vacations,
    rateLimits,
    logger,
    dns,
    awa,
    kofi,
    mx,
    submission,
    mxPort,
    submissionPort,
    submitter: (user = 'awa@sante.gouv.tg') =>
      nodemailer.createTransport({
        host: '127.0.0.1',
        port: submissionPort,
        secure: false,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
        auth: { user, pass: PASSWORD },
      }),
    async close() {
      await mx.close(100);
      await submission.close(100);
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}

/** A queue worker over the fixture's queue, blobs, directory and mailboxes, sending as mail.sante.gouv.tg. */
export function fixtureWorker(f: SmtpFixture, over: Partial<QueueWorkerOptions> = {}): QueueWorker {
  return new QueueWorker({ queue: f.queue, blobs: f.blobs, directory: f.directory, delivery: f.delivery, hostname: 'mail.sante.gouv.tg', logger: f.logger, ...over });
}
