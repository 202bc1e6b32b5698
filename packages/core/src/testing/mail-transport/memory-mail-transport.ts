import { randomBytes, randomUUID } from 'node:crypto';
import { normalizeDomain } from '../../address.js';
import { checkDkimKey, checkSelector } from '../../mail-transport/dkim-key-rules.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import { checkOutcomes, clipText, planJobs } from '../../mail-transport/outbound-queue-rules.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { DkimKey, DkimKeyStore, NewDkimKey } from '../../mail-transport/dkim-key-store.js';
import type { ServerKeys } from '../../ports/server-keys.js';
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
import type { RateLimitStore } from '../../mail-transport/rate-limit-store.js';
import type { VacationSettings, VacationStore } from '../../mail-transport/vacation-store.js';
import { checkRateKey } from '../../mail-transport/rate-limit-rules.js';
import { checkSender, checkVacation } from '../../mail-transport/vacation-rules.js';

interface MemJob {
  id: string;
  messageId: string;
  transport: OutboundTransport;
  domain: string;
  attempts: number;
  nextAttemptAt: number;
  lease: string | null;
  leaseUntil: number | null;
  lastError: string | null;
  recipients: OutboundRecipient[];
}

/** The outbound queue in memory (one process): same rules as the SQL one, for tests and embedding. */
export class MemoryOutboundQueue implements OutboundQueue {
  private readonly messages = new Map<string, OutboundMessage>();
  private readonly jobs = new Map<string, MemJob>();

  constructor(private readonly clock: Clock = systemClock) {}

  async enqueue(message: NewOutboundMessage): Promise<OutboundMessage> {
    return this.enqueueNow(message, planJobs(message));
  }

  private enqueueNow(message: NewOutboundMessage, planned: ReturnType<typeof planJobs>): OutboundMessage {
    const now = this.clock.now();
    const stored: OutboundMessage = {
      id: randomUUID(),
      blobId: message.blobId,
      size: message.size,
      sender: message.sender,
      envId: message.envId ?? null,
      ret: message.ret ?? null,
      tlsPolicy: message.tlsPolicy ?? null,
      accountId: message.accountId ?? null,
      ownsBlob: message.ownsBlob,
      createdAt: now,
      expiresAt: message.expiresAt,
    };
    this.messages.set(stored.id, stored);
    for (const job of planned) {
      const id = randomUUID();
      this.jobs.set(id, {
        id,
        messageId: stored.id,
        transport: job.transport,
        domain: job.domain,
        attempts: 0,
        nextAttemptAt: (message.notBefore ?? now).getTime(),
        lease: null,
        leaseUntil: null,
        lastError: null,
        recipients: job.recipients.map((r) => ({
          address: r.address,
          accountId: r.accountId ?? null,
          orcpt: r.orcpt ?? null,
          notify: r.notify && r.notify.length ? [...r.notify] : null,
          status: 'pending',
          code: null,
          enhanced: null,
          diagnostic: null,
          remoteMta: null,
        })),
      });
    }
    return stored;
  }

  private view(job: MemJob): OutboundJob {
    return {
      id: job.id,
      message: this.messages.get(job.messageId)!,
      transport: job.transport,
      domain: job.domain,
      attempts: job.attempts,
      nextAttemptAt: new Date(job.nextAttemptAt),
      lastError: job.lastError,
      recipients: job.recipients.filter((r) => r.status === 'pending').sort((a, b) => (a.address < b.address ? -1 : 1)).map((r) => ({ ...r })),
    };
  }

  async claim(worker: string, options: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedJob[]> {
    const now = options.now.getTime();
    const lease = `${worker}:${randomUUID()}`;
    const leaseUntil = now + Math.max(1000, options.leaseMs);
    const due = [...this.jobs.values()]
      .filter((j) => j.nextAttemptAt <= now && (j.leaseUntil === null || j.leaseUntil <= now))
      .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
      .slice(0, Math.max(1, Math.min(options.limit, 500)));
    return due.map((j) => {
      j.lease = lease;
      j.leaseUntil = leaseUntil;
      return { ...this.view(j), lease, leaseUntil: new Date(leaseUntil) };
    });
  }

  async complete(claimed: ClaimedJob, completion: JobCompletion, now: Date): Promise<CompletionResult> {
    checkOutcomes(completion.outcomes, completion.retryAt);
    const extra = (completion.enqueue ?? []).map((message) => ({ message, planned: planJobs(message) }));
    const job = this.jobs.get(claimed.id);
    if (!job || job.lease !== claimed.lease) return { applied: false, messageDone: false, releasedBlobId: null };
    for (const o of completion.outcomes) {
      const i = job.recipients.findIndex((r) => r.address === o.address && r.status === 'pending');
      if (i < 0) continue;
      job.recipients[i] = {
        ...job.recipients[i]!,
        status: o.status,
        code: o.code ?? null,
        enhanced: clipText(o.enhanced, 16),
        diagnostic: clipText(o.diagnostic, 1000),
        remoteMta: clipText(o.remoteMta, 255),
      };
    }
    for (const { message, planned } of extra) this.enqueueNow(message, planned);
    if (completion.keepBlob) this.messages.set(job.messageId, { ...this.messages.get(job.messageId)!, ownsBlob: false });
    job.lease = null;
    job.leaseUntil = null;
    if (job.recipients.some((r) => r.status === 'pending')) {
      job.attempts++;
      job.nextAttemptAt = (completion.retryAt ?? now).getTime();
      job.lastError = clipText(completion.error, 1000);
      return { applied: true, messageDone: false, releasedBlobId: null };
    }
    this.jobs.delete(job.id);
    if ([...this.jobs.values()].some((j) => j.messageId === job.messageId)) return { applied: true, messageDone: false, releasedBlobId: null };
    const message = this.messages.get(job.messageId)!;
    this.messages.delete(job.messageId);
    return { applied: true, messageDone: true, releasedBlobId: message.ownsBlob ? message.blobId : null };
  }

  async release(claimed: ClaimedJob, retryAt: Date): Promise<void> {
    const job = this.jobs.get(claimed.id);
    if (!job || job.lease !== claimed.lease) return;
    job.lease = null;
    job.leaseUntil = null;
    job.nextAttemptAt = retryAt.getTime();
  }

  async nextDue(): Promise<Date | null> {
    let min: number | null = null;
    for (const j of this.jobs.values()) {
      const t = j.leaseUntil !== null && j.leaseUntil > j.nextAttemptAt ? j.leaseUntil : j.nextAttemptAt;
      if (min === null || t < min) min = t;
    }
    return min === null ? null : new Date(min);
  }

  async list(options: { limit?: number; accountId?: string } = {}): Promise<OutboundJob[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
    return [...this.jobs.values()]
      .filter((j) => !options.accountId || this.messages.get(j.messageId)!.accountId === options.accountId)
      .sort((a, b) => this.messages.get(a.messageId)!.createdAt.getTime() - this.messages.get(b.messageId)!.createdAt.getTime() || (a.id < b.id ? -1 : 1))
      .slice(0, limit)
      .map((j) => this.view(j));
  }

  async summary(now: Date): Promise<QueueSummary> {
    const t = now.getTime();
    const created = [...this.messages.values()].map((m) => m.createdAt.getTime());
    return {
      messages: this.messages.size,
      jobs: this.jobs.size,
      dueNow: [...this.jobs.values()].filter((j) => j.nextAttemptAt <= t && (j.leaseUntil === null || j.leaseUntil <= t)).length,
      oldest: created.length ? new Date(Math.min(...created)) : null,
    };
  }

  async referencedBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    const held = new Set([...this.messages.values()].map((m) => m.blobId));
    return new Set(blobIds.filter((id) => held.has(id)));
  }

  async flush(now: Date): Promise<number> {
    let n = 0;
    for (const j of this.jobs.values()) {
      if (j.nextAttemptAt > now.getTime()) {
        j.nextAttemptAt = now.getTime();
        n++;
      }
    }
    return n;
  }
}

export class MemoryDkimKeyStore implements DkimKeyStore {
  private keys: DkimKey[] = [];

  async add(input: NewDkimKey, options: { pending?: boolean } = {}): Promise<DkimKey> {
    const key = checkDkimKey(input, options.pending === true);
    if (this.keys.some((k) => k.domain === key.domain && k.selector === key.selector)) {
      throw new ConflictError(`a DKIM key ${key.selector} already exists for ${key.domain}`);
    }
    if (key.active) this.keys = this.keys.map((k) => (k.domain === key.domain ? { ...k, active: false, pending: false } : k));
    this.keys.push(key);
    return key;
  }

  async activate(domain: string, selector: string): Promise<DkimKey> {
    const name = normalizeDomain(domain);
    const s = checkSelector(selector);
    if (!this.keys.some((k) => k.domain === name && k.selector === s)) throw new NotFoundError(`no DKIM key ${s} for ${name}`);
    this.keys = this.keys.map((k) => (k.domain !== name ? k : { ...k, active: k.selector === s, pending: false }));
    return this.keys.find((k) => k.domain === name && k.selector === s)!;
  }

  async active(domain: string): Promise<DkimKey | null> {
    const name = normalizeDomain(domain);
    return this.keys.find((k) => k.domain === name && k.active) ?? null;
  }

  async list(domain?: string): Promise<DkimKey[]> {
    const name = domain === undefined ? undefined : normalizeDomain(domain);
    return this.keys
      .filter((k) => name === undefined || k.domain === name)
      .sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : b.createdAt.getTime() - a.createdAt.getTime()));
  }

  async remove(domain: string, selector: string): Promise<void> {
    const name = normalizeDomain(domain);
    const s = checkSelector(selector);
    const before = this.keys.length;
    this.keys = this.keys.filter((k) => !(k.domain === name && k.selector === s));
    if (this.keys.length === before) throw new NotFoundError(`no DKIM key ${s} for ${name}`);
  }
}

export class MemoryVacationStore implements VacationStore {
  private readonly settings = new Map<string, VacationSettings>();
  private readonly replies = new Map<string, number>();

  constructor(private readonly clock: Clock = systemClock) {}

  async get(accountId: string): Promise<VacationSettings | null> {
    return this.settings.get(accountId) ?? null;
  }

  async set(input: Omit<VacationSettings, 'updatedAt'> & { updatedAt?: Date }): Promise<VacationSettings> {
    const s = checkVacation(input, this.clock.now());
    this.settings.set(s.accountId, s);
    for (const key of [...this.replies.keys()]) if (key.startsWith(`${s.accountId}\u0000`)) this.replies.delete(key);
    return s;
  }

  async disable(accountId: string): Promise<void> {
    const s = this.settings.get(accountId);
    if (s) this.settings.set(accountId, { ...s, enabled: false, updatedAt: this.clock.now() });
  }

  async shouldReply(accountId: string, sender: string, now: Date, intervalMs: number): Promise<boolean> {
    const key = `${accountId}\u0000${checkSender(sender)}`;
    const last = this.replies.get(key);
    if (last !== undefined && last > now.getTime() - intervalMs) return false;
    this.replies.set(key, now.getTime());
    return true;
  }

  async sweep(before: Date): Promise<number> {
    let n = 0;
    for (const [key, at] of [...this.replies]) {
      if (at < before.getTime()) {
        this.replies.delete(key);
        n++;
      }
    }
    return n;
  }
}

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly counters = new Map<string, { start: number; count: number }>();

  async hit(key: string, cost: number, now: Date, windowMs: number): Promise<{ count: number; resetAt: Date }> {
    checkRateKey(key, cost, windowMs);
    const start = Math.floor(now.getTime() / windowMs) * windowMs;
    const c = this.counters.get(key);
    const next = c && c.start === start ? { start, count: c.count + cost } : { start, count: cost };
    this.counters.set(key, next);
    // Keep the map bounded: forget windows that are over.
    if (this.counters.size > 100_000) for (const [k, v] of this.counters) if (v.start < start) this.counters.delete(k);
    return { count: next.count, resetAt: new Date(start + windowMs) };
  }

  async peek(key: string, now: Date, windowMs: number): Promise<number> {
    checkRateKey(key, 0, windowMs);
    const start = Math.floor(now.getTime() / windowMs) * windowMs;
    const c = this.counters.get(key);
    return c && c.start === start ? c.count : 0;
  }
}

/** Random keys per purpose, kept for the life of the object (one process, tests). */
export class MemoryServerKeys implements ServerKeys {
  private readonly keys = new Map<string, Buffer>();

  async key(purpose: string): Promise<Buffer> {
    let k = this.keys.get(purpose);
    if (!k) this.keys.set(purpose, (k = randomBytes(32)));
    return k;
  }
}
