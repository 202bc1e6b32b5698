import {
  noopMetrics,
  systemClock,
  type BlobStore,
  type Clock,
  type DirectoryStore,
  type DkimKeyStore,
  type Logger,
  type MailDelivery,
  type MailStore,
  type MessageSubmission,
  type Metrics,
  type OutboundQueue,
  type ServerKeys,
  type SieveScriptStore,
  type VacationStore,
} from '@palabre/core';
import type { DnsResolver } from '../auth-results/dns-resolver.js';
import { cachingResolver } from '../auth-results/dns-resolver.js';
import type { MessageFilter } from '../filters/message-filter.js';
import { Outbox } from '../outbound/outbox.js';
import { SieveDelivery } from '../sieve/sieve-delivery.js';
import { RedirectMarks } from '../sieve/redirect-mark.js';
import { LocalDeliveryPath } from './local-path.js';
import { filterVerdicts } from './delivery-metrics.js';
import { Intake, type DmarcHandling } from './intake.js';
import { RecipientResolver } from './recipient-resolver.js';
import { VacationResponder } from './vacation-responder.js';

export interface MailPipelineOptions {
  /** Our name: Received, Authentication-Results authserv-id, Message-ID of replies. */
  readonly hostname: string;
  readonly directory: DirectoryStore;
  readonly blobs: BlobStore;
  readonly delivery: MailDelivery;
  /** Outbound queue: submission to remote domains, deferred local deliveries, replies; null: none. */
  readonly queue?: OutboundQueue | null;
  /** Called after something was queued (the composition root wakes its QueueWorker). */
  readonly onQueued?: () => void;
  readonly dkimKeys?: DkimKeyStore | null;
  readonly vacations?: VacationStore | null;
  /** Users' and domains' Sieve scripts (RFC 5228), run at local delivery of MX mail. */
  readonly sieveScripts?: SieveScriptStore | null;
  /** The mailbox store, when `delivery` is one: Sieve logs a fileinto of a missing mailbox. */
  readonly mailboxes?: Pick<MailStore, 'getMailbox'> | null;
  /** Keys shared by the deployment (the Sieve redirect mark's); absent: a key of this process. */
  readonly serverKeys?: ServerKeys | null;
  readonly dns?: DnsResolver;
  readonly dmarc?: Partial<DmarcHandling>;
  /** Queued mail is bounced after this long; default 5 days. */
  readonly maxQueueMs?: number;
  /** Scanners every message passes before it is stored or queued (rspamd, ClamAV), in order. */
  readonly filters?: readonly MessageFilter[];
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/**
 * The path of a message once received, whoever received it: intake (SPF/DKIM/DMARC checks, filters,
 * Sieve, local delivery or the queue) and the message submission that features without an SMTP session
 * send through (vacation, Sieve redirects, calendar invitations, TLS reports). Built once per process
 * by the composition root and shared by every SMTP listener; a listener built without one makes its own.
 */
export interface MailPipeline {
  readonly intake: Intake;
  /** Signs and queues; null without an outbound queue. */
  readonly submission: MessageSubmission | null;
  /** The queue as the pipeline uses it (telling `onQueued` after each enqueue); null without one. */
  readonly queue: OutboundQueue | null;
  /** Who an address is (local accounts, aliases, groups, or remote), cached briefly; RCPT asks it too. */
  readonly resolver: RecipientResolver;
  /** The path to local mailboxes (Sieve, vacation): the QueueWorker files queued local mail through it too. */
  readonly local: LocalDeliveryPath;
}

export function createMailPipeline(options: MailPipelineOptions): MailPipeline {
  const clock = options.clock ?? systemClock;
  const maxQueueMs = options.maxQueueMs ?? 5 * 24 * 3600_000;
  const metrics = options.metrics ?? noopMetrics;
  const queue = options.queue && options.onQueued ? noticing(options.queue, options.onQueued) : (options.queue ?? null);
  const outbox = queue ? new Outbox({ blobs: options.blobs, queue, dkimKeys: options.dkimKeys ?? undefined, clock, maxQueueMs }) : null;
  const vacation =
    outbox && options.vacations
      ? new VacationResponder({ vacations: options.vacations, directory: options.directory, submission: outbox, hostname: options.hostname, clock, logger: options.logger })
      : null;
  const marks = new RedirectMarks(options.serverKeys ?? null);
  const sieve =
    options.sieveScripts && options.vacations
      ? new SieveDelivery({ marks, mailboxes: options.mailboxes ?? null, scripts: options.sieveScripts, directory: options.directory, vacations: options.vacations, submission: outbox, hostname: options.hostname, clock, logger: options.logger })
      : null;
  const resolver = new RecipientResolver(options.directory);
  const local = new LocalDeliveryPath({ delivery: options.delivery, directory: options.directory, sieve, vacation, logger: options.logger });
  const intake = new Intake({
    sieve,
    local,
    marks,
    hostname: options.hostname,
    directory: options.directory,
    resolver,
    blobs: options.blobs,
    delivery: options.delivery,
    outbox,
    queue,
    vacation,
    dns: options.dns ?? cachingResolver(),
    dmarc: { honorReject: true, honorQuarantine: true, hostedDomainPolicy: 'reject', ...options.dmarc },
    maxQueueMs,
    clock,
    logger: options.logger,
    filters: options.filters,
    onFiltered: filterVerdicts(metrics),
  });
  return { intake, submission: outbox, queue, resolver, local };
}

/** The same queue, telling `notice` after each enqueue. */
function noticing(queue: OutboundQueue, notice: () => void): OutboundQueue {
  const wrapped = Object.create(queue) as OutboundQueue;
  wrapped.enqueue = async (message) => {
    const queued = await queue.enqueue(message);
    notice();
    return queued;
  };
  return wrapped;
}
