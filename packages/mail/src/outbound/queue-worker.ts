import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import {
  causeChain,
  checkStsPolicy,
  noopMetrics,
  silentLogger,
  systemClock,
  tlsaPolicyId,
  type BlobStore,
  type ClaimedJob,
  type Clock,
  type Counter,
  type DirectoryStore,
  type JobCompletion,
  type Logger,
  type MailDelivery,
  type Metrics,
  type MtaStsPolicy,
  type MtaStsPolicyStore,
  type NewOutboundMessage,
  type OutboundQueue,
  type RecipientOutcome,
  type TlsReportStore,
} from '@palabre/core';
import type { DnsResolver } from '../auth-results/dns-resolver.js';
import { cachingResolver } from '../auth-results/dns-resolver.js';
import { deliverLocally } from '../delivery/local-delivery.js';
import { storedRulesInput, type LocalDeliveryPath } from '../delivery/local-path.js';
import { analyzeMessage } from '../mime/analyze.js';
import { RecipientResolver } from '../delivery/recipient-resolver.js';
import type { SmtpLogEvent } from '../smtp/log-events.js';
import { deliveryCounter } from '../delivery/delivery-metrics.js';
import { nextAttemptAt } from './backoff.js';
import { buildDsn, DSN_FULL_LIMIT } from './dsn.js';
import { lookupMx, type MxAnswer } from './mx.js';
import { addressOf } from './dns-lookup.js';
import { MtaSts, type MtaStsVerdict, type StsFetchOptions } from './mta-sts.js';
import { concatParts } from './outbox.js';
import type { DnssecResolver } from '../dns/dnssec-resolver.js';
import { routeOf, secureMx, type HostRoute } from './secure-route.js';
import { attemptDelivery, type AttemptResult, type RecipientReply, type RemoteTarget } from './smtp-delivery.js';

export interface Smarthost {
  readonly host: string;
  readonly port: number;
  readonly secure?: boolean;
  readonly requireTls?: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly tlsInsecure?: boolean;
}

export interface QueueWorkerOptions {
  readonly queue: OutboundQueue;
  readonly blobs: BlobStore;
  readonly directory: DirectoryStore;
  /** Local delivery, for `local` jobs and queued mail to hosted domains (bounces, vacation replies). */
  readonly delivery: MailDelivery;
  /**
   * The MX's path to local mailboxes (recipients' Sieve scripts and vacation): a redirect or a reply to a
   * colleague is filed as mail from outside would be. Absent: filed in INBOX through `delivery`.
   */
  readonly localPath?: LocalDeliveryPath | (() => LocalDeliveryPath | null) | null;
  /** Our name in EHLO and in DSNs. */
  readonly hostname: string;
  /** Distinguishes this worker's leases (default host:pid). */
  readonly workerName?: string;
  /** Parallel deliveries (default 8). */
  readonly concurrency?: number;
  /** How long a claimed job stays ours (default 15 minutes: longer than one attempt can take). */
  readonly leaseMs?: number;
  /** Poll the queue this often when idle (other nodes' mail; default 5 s). */
  readonly pollMs?: number;
  /** Remote port (25; tests point elsewhere). */
  readonly port?: number;
  readonly smarthost?: Smarthost | null;
  readonly mtaSts?: boolean;
  /** Where MTA-STS policies are kept, shared by every node (default: this worker's memory). */
  readonly mtaStsStore?: MtaStsPolicyStore;
  /** Policy fetch limits (and, in tests, the policy host's port). */
  readonly mtaStsFetch?: Omit<StsFetchOptions, 'ca'>;
  /** RFC 8460: where outbound TLS sessions to MX hosts are counted for the daily reports. */
  readonly tlsReports?: TlsReportStore;
  /** Certificate authorities trusted besides the system's for outbound TLS (a private PKI, tests). */
  readonly tlsCa?: readonly (string | Buffer)[];
  readonly dns?: DnsResolver;
  /**
   * A validating resolver (RFC 7672 DANE): MX, address and TLSA lookups of delivery go through it and
   * its AD bit. Absent: no DANE, and MX hosts are found through `dns`.
   */
  readonly dnssec?: DnssecResolver | null;
  /**
   * Domains mail goes to only under DANE (RFC 7672 authenticated TLS), whatever MTA-STS or the message
   * say: a partner whose zone is signed and publishes TLSA records. `example.org` names that domain,
   * `.example.org` its subdomains. An MX host without usable TLSA records is not used; none left: the
   * message waits (4.7.5), and goes back to its sender only when it expires in the queue.
   */
  readonly daneRequired?: readonly string[];
  /** MX lookup (default: DNS through `dns`). Tests inject loopback hosts. */
  readonly lookupMx?: (domain: string) => Promise<MxAnswer>;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Counts deliveries (`palabre_mail_deliveries_total{via="queue"}`). */
  readonly metrics?: Metrics;
}

/**
 * Takes due jobs from the queue and delivers them: locally (hosted domains, full mailboxes retried)
 * or over SMTP to the domain's MX hosts (or the smarthost), with opportunistic STARTTLS, MTA-STS
 * where published, retries with back-off until the message expires, and RFC 3464 bounces to the
 * sender for what failed for good. Several workers on several nodes share one queue safely.
 */
export class QueueWorker {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly resolver: RecipientResolver;
  private readonly dns: DnsResolver;
  private readonly sts: MtaSts;
  private readonly name: string;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly active = new Set<Promise<void>>();
  private readonly deliveries: Counter;
  /** The TLSA policies this node has noted for today's report. */
  private tlsaNoted: { day: string; ids: Set<string> } = { day: '', ids: new Set() };

  constructor(private readonly options: QueueWorkerOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'smtp-queue' });
    this.clock = options.clock ?? systemClock;
    this.resolver = new RecipientResolver(options.directory);
    this.dns = options.dns ?? cachingResolver();
    this.sts = new MtaSts({
      store: options.mtaStsStore ?? new MemoryPolicies(),
      resolver: this.dns,
      fetch: { ...options.mtaStsFetch, ca: options.tlsCa },
      clock: this.clock,
      logger: options.logger,
      onFetchFailure: (domain, failure) => this.countTls(domain, 'sts', '', failure, ''),
    });
    this.deliveries = deliveryCounter(options.metrics ?? noopMetrics);
    this.name = (options.workerName ?? `${osHostname()}:${process.pid}`).slice(0, 60);
  }

  private event(level: 'debug' | 'info' | 'warn' | 'error', fields: Record<string, unknown>, name: SmtpLogEvent): void {
    this.log[level](fields, name);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.event('info', { worker: this.name }, 'queue.worker-started');
    this.loop = this.run();
  }

  /** Look at the queue now (something was just queued). */
  kick(): void {
    this.wake?.();
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    const deadline = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.all(this.active), deadline]);
    this.event('info', { worker: this.name }, 'queue.worker-stopped');
  }

  private async run(): Promise<void> {
    const concurrency = this.options.concurrency ?? 8;
    while (this.running) {
      let claimed = 0;
      try {
        const free = concurrency - this.active.size;
        if (free > 0) {
          const jobs = await this.options.queue.claim(this.name, { now: this.clock.now(), leaseMs: this.options.leaseMs ?? 15 * 60_000, limit: free });
          claimed = jobs.length;
          for (const job of jobs) {
            const p = this.process(job).finally(() => {
              this.active.delete(p);
              this.kick();
            });
            this.active.add(p);
          }
        }
      } catch (error) {
        this.event('error', { causes: causeChain(error) }, 'queue.error');
      }
      if (!this.running) break;
      if (claimed === 0 || this.active.size >= concurrency) await this.sleep(this.options.pollMs ?? 5_000);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.timer = setTimeout(done, ms);
      this.wake = done;
      function done() {
        resolve();
      }
    }).then(() => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.wake = null;
    });
  }

  /** Run every due job once and wait for them (tests, `palabre queue flush`). Returns how many ran. */
  async runOnce(): Promise<number> {
    const jobs = await this.options.queue.claim(this.name, { now: this.clock.now(), leaseMs: this.options.leaseMs ?? 15 * 60_000, limit: 500 });
    await Promise.all(jobs.map((job) => this.process(job)));
    return jobs.length;
  }

  private async process(job: ClaimedJob): Promise<void> {
    const log = { job: job.id, domain: job.domain, transport: job.transport, attempt: job.attempts + 1 };
    try {
      this.event('debug', log, 'queue.attempt');
      const local = job.transport === 'local' || (await this.resolver.isHostedDomain(job.domain));
      const outcomes = local ? await this.deliverLocal(job) : await this.deliverRemote(job);
      // Filed in a mailbox, the blob now belongs to the mailbox store as well.
      await this.finish(job, outcomes, log, local && outcomes.some((o) => o.status === 'delivered'));
    } catch (error) {
      this.event('error', { ...log, causes: causeChain(error) }, 'queue.error');
      const retryAt = nextAttemptAt(this.clock.now(), job.attempts);
      await this.options.queue.release(job, retryAt).catch(() => undefined);
    }
  }

  private async finish(job: ClaimedJob, outcomes: RecipientOutcome[], log: Record<string, unknown>, keepBlob: boolean): Promise<void> {
    const now = this.clock.now();
    const expired = now.getTime() >= job.message.expiresAt.getTime();
    const retryAt = nextAttemptAt(now, job.attempts);
    const final = outcomes.map((o) =>
      o.status === 'pending' && (expired || retryAt.getTime() > job.message.expiresAt.getTime() + 60_000)
        ? { ...o, status: 'failed' as const, enhanced: '4.4.7', diagnostic: `delivery time expired; last error: ${o.diagnostic ?? 'none'}` }
        : o,
    );
    const failed = final.filter((o) => o.status === 'failed');
    const pending = final.filter((o) => o.status === 'pending');
    const completion: JobCompletion = {
      outcomes: final,
      retryAt: pending.length ? retryAt : null,
      error: pending[0]?.diagnostic ?? null,
      enqueue: await this.bounceFor(job, failed, now),
      keepBlob,
    };
    const result = await this.options.queue.complete(job, completion, now);
    if (!result.applied) {
      this.event('warn', log, 'queue.lease-lost');
      return;
    }
    const delivered = final.filter((o) => o.status === 'delivered').length;
    if (delivered) this.deliveries.inc({ via: 'queue', result: 'delivered' }, delivered);
    if (pending.length) this.deliveries.inc({ via: 'queue', result: 'deferred' }, pending.length);
    if (failed.length) this.deliveries.inc({ via: 'queue', result: 'bounced' }, failed.length);
    if (delivered) this.event('info', { ...log, recipients: delivered }, 'queue.delivered');
    if (pending.length) this.event('info', { ...log, recipients: pending.length, retryAt: retryAt.toISOString(), reason: pending[0]!.diagnostic }, 'queue.deferred');
    if (failed.length) this.event('info', { ...log, recipients: failed.length, reason: failed[0]!.diagnostic, bounce: Boolean(completion.enqueue?.length) }, 'queue.bounced');
    if (result.releasedBlobId) await this.options.blobs.delete(result.releasedBlobId).catch(() => undefined);
  }

  /** A DSN for the failed recipients that want one (never for bounces themselves). */
  private async bounceFor(job: ClaimedJob, failed: readonly RecipientOutcome[], now: Date): Promise<NewOutboundMessage[]> {
    if (!job.message.sender || failed.length === 0) return [];
    const wanted = failed
      .map((o) => ({ ...o, recipient: job.recipients.find((r) => r.address === o.address) }))
      .filter((o) => !o.recipient?.notify || o.recipient.notify.includes('FAILURE'));
    if (wanted.length === 0) return [];
    const requiretls = job.message.tlsPolicy === 'requiretls';
    const dsn = buildDsn({
      job,
      failed: wanted.map((o) => ({ ...o, orcpt: o.recipient?.orcpt ?? null })),
      hostname: this.options.hostname,
      now,
      // RFC 8689 §5: a report about REQUIRETLS mail carries only its header section, and goes with REQUIRETLS itself.
      original: { open: () => this.options.blobs.get(job.message.blobId), full: job.message.ret !== 'HDRS' && !requiretls && job.message.size <= DSN_FULL_LIMIT },
    });
    const parts = dsn.parts.map((p) => (Buffer.isBuffer(p) ? p : () => lazy(p)));
    const blob = await this.options.blobs.put(concatParts(parts));
    return [
      {
        blobId: blob.id,
        size: blob.size,
        sender: '',
        recipients: [{ address: job.message.sender }],
        ownsBlob: true,
        transport: 'smtp',
        tlsPolicy: requiretls ? 'requiretls' : null,
        expiresAt: new Date(now.getTime() + 5 * 24 * 3600_000),
      },
    ];
  }

  private async deliverLocal(job: ClaimedJob): Promise<RecipientOutcome[]> {
    const outcomes: RecipientOutcome[] = [];
    const targets = new Map<string, string>(); // accountId -> recipient address
    for (const r of job.recipients) {
      if (r.accountId) {
        targets.set(r.accountId, r.address);
        continue;
      }
      const resolved = await this.resolver.resolve(r.address).catch(() => null);
      if (!resolved || resolved.kind === 'unknown' || resolved.kind === 'remote') {
        outcomes.push({ address: r.address, status: 'failed', code: 550, enhanced: '5.1.1', diagnostic: '550 5.1.1 no such user here' });
      } else if (resolved.kind === 'disabled') {
        outcomes.push({ address: r.address, status: 'failed', code: 550, enhanced: '5.2.1', diagnostic: '550 5.2.1 mailbox disabled' });
      } else {
        for (const a of resolved.accounts) if (!targets.has(a.id)) targets.set(a.id, r.address);
      }
    }
    if (targets.size === 0) return outcomes;
    const info = await this.options.blobs.stat(job.message.blobId);
    if (!info) throw new Error('queued message blob is missing');
    const analysis = await analyzeMessage(await this.options.blobs.get(info.id));
    const message = { blobId: info.id, size: info.size, receivedAt: this.clock.now(), analysis, dedupeKey: `queue:${job.message.id}` };
    const path = typeof this.options.localPath === 'function' ? this.options.localPath() : this.options.localPath;
    const stored = path ? await storedRulesInput(this.options.blobs, { ...message, sender: job.message.sender, requireTls: job.message.tlsPolicy === 'requiretls' }) : null;
    const outcome = path && stored
      ? await path.deliver({ id: job.id, message: { ...message, header: stored.header }, recipients: targets, rules: stored.rules })
      : await deliverLocally(this.options.delivery, this.options.directory, message, [...targets.keys()].map((accountId) => ({ accountId })));
    const byAddress = new Map<string, RecipientOutcome>();
    for (const [accountId, address] of targets) {
      const full = outcome.full.find((f) => f.accountId === accountId);
      const o: RecipientOutcome = !full
        ? { address, status: 'delivered', code: 250 }
        : full.permanent
          ? { address, status: 'failed', code: 552, enhanced: '5.2.2', diagnostic: '552 5.2.2 mailbox full: the message is larger than the quota' }
          : { address, status: 'pending', code: 452, enhanced: '4.2.2', diagnostic: '452 4.2.2 mailbox full' };
      // A group address: delivered once any member has it; pending while one waits for room.
      const prev = byAddress.get(address);
      if (!prev || o.status === 'pending' || (prev.status === 'failed' && o.status === 'delivered')) byAddress.set(address, o);
    }
    return [...outcomes, ...byAddress.values()];
  }

  /** RFC 8460: one more session (or policy fetch) for the day's report; counting never holds up mail. */
  private countTls(domain: string, policyType: 'sts' | 'tlsa' | 'no-policy-found', policyId: string, resultType: string, receivingMx: string): void {
    const store = this.options.tlsReports;
    if (!store) return;
    const day = this.clock.now().toISOString().slice(0, 10);
    store.count({ day, domain, policyType, policyId, resultType, receivingMx }).catch((error: unknown) => this.event('warn', { domain, err: (error as Error).message }, 'queue.error'));
  }

  /**
   * A DANE session's policy for the report: its TLSA base (the first reference name) and records, noted
   * once a day per record set by this node; the id goes into the count. '' when there is no store.
   */
  private tlsaPolicyOf(dane: NonNullable<RemoteTarget['dane']>): string {
    const store = this.options.tlsReports;
    if (!store) return '';
    const day = this.clock.now().toISOString().slice(0, 10);
    const domain = dane.names[0]!.replace(/\.$/, '').toLowerCase();
    const records = dane.records.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex').toUpperCase()}`);
    const id = tlsaPolicyId(domain, records);
    if (this.tlsaNoted.day !== day) this.tlsaNoted = { day, ids: new Set() };
    if (!this.tlsaNoted.ids.has(id)) {
      this.tlsaNoted.ids.add(id);
      // A set the store refuses (more records or bytes than any real one) is still counted, without its records.
      store.notePolicy({ day, id, domain, records }).catch((error: unknown) => {
        this.tlsaNoted.ids.delete(id);
        this.event('warn', { domain, err: (error as Error).message }, 'queue.error');
      });
    }
    return id;
  }

  /** The host's address through our resolver (the one the MX lookup uses); undefined: the SMTP client resolves it. */
  private async addressOf(host: string): Promise<string | undefined> {
    return isIP(host) ? undefined : ((await addressOf(this.dns, host)) ?? undefined);
  }

  private async deliverRemote(job: ClaimedJob): Promise<RecipientOutcome[]> {
    const { smarthost } = this.options;
    const pendingAll = (code: number | null, enhanced: string | null, diagnostic: string, permanent = false, remoteMta: string | null = null): RecipientOutcome[] =>
      job.recipients.map((r) => ({ address: r.address, status: permanent ? 'failed' : 'pending', code, enhanced, diagnostic, remoteMta }));
    // RFC 8689: REQUIRETLS travels with the message; `TLS-Required: No` sets the recipient's MTA-STS policy aside.
    const requiretls = job.message.tlsPolicy === 'requiretls';
    const ca = this.options.tlsCa;
    let targets: RemoteTarget[];
    let stsInForce: MtaStsVerdict | null = null;
    if (smarthost) {
      // The relay is ours to configure, so its name needs no DNS proof; REQUIRETLS still wants its certificate checked.
      targets = [
        {
          host: smarthost.host,
          address: await this.addressOf(smarthost.host),
          port: smarthost.port,
          secure: smarthost.secure,
          requireTls: requiretls || (smarthost.requireTls ?? true),
          verifyCertificate: requiretls || !smarthost.tlsInsecure,
          ca,
          auth: smarthost.username ? { user: smarthost.username, pass: smarthost.password ?? '' } : null,
        },
      ];
    } else {
      const dnssec = this.options.dnssec ?? null;
      let mx: MxAnswer;
      let mxSecure = false;
      if (this.options.lookupMx) mx = await this.options.lookupMx(job.domain);
      else if (dnssec) ({ mx, secure: mxSecure } = await secureMx(dnssec, job.domain));
      else mx = await lookupMx(job.domain, this.dns);
      if (mx.kind === 'none') return pendingAll(550, '5.1.10', `550 5.1.10 ${mx.reason}`, true);
      if (mx.kind === 'temporary') return pendingAll(null, '4.4.3', mx.reason);
      const daneOnly = daneRequiredFor(this.options.daneRequired, job.domain);
      if (daneOnly && !mxSecure) {
        return pendingAll(null, '4.7.5', `DANE is required for ${job.domain}: ${dnssec ? 'its MX RRset is not DNSSEC-validated' : 'no DNSSEC resolver is configured (smtp.outbound.dnssecResolver)'}`);
      }
      const relaxed = job.message.tlsPolicy === 'tls-required-no';
      const sts = this.options.mtaSts === false || relaxed ? null : await this.sts.verdict(job.domain);
      // RFC 8689 §4.2.1: an MX name is only trusted through DNSSEC or MTA-STS: REQUIRETLS mail goes to MX
      // hosts an enforced MTA-STS policy lists, or of a validated MX RRset.
      if (requiretls && sts?.mode !== 'enforce' && !mxSecure) {
        const why = dnssec ? 'the MX RRset is not DNSSEC-signed' : 'DNSSEC is not validated here';
        return pendingAll(550, '5.7.30', `550 5.7.30 REQUIRETLS support required: the MX hosts of ${job.domain} cannot be authenticated (no MTA-STS policy in force; ${why})`, true);
      }
      stsInForce = sts;
      if (sts?.mode === 'testing') {
        // RFC 8461 §5: testing mode delivers as if there were no policy; what enforce would refuse is reported.
        const misses = mx.hosts.filter((h) => !sts.matches(h.host)).map((h) => h.host);
        if (misses.length) this.event('warn', { domain: job.domain, policy: sts.policy?.id, hosts: misses.slice(0, 5) }, 'mta-sts.testing-failure');
      }
      const strict = requiretls || Boolean(sts?.requireTls);
      targets = [];
      const skipped: string[] = [];
      let stsRefused = 0;
      for (const h of mx.hosts.slice(0, 10)) {
        if (targets.length >= 5) break;
        const route: HostRoute | null = dnssec ? await routeOf(dnssec, h.host, mxSecure) : null;
        if (route?.kind === 'skip') {
          // RFC 7672 §2.2: a bogus TLSA (or address) answer: this host gets nothing, the next one may.
          skipped.push(route.reason);
          this.event('warn', { domain: job.domain, host: h.host, reason: route.reason }, 'dane.host-skipped');
          if (route.dnssecInvalid) this.countTls(job.domain, 'tlsa', '', 'dnssec-invalid', h.host);
          continue;
        }
        const dane = route?.dane ?? { kind: 'none' as const };
        if (daneOnly && dane.kind !== 'dane') {
          skipped.push(`${h.host} has no usable TLSA records (DANE is required for ${job.domain})`);
          continue;
        }
        // RFC 8461 §2: where DANE applies it takes precedence over MTA-STS (a host's usable TLSA records authenticate it).
        if (dane.kind !== 'dane' && sts && !sts.allowed(h.host)) {
          stsRefused++;
          continue;
        }
        const address = route?.address ?? (await this.addressOf(h.host));
        const base = { host: h.host, address, port: this.options.port ?? 25, ca };
        if (dane.kind === 'dane') targets.push({ ...base, requireTls: true, verifyCertificate: true, dane: { records: dane.records, names: [...(route?.names ?? [h.host]), job.domain] } });
        // RFC 7672 §2.2: secure TLSA records of which none is usable still make TLS mandatory.
        else targets.push({ ...base, requireTls: strict || dane.kind === 'tls-only', verifyCertificate: strict });
      }
      if (targets.length === 0) {
        if (stsRefused > 0 && skipped.length === 0) return pendingAll(null, '4.7.5', `no MX host of ${job.domain} matches its MTA-STS policy`);
        return pendingAll(null, '4.7.5', `no usable MX host for ${job.domain}: ${skipped.slice(0, 3).join('; ') || 'none listed'}`);
      }
    }
    let last: Extract<AttemptResult, { kind: 'failed' }> | null = null;
    const policyType = stsInForce && stsInForce.mode !== 'none' && stsInForce.policy ? 'sts' : 'no-policy-found';
    const policyId = policyType === 'sts' ? stsInForce!.policy!.id : '';
    for (const target of targets) {
      const result = await attemptDelivery(target, {
        requireTlsExtension: requiretls,
        hostname: this.options.hostname,
        sender: job.message.sender,
        recipients: job.recipients,
        size: job.message.size,
        envId: job.message.envId,
        ret: job.message.ret,
        open: () => this.options.blobs.get(job.message.blobId),
      });
      if (!smarthost && target.dane) {
        // RFC 8460 §4.3.2: a session under a TLSA policy, and `tlsa-invalid` when the certificate matched none.
        if (result.kind === 'replies') {
          this.countTls(job.domain, 'tlsa', this.tlsaPolicyOf(target.dane), '', target.host);
          this.event('info', { domain: job.domain, host: target.host }, 'dane.verified');
        } else if (result.tlsFailure) this.countTls(job.domain, 'tlsa', this.tlsaPolicyOf(target.dane), result.daneMismatch ? 'tlsa-invalid' : tlsResultType(result.diagnostic), target.host);
      } else if (!smarthost) {
        if (result.kind === 'replies') {
          const resultType = !result.tls ? 'starttls-not-supported' : result.certificateError && policyType === 'sts' ? tlsResultType(result.certificateError) : '';
          this.countTls(job.domain, policyType, policyId, resultType, target.host);
        }
        else if (result.tlsFailure) this.countTls(job.domain, policyType, policyId, tlsResultType(result.diagnostic), target.host);
      }
      if (result.kind === 'replies') return result.replies.map((r: RecipientReply) => ({ ...r, remoteMta: target.host }));
      last = result;
      // A permanent refusal of the whole transaction (MAIL FROM, DATA) is the domain's answer.
      if (result.permanent) return pendingAll(result.code, result.enhanced, result.diagnostic, true, target.host);
      // RFC 8689 §5: no authenticated TLS with this host; REQUIRETLS mail is never sent without it.
      if (requiretls && result.tlsFailure) {
        last = { ...result, code: 550, enhanced: '5.7.30', diagnostic: `550 5.7.30 REQUIRETLS support required: no authenticated TLS session with ${target.host} (${result.diagnostic})` };
      }
    }
    if (requiretls && last?.enhanced === '5.7.30') return pendingAll(last.code, last.enhanced, last.diagnostic, true, targets[targets.length - 1]?.host ?? null);
    return pendingAll(last?.code ?? null, last?.enhanced ?? '4.4.1', last?.diagnostic ?? 'no MX host answered', false, targets[targets.length - 1]?.host ?? null);
  }
}

/** Whether `domain` is one of (or under a `.suffix` of) the DANE-only domains. */
export function daneRequiredFor(list: readonly string[] | undefined, domain: string): boolean {
  if (!list?.length) return false;
  const d = domain.toLowerCase().replace(/\.$/, '');
  return list.some((entry) => {
    const e = entry.toLowerCase().replace(/\.$/, '');
    return e.startsWith('.') ? d.endsWith(e) : d === e;
  });
}

/** RFC 8460 §4.3 result type of a failed TLS negotiation, from the TLS library's words. */
function tlsResultType(diagnostic: string): string {
  if (/altname|hostname|host name/i.test(diagnostic)) return 'certificate-host-mismatch';
  if (/expired/i.test(diagnostic)) return 'certificate-expired';
  if (/self[- _]signed|unable[ _]to[ _](get|verify)|issuer|untrusted/i.test(diagnostic)) return 'certificate-not-trusted';
  if (/STARTTLS/i.test(diagnostic)) return 'starttls-not-supported';
  return 'validation-failure';
}

/** A worker's own policy memory when no shared store is given (embedding without a database). */
class MemoryPolicies implements MtaStsPolicyStore {
  private readonly policies = new Map<string, MtaStsPolicy>();
  async get(domain: string): Promise<MtaStsPolicy | null> {
    return this.policies.get(domain.toLowerCase()) ?? null;
  }
  async put(policy: MtaStsPolicy): Promise<void> {
    const p = checkStsPolicy(policy);
    this.policies.set(p.domain, p);
  }
  async delete(domain: string): Promise<void> {
    this.policies.delete(domain.toLowerCase());
  }
}

async function* lazy(open: () => Promise<import('node:stream').Readable>): AsyncGenerator<Buffer> {
  for await (const chunk of await open()) yield chunk as Buffer;
}
