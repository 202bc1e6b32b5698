import { createHash, randomUUID } from 'node:crypto';
import {
  silentLogger,
  type BlobStore,
  type Clock,
  type DirectoryStore,
  type Logger,
  type MailDelivery,
  type OutboundQueue,
  type Principal,
} from '@palabre/core';
import { checkMessage, type AuthCheckResult } from '../auth-results/check-message.js';
import type { DnsResolver } from '../auth-results/dns-resolver.js';
import { concatParts, Outbox, type MessagePart } from '../outbound/outbox.js';
import { tlsPolicyOf } from '../outbound/require-tls.js';
import { HeaderSection } from '../mime/header-section.js';
import type { ReceivedMessage } from './received-message.js';
import { newMessageId, receivedHeader, rfc5322Date, safeAddress } from '../mime/trace-headers.js';
import { LocalDeliveryPath, readUpTo, type LocalInput } from './local-path.js';
import { readOriginator, type Originator } from './originator.js';
import { MessageRejection } from './rejection.js';
import { putAnalysed } from '../mime/analysed-blob.js';
import type { RecipientResolver, ResolvedRecipient } from './recipient-resolver.js';
import type { VacationResponder } from './vacation-responder.js';
import type { FilterRefusal, FilterVerdict, MessageFilter } from '../filters/message-filter.js';
import type { SieveDelivery, SieveMessageInput } from '../sieve/sieve-delivery.js';
import { RedirectMarks, REDIRECT_MARK_FIELD } from '../sieve/redirect-mark.js';

export interface DmarcHandling {
  readonly honorReject: boolean;
  readonly honorQuarantine: boolean;
  readonly hostedDomainPolicy: 'reject' | 'quarantine' | 'none';
}

export interface IntakeOptions {
  readonly hostname: string;
  readonly directory: DirectoryStore;
  readonly resolver: RecipientResolver;
  readonly blobs: BlobStore;
  readonly delivery: MailDelivery;
  readonly outbox: Outbox | null;
  readonly queue: OutboundQueue | null;
  readonly vacation?: VacationResponder | null;
  readonly dns?: DnsResolver;
  readonly dmarc: DmarcHandling;
  readonly maxQueueMs: number;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Scanners run in order on every message before it is stored or queued (rspamd, ClamAV). */
  readonly filters?: readonly MessageFilter[];
  /** Users' and domains' Sieve scripts, run per local recipient of MX mail after the filters. */
  readonly sieve?: SieveDelivery | null;
  /** The path to local mailboxes, shared with the queue worker (default: one over these options). */
  readonly local?: LocalDeliveryPath;
  /** Who may mark a message as redirected (default: the Sieve delivery's). */
  readonly marks?: RedirectMarks;
  /** Told of each filter's decision (metrics). */
  readonly onFiltered?: (filter: string, action: FilterVerdict['action'], role: Envelope['role']) => void;
}

export interface AcceptedRecipient {
  readonly resolved: ResolvedRecipient;
  readonly notify?: readonly ('NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY')[] | null;
  readonly orcpt?: string | null;
}

export interface Envelope {
  readonly role: 'mx' | 'submission';
  /** '' for the null reverse-path. */
  readonly sender: string;
  readonly recipients: readonly AcceptedRecipient[];
  readonly ip: string;
  readonly helo: string | undefined;
  readonly secure: boolean;
  readonly principal: Principal | null;
  /** From a trusted network: may use hosted senders without AUTH (never relays). */
  readonly trusted: boolean;
  readonly envId?: string | null;
  readonly ret?: 'FULL' | 'HDRS' | null;
  /** RFC 8689 `MAIL FROM … REQUIRETLS` (accepted over TLS only). */
  readonly requireTls?: boolean;
}

export interface IntakeResult {
  readonly id: string;
  /** Accounts the message was filed for now. */
  readonly delivered: number;
  /** Accounts whose delivery was queued for a retry (full mailbox). */
  readonly deferred: number;
  /** Remote recipients queued. */
  readonly queued: number;
}

/** Fields that mean something only when we add them: a client's copy is dropped (RFC 8601 §5). */
const OURS_MX = new Set(['return-path', 'delivered-to', 'x-original-to']);
/** What our filters write: a sender's own `X-Spam-Status: No` must not pass for our verdict. */
const OURS_FILTERS = new Set(['x-spam-status', 'x-spam-action', 'x-spam-symbols', 'x-spam-checker', 'x-virus-scanned']);

/**
 * What happens between the end of DATA and the 250: authentication checks and policy (MX), sender
 * checks and missing fields (submission), trace fields, one blob for every local recipient, local
 * delivery through MailDelivery, remote recipients into the durable queue. Resolves only once all of
 * it is durable; throws MessageRejection (or a storage error) otherwise.
 */
export class Intake {
  private readonly log: Logger;
  private readonly local: LocalDeliveryPath;
  private readonly marks: RedirectMarks;

  constructor(private readonly options: IntakeOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'smtp-intake' });
    this.local =
      options.local ?? new LocalDeliveryPath({ delivery: options.delivery, directory: options.directory, sieve: options.sieve, vacation: options.vacation, logger: options.logger });
    this.marks = options.marks ?? options.sieve?.marks ?? new RedirectMarks();
  }

  async accept(envelope: Envelope, received: ReceivedMessage): Promise<IntakeResult> {
    const id = randomUUID().replace(/-/g, '').slice(0, 20);
    const now = this.options.clock.now();
    const header = HeaderSection.parse(received.header);
    const originator = readOriginator(header);
    const bodyStream = () => received.body.stream();
    const parts: MessagePart[] = [];
    let mailbox: string | undefined;
    let signDomain: string | null = null;
    let headerOut: Buffer;
    // Our redirect marks are ours to write: one that does not verify is dropped here, where mail enters.
    const forged = await this.marks.forged(header);
    const forgedMark = (f: { name: string; value: string }) => f.name === REDIRECT_MARK_FIELD && forged.has(f.value);

    if (envelope.role === 'submission') {
      const principal = envelope.principal!;
      for (const address of [...originator.from, ...(originator.sender ? [originator.sender] : [])]) {
        if (!(await this.options.resolver.maySendAs(principal.accountId, address))) {
          throw new MessageRejection('not-your-address', `you may not send as ${safeAddress(address)} (From:/Sender: must be your own address or alias)`);
        }
      }
      await this.filter(envelope, id, received);
      signDomain = domainOf(originator.from[0]!);
      let added = '';
      if (!header.has('message-id')) added += `Message-ID: ${newMessageId(this.options.hostname)}\r\n`;
      if (!header.has('date')) added += `Date: ${rfc5322Date(now)}\r\n`;
      // Bcc: never leaves (RFC 5322 §3.6.3): recipients learn nothing of each other.
      headerOut = Buffer.concat([Buffer.from(added), header.toBuffer((f) => f.name === 'bcc' || forgedMark(f))]);
      parts.push(Buffer.from(this.received(envelope, id, now)), headerOut);
    } else {
      const checked = await this.check(envelope, received);
      if (!sameAddresses(checked.headerFrom, originator.from)) {
        // DMARC was evaluated on another From than the one policy and the reader see.
        throw new MessageRejection('malformed-originator', 'the From: field cannot be read unambiguously');
      }
      const { verdict, reason } = await this.policy(envelope, originator, checked);
      if (verdict === 'reject') throw new MessageRejection('authentication-policy', reason);
      if (verdict === 'quarantine') mailbox = '\\Junk';
      const filtered = await this.filter(envelope, id, received);
      if (filtered.junk) mailbox = '\\Junk';
      const authservId = this.options.hostname.toLowerCase();
      headerOut = header.toBuffer(
        (f) =>
          OURS_MX.has(f.name) ||
          forgedMark(f) ||
          (OURS_FILTERS.has(f.name) && (this.options.filters?.length ?? 0) > 0) ||
          (f.name === 'authentication-results' && f.value.split(';')[0]!.trim().toLowerCase() === authservId),
      );
      parts.push(
        Buffer.from(`Return-Path: <${envelope.sender ? safeAddress(envelope.sender) : ''}>\r\n`),
        Buffer.from(checked.headers),
        Buffer.from(filtered.headers),
        Buffer.from(this.received(envelope, id, now)),
        headerOut,
      );
    }
    parts.push(bodyStream);

    const locals = envelope.recipients.filter((r) => r.resolved.kind === 'local');
    const remotes = envelope.recipients.filter((r) => r.resolved.kind === 'remote');
    let delivered = 0;
    let deferred = 0;
    let queued = 0;

    // Submission: the one signed blob serves local and remote recipients alike.
    const finalParts = envelope.role === 'submission' && this.options.outbox ? await this.options.outbox.sign(parts, signDomain) : parts;
    // A small message (body still in memory) goes to the blob store as one buffer: one write, not one per part.
    const small = finalParts.every((p) => Buffer.isBuffer(p) || p === bodyStream) ? received.body.buffered() : null;
    const whole = small ? Buffer.concat(finalParts.map((p) => (Buffer.isBuffer(p) ? p : small))) : null;
    const { blob, analysis } = await putAnalysed(this.options.blobs, whole ? [whole] : concatParts(finalParts));
    const headerSection = whole && analysis.headerBytes > 0 ? whole.subarray(0, analysis.headerBytes) : undefined;

    if (locals.length > 0) {
      const retry = retryOf(envelope, header, received);
      const accountIds = new Map<string, string>(); // account id -> recipient address (first)
      for (const r of locals) {
        if (r.resolved.kind !== 'local') continue;
        for (const a of r.resolved.accounts) if (!accountIds.has(a.id)) accountIds.set(a.id, r.resolved.address);
      }
      const rules: SieveMessageInput = {
        header,
        envelopeFrom: envelope.sender,
        size: blob.size,
        body: async () => readUpTo(bodyStream(), 1024 * 1024),
        mime: { parts: analysis.data.parts, headerBytes: analysis.headerBytes },
        open: () => concatParts([() => this.blobStream(blob.id)]),
        requireTls: envelope.requireTls === true,
      };
      const input: LocalInput = {
        id,
        message: { blobId: blob.id, size: blob.size, receivedAt: now, analysis, header: headerSection, ...retry },
        recipients: accountIds,
        mailbox,
        rules: envelope.role === 'mx' ? rules : null,
      };
      const plans = await this.local.plan(input);
      const rejections = [...accountIds.keys()].map((a) => plans.get(a)?.reject ?? null);
      // Every recipient refuses: say so in the SMTP reply, the best place for it (RFC 5429 §2.1).
      if (plans.size > 0 && rejections.every(Boolean) && remotes.length === 0) {
        this.log.info({ id, accounts: rejections.length }, 'sieve.rejected');
        throw new MessageRejection('refused-by-recipient', rejections[0]!.reason.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 400) || 'message refused by the recipient');
      }
      const outcome = await this.local.file(input, plans);
      delivered = outcome.results.length;
      if (outcome.results.some((r) => r.duplicate)) this.log.info({ id, accounts: outcome.results.filter((r) => r.duplicate).length }, 'delivery.duplicate');
      const permanent = outcome.full.filter((f) => f.permanent);
      const transient = outcome.full.filter((f) => !f.permanent);
      if (delivered === 0 && remotes.length === 0 && outcome.full.length > 0) {
        // Nobody got it: the client keeps the message and its retry logic (RFC 5321 §4.2.5).
        if (permanent.length === outcome.full.length) throw new MessageRejection('mailbox-full', 'mailbox full: the message is larger than the quota');
        throw new MessageRejection('mailbox-full', 'mailbox full, try again later', { permanent: false });
      }
      const toQueue = [...transient, ...permanent];
      if (toQueue.length > 0) {
        if (!this.options.queue) throw new MessageRejection('mailbox-full', 'mailbox full, try again later', { permanent: false });
        // Others got it: keep the message for the full mailboxes and retry (or bounce) from the queue.
        await this.options.queue.enqueue({
          blobId: blob.id,
          size: blob.size,
          sender: envelope.sender,
          recipients: toQueue.map((f) => ({ address: accountIds.get(f.accountId)!, accountId: f.accountId })),
          ownsBlob: false,
          transport: 'local',
          accountId: envelope.principal?.accountId ?? null,
          expiresAt: new Date(now.getTime() + this.options.maxQueueMs),
          notBefore: permanent.length === toQueue.length ? now : new Date(now.getTime() + 60_000),
        });
        deferred = toQueue.length;
        this.log.info({ id, accounts: deferred }, 'delivery.deferred');
      }
      this.log.info({ id, accounts: delivered, size: blob.size, role: envelope.role }, 'delivery.local');
    }

    if (remotes.length > 0) {
      if (envelope.role !== 'submission' || !this.options.queue) throw new MessageRejection('relay-denied', 'relay access denied');
      await this.options.queue.enqueue({
        blobId: blob.id,
        size: blob.size,
        sender: envelope.sender,
        recipients: remotes.map((r) => ({ address: r.resolved.address, orcpt: r.orcpt ?? null, notify: r.notify ?? null })),
        ownsBlob: locals.length === 0,
        transport: 'smtp',
        accountId: envelope.principal?.accountId ?? null,
        envId: envelope.envId ?? null,
        ret: envelope.ret ?? null,
        tlsPolicy: tlsPolicyOf({ requireTls: envelope.requireTls === true, role: envelope.role, header }),
        expiresAt: new Date(now.getTime() + this.options.maxQueueMs),
      });
      queued = remotes.length;
      this.log.info({ id, recipients: queued }, 'queue.enqueued');
    }
    return { id, delivered, deferred, queued };
  }

  /**
   * The filters, in order: the first refusal ends the scan with its SMTP reply (5xx reject, 4xx
   * defer); the fields they add are kept for the MX copy (submission adds none: what the spam filter
   * thought of an outgoing message is not the recipient's business).
   */
  private async filter(envelope: Envelope, id: string, received: ReceivedMessage): Promise<{ junk: boolean; headers: string }> {
    let junk = false;
    let headers = '';
    for (const f of this.options.filters ?? []) {
      const verdict = await f.scan({ id, envelope, size: received.size, message: () => concatParts([received.header, () => received.body.stream()]) });
      this.options.onFiltered?.(f.name, verdict.action, envelope.role);
      if (verdict.action === 'accept' || verdict.action === 'junk') {
        if (verdict.action === 'junk') {
          junk = true;
          this.log.info({ id, filter: f.name, action: 'junk' }, 'delivery.filtered');
        }
        if (envelope.role === 'mx' && verdict.headers) headers += verdict.headers;
        continue;
      }
      const refusal = verdict as FilterRefusal;
      this.log.info({ id, filter: f.name, action: refusal.action, reason: refusal.reason, role: envelope.role, ip: envelope.ip }, 'delivery.filtered');
      const reject = refusal.action === 'reject';
      throw new MessageRejection('filtered', refusal.reason, { permanent: reject, enhanced: refusal.code ?? null });
    }
    return { junk, headers };
  }

  private async *blobStream(blobId: string): AsyncIterable<Uint8Array> {
    yield* await this.options.blobs.get(blobId);
  }

  private received(envelope: Envelope, id: string, now: Date): string {
    return receivedHeader({
      helo: envelope.helo,
      ip: envelope.ip,
      hostname: this.options.hostname,
      secure: envelope.secure,
      authenticated: envelope.principal !== null,
      id,
      recipient: envelope.recipients.length === 1 ? envelope.recipients[0]!.resolved.address : undefined,
      date: now,
    });
  }

  private async check(envelope: Envelope, received: ReceivedMessage): Promise<AuthCheckResult> {
    try {
      const result = await checkMessage({
        message: concatParts([received.header, () => received.body.stream()]),
        ip: envelope.ip,
        helo: envelope.helo ?? '',
        sender: envelope.sender,
        hostname: this.options.hostname,
        resolver: this.options.dns,
      });
      this.log.debug({ spf: result.spf, dkim: result.dkimPass.length, dmarc: result.dmarc.result, arc: result.arc }, 'auth-results.checked');
      return result;
    } catch (error) {
      throw new MessageRejection('checks-unavailable', 'temporary failure checking the message authentication, try again later', { permanent: false, cause: error });
    }
  }

  /**
   * DMARC as published, and for our own domains the policy we know applies: a From in a hosted domain
   * needs DMARC to pass, a Sender in a hosted domain needs DKIM or SPF for its domain.
   */
  private async policy(envelope: Envelope, originator: Originator, checked: AuthCheckResult): Promise<{ verdict: 'accept' | 'quarantine' | 'reject'; reason: string }> {
    const { dmarc } = this.options;
    const hosted = async (domains: readonly string[]) => (await Promise.all([...new Set(domains)].map((d) => this.options.resolver.isHostedDomain(d)))).some(Boolean);
    const local = (reason: string) => ({ verdict: dmarc.hostedDomainPolicy === 'none' ? ('accept' as const) : dmarc.hostedDomainPolicy, reason });
    const dmarcRefusal = `message refused by the DMARC policy of ${checked.dmarc.domain ?? 'the sender domain'}`;
    if (!envelope.trusted) {
      if (checked.dmarc.result !== 'pass' && (await hosted(originator.from.map(domainOf)))) {
        const v = local(dmarcRefusal);
        if (v.verdict !== 'accept') return v;
      }
      const sender = originator.sender;
      if (sender && !authenticatedFor(domainOf(sender), envelope, checked) && (await hosted([domainOf(sender)]))) {
        const v = local(`Sender: ${safeAddress(sender)} is one of our addresses, but the message is not authenticated for ${domainOf(sender)}`);
        if (v.verdict !== 'accept') return v;
      }
    }
    if (checked.dmarc.result === 'fail') {
      if (checked.dmarc.policy === 'reject') return { verdict: dmarc.honorReject ? 'reject' : dmarc.honorQuarantine ? 'quarantine' : 'accept', reason: dmarcRefusal };
      if (checked.dmarc.policy === 'quarantine' && dmarc.honorQuarantine) return { verdict: 'quarantine', reason: dmarcRefusal };
    }
    return { verdict: 'accept', reason: '' };
  }
}

/** How long after a delivery the same transaction sent again counts as the client's retry. */
export const RETRY_WINDOW_MS = 15 * 60_000;

/**
 * What identifies a client's retry of the same transaction after a lost 250 (RFC 1047): the
 * same envelope, the same bytes and the same Message-ID, within minutes. A message without exactly
 * one Message-ID, or sent again later, is a new message: sending the same report twice gives two.
 */
function retryOf(envelope: Envelope, header: HeaderSection, received: ReceivedMessage): { dedupeKey?: string; dedupeWindowMs?: number } {
  const ids = header.getAll('message-id');
  if (ids.length !== 1 || !ids[0]) return {};
  const recipients = envelope.recipients.map((r) => r.resolved.address).sort().join(',');
  const dedupeKey = createHash('sha256').update(`${envelope.role}\u0000${envelope.sender}\u0000${recipients}\u0000${ids[0]}\u0000${received.digest}`).digest('hex');
  return { dedupeKey, dedupeWindowMs: RETRY_WINDOW_MS };
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/** RFC 7489 §3.1 alignment, relaxed without a public suffix list: equal, or one a subdomain of the other. */
function aligned(a: string, b: string): boolean {
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

/** A passing DKIM signature or SPF result for an identity aligned with `domain`. */
function authenticatedFor(domain: string, envelope: Envelope, checked: AuthCheckResult): boolean {
  if (checked.dkimPass.some((d) => aligned(d.toLowerCase(), domain))) return true;
  return checked.spf === 'pass' && envelope.sender !== '' && aligned(domainOf(envelope.sender).toLowerCase(), domain);
}
