import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { InvalidInputError } from '../../errors.js';
import { checkOutcomes, clipText, decodeNotify, encodeNotify, planJobs } from '../../mail-transport/outbound-queue-rules.js';
import type {
  ClaimedJob,
  CompletionResult,
  JobCompletion,
  NewOutboundMessage,
  OutboundJob,
  OutboundMessage,
  OutboundQueue,
  OutboundRecipient,
  OutboundTransport,
  QueueSummary,
} from '../../mail-transport/outbound-queue.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { Database } from '../database.js';
import { returnedRows } from '../returned-rows.js';
import { blobIdsHeldBy } from '../sql-lists.js';
import { OutboundJobEntity, OutboundMessageEntity, OutboundRecipientEntity, type OutboundMessageRow } from './entities.js';

interface JobJoinRow {
  id: string;
  message_id: string;
  transport: string;
  domain: string;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  blob_id: string;
  size: number;
  sender: string;
  env_id: string | null;
  ret: string | null;
  tls_policy: string | null;
  account_id: string | null;
  owns_blob: boolean | number;
  created_at: number;
  expires_at: number;
}

interface RecipientRow {
  job_id: string;
  address: string;
  account_id: string | null;
  orcpt: string | null;
  notify: string | null;
  status: string;
  code: number | null;
  enhanced: string | null;
  diagnostic: string | null;
  remote_mta: string | null;
}

const JOB_COLUMNS = `j.id, j.message_id, j.transport, j.domain, j.attempts, j.next_attempt_at, j.lease_owner, j.lease_until, j.last_error,
  m.blob_id, m.size, m.sender, m.env_id, m.ret, m.tls_policy, m.account_id, m.owns_blob, m.created_at, m.expires_at`;

/**
 * The outbound queue over SQLite or PostgreSQL. Claiming is one UPDATE … WHERE id IN (SELECT … FOR
 * UPDATE SKIP LOCKED) on PostgreSQL, so workers on several nodes never wait for each other nor take
 * the same job; on SQLite the same statement runs under the database write lock (BEGIN IMMEDIATE),
 * which serialises claimers. Every later change to a job is fenced by its lease token.
 */
export class SqlOutboundQueue implements OutboundQueue {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock = systemClock,
  ) {}

  async enqueue(message: NewOutboundMessage): Promise<OutboundMessage> {
    const jobs = planJobs(message);
    return this.db.transaction((m) => this.enqueueIn(m, message, jobs), { what: 'queueing a message' });
  }

  private async enqueueIn(m: EntityManager, message: NewOutboundMessage, jobs = planJobs(message)): Promise<OutboundMessage> {
    const now = this.clock.now().getTime();
    const id = randomUUID();
    const createdAt = now;
    const row = {
      id,
      blobId: message.blobId,
      size: message.size,
      sender: message.sender,
      envId: message.envId ?? null,
      ret: message.ret ?? null,
      tlsPolicy: message.tlsPolicy ?? null,
      accountId: message.accountId ?? null,
      ownsBlob: message.ownsBlob,
      createdAt,
      expiresAt: message.expiresAt.getTime(),
    };
    await m.insert(OutboundMessageEntity, row);
    const due = (message.notBefore ?? new Date(now)).getTime();
    for (const job of jobs) {
      const jobId = randomUUID();
      await m.insert(OutboundJobEntity, {
        id: jobId,
        messageId: id,
        transport: job.transport,
        domain: job.domain,
        state: 'queued',
        attempts: 0,
        nextAttemptAt: due,
        leaseOwner: null,
        leaseUntil: null,
        lastError: null,
        updatedAt: now,
      });
      const recipients = job.recipients.map((r) => ({
        jobId,
        address: r.address,
        accountId: r.accountId ?? null,
        orcpt: r.orcpt ?? null,
        notify: encodeNotify(r.notify),
        status: 'pending',
        code: null,
        enhanced: null,
        diagnostic: null,
        remoteMta: null,
        updatedAt: now,
      }));
      for (let i = 0; i < recipients.length; i += 200) await m.insert(OutboundRecipientEntity, recipients.slice(i, i + 200));
    }
    return toMessage(row);
  }

  async claim(worker: string, options: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedJob[]> {
    if (typeof worker !== 'string' || worker.length === 0 || worker.length > 60) throw new InvalidInputError('invalid worker name');
    const limit = Math.max(1, Math.min(options.limit, 500));
    const now = options.now.getTime();
    const leaseUntil = now + Math.max(1000, options.leaseMs);
    const lease = `${worker}:${randomUUID()}`;
    const skipLocked = this.db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    return this.db.transaction(
      async (m) => {
        const claimed = returnedRows<{ id: string }>(
          await m.query(
          this.db.sql(
            `UPDATE outbound_jobs SET lease_owner = ?, lease_until = ?, updated_at = ?
             WHERE id IN (
               SELECT id FROM outbound_jobs
               WHERE state = 'queued' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
               ORDER BY next_attempt_at LIMIT ? ${skipLocked})
             RETURNING id`,
          ),
          [lease, leaseUntil, now, now, now, limit],
          ),
        );
        if (claimed.length === 0) return [];
        const jobs = await this.loadJobs(m, claimed.map((c) => c.id));
        return jobs.map((j) => ({ ...j, lease, leaseUntil: new Date(leaseUntil) }));
      },
      { what: 'claiming queued mail' },
    );
  }

  private async loadJobs(m: EntityManager, ids: readonly string[]): Promise<OutboundJob[]> {
    if (ids.length === 0) return [];
    const marks = ids.map(() => '?').join(', ');
    const rows: JobJoinRow[] = await m.query(
      this.db.sql(`SELECT ${JOB_COLUMNS} FROM outbound_jobs j JOIN outbound_messages m ON m.id = j.message_id WHERE j.id IN (${marks})`),
      [...ids],
    );
    const recipients: RecipientRow[] = await m.query(
      this.db.sql(`SELECT * FROM outbound_recipients WHERE status = 'pending' AND job_id IN (${marks}) ORDER BY address`),
      [...ids],
    );
    const byJob = new Map<string, OutboundRecipient[]>();
    for (const r of recipients) {
      let list = byJob.get(r.job_id);
      if (!list) byJob.set(r.job_id, (list = []));
      list.push(toRecipient(r));
    }
    const order = new Map(ids.map((id, i) => [id, i]));
    return rows
      .map((r) => toJob(r, byJob.get(r.id) ?? []))
      .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || (order.get(a.id)! - order.get(b.id)!));
  }

  async complete(job: ClaimedJob, completion: JobCompletion, now: Date): Promise<CompletionResult> {
    checkOutcomes(completion.outcomes, completion.retryAt);
    const extra = (completion.enqueue ?? []).map((message) => ({ message, jobs: planJobs(message) }));
    const lock = this.db.dialect === 'postgres' ? 'FOR UPDATE' : '';
    return this.db.transaction(
      async (m) => {
        const t = now.getTime();
        const current: { lease_owner: string | null }[] = await m.query(
          this.db.sql(`SELECT lease_owner FROM outbound_jobs WHERE id = ? ${lock}`),
          [job.id],
        );
        if (current.length === 0 || current[0]!.lease_owner !== job.lease) return { applied: false, messageDone: false, releasedBlobId: null };
        for (const o of completion.outcomes) {
          await m.query(
            this.db.sql(
              `UPDATE outbound_recipients SET status = ?, code = ?, enhanced = ?, diagnostic = ?, remote_mta = ?, updated_at = ?
               WHERE job_id = ? AND address = ? AND status = 'pending'`,
            ),
            [o.status, o.code ?? null, clipText(o.enhanced, 16), clipText(o.diagnostic, 1000), clipText(o.remoteMta, 255), t, job.id, o.address],
          );
        }
        for (const { message, jobs } of extra) await this.enqueueIn(m, message, jobs);
        if (completion.keepBlob) await m.update(OutboundMessageEntity, { id: job.message.id }, { ownsBlob: false });
        const pending: { n: number }[] = await m.query(
          this.db.sql(`SELECT COUNT(*) AS n FROM outbound_recipients WHERE job_id = ? AND status = 'pending'`),
          [job.id],
        );
        if (Number(pending[0]!.n) > 0) {
          const retryAt = (completion.retryAt ?? now).getTime();
          await m.query(
            this.db.sql(
              `UPDATE outbound_jobs SET attempts = attempts + 1, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, last_error = ?, updated_at = ?
               WHERE id = ?`,
            ),
            [retryAt, clipText(completion.error, 1000), t, job.id],
          );
          return { applied: true, messageDone: false, releasedBlobId: null };
        }
        await m.query(this.db.sql('DELETE FROM outbound_recipients WHERE job_id = ?'), [job.id]);
        await m.query(this.db.sql('DELETE FROM outbound_jobs WHERE id = ?'), [job.id]);
        const left: { n: number }[] = await m.query(this.db.sql('SELECT COUNT(*) AS n FROM outbound_jobs WHERE message_id = ?'), [job.message.id]);
        if (Number(left[0]!.n) > 0) return { applied: true, messageDone: false, releasedBlobId: null };
        const owner: { owns_blob: boolean | number }[] = await m.query(this.db.sql('SELECT owns_blob FROM outbound_messages WHERE id = ?'), [job.message.id]);
        await m.query(this.db.sql('DELETE FROM outbound_messages WHERE id = ?'), [job.message.id]);
        return { applied: true, messageDone: true, releasedBlobId: owner[0] && Boolean(owner[0].owns_blob) ? job.message.blobId : null };
      },
      { what: 'recording a delivery attempt' },
    );
  }

  async release(job: ClaimedJob, retryAt: Date): Promise<void> {
    await this.db.run(
      (m) =>
        m.query(
          this.db.sql('UPDATE outbound_jobs SET lease_owner = NULL, lease_until = NULL, next_attempt_at = ? WHERE id = ? AND lease_owner = ?'),
          [retryAt.getTime(), job.id, job.lease],
        ),
      'releasing a queued job',
    );
  }

  async nextDue(): Promise<Date | null> {
    return this.db.run(async (m) => {
      const rows: { due: number | null }[] = await m.query(
        `SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) AS due
         FROM outbound_jobs WHERE state = 'queued'`,
      );
      const due = rows[0]?.due;
      return due === null || due === undefined ? null : new Date(Number(due));
    }, 'reading the queue');
  }

  async list(options: { limit?: number; accountId?: string } = {}): Promise<OutboundJob[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
    return this.db.run(async (m) => {
      const where = options.accountId ? 'AND m.account_id = ?' : '';
      const params: unknown[] = options.accountId ? [options.accountId, limit] : [limit];
      const ids: { id: string }[] = await m.query(
        this.db.sql(
          `SELECT j.id FROM outbound_jobs j JOIN outbound_messages m ON m.id = j.message_id
           WHERE j.state = 'queued' ${where} ORDER BY m.created_at, j.id LIMIT ?`,
        ),
        params,
      );
      const jobs = await this.loadJobs(m, ids.map((r) => r.id));
      const order = new Map(ids.map((r, i) => [r.id, i]));
      return jobs.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    }, 'listing the queue');
  }

  async summary(now: Date): Promise<QueueSummary> {
    return this.db.run(async (m) => {
      const [messages] = (await m.query('SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbound_messages')) as { n: number; oldest: number | null }[];
      const [jobs] = (await m.query(
        this.db.sql(
          `SELECT COUNT(*) AS n, SUM(CASE WHEN next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) THEN 1 ELSE 0 END) AS due
           FROM outbound_jobs WHERE state = 'queued'`,
        ),
        [now.getTime(), now.getTime()],
      )) as { n: number; due: number | null }[];
      return {
        messages: Number(messages!.n),
        jobs: Number(jobs!.n),
        dueNow: Number(jobs!.due ?? 0),
        oldest: messages!.oldest === null ? null : new Date(Number(messages!.oldest)),
      };
    }, 'summarising the queue');
  }

  referencedBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    return blobIdsHeldBy(this.db, 'outbound_messages', blobIds, 200);
  }

  async flush(now: Date): Promise<number> {
    return this.db.run(async (m) => {
      const rows = returnedRows(
        await m.query(
          this.db.sql(`UPDATE outbound_jobs SET next_attempt_at = ? WHERE state = 'queued' AND next_attempt_at > ? RETURNING id`),
          [now.getTime(), now.getTime()],
        ),
      );
      return rows.length;
    }, 'flushing the queue');
  }
}

function toMessage(row: OutboundMessageRow): OutboundMessage {
  return {
    id: row.id,
    blobId: row.blobId,
    size: Number(row.size),
    sender: row.sender,
    envId: row.envId,
    ret: row.ret as OutboundMessage['ret'],
    tlsPolicy: (row.tlsPolicy as OutboundMessage['tlsPolicy']) ?? null,
    accountId: row.accountId,
    ownsBlob: Boolean(row.ownsBlob),
    createdAt: new Date(Number(row.createdAt)),
    expiresAt: new Date(Number(row.expiresAt)),
  };
}

function toJob(r: JobJoinRow, recipients: OutboundRecipient[]): OutboundJob {
  return {
    id: r.id,
    message: toMessage({
      id: r.message_id,
      blobId: r.blob_id,
      size: r.size,
      sender: r.sender,
      envId: r.env_id,
      ret: r.ret,
      tlsPolicy: r.tls_policy,
      accountId: r.account_id,
      ownsBlob: Boolean(r.owns_blob),
      createdAt: Number(r.created_at),
      expiresAt: Number(r.expires_at),
    }),
    transport: r.transport as OutboundTransport,
    domain: r.domain,
    attempts: Number(r.attempts),
    nextAttemptAt: new Date(Number(r.next_attempt_at)),
    lastError: r.last_error,
    recipients,
  };
}

function toRecipient(r: RecipientRow): OutboundRecipient {
  return {
    address: r.address,
    accountId: r.account_id,
    orcpt: r.orcpt,
    notify: decodeNotify(r.notify),
    status: r.status as OutboundRecipient['status'],
    code: r.code === null ? null : Number(r.code),
    enhanced: r.enhanced,
    diagnostic: r.diagnostic,
    remoteMta: r.remote_mta,
  };
}
