import { createHash } from 'node:crypto';
import { silentLogger, type Clock, type DeliveryTarget, type DirectoryStore, type Logger, type MailStore, type MessageSubmission, type SieveScriptStore, type VacationStore } from '@palabre/core';
import { TtlCache } from '../delivery/ttl-cache.js';
import type { VacationResponder } from '../delivery/vacation-responder.js';
import { vacationSkipReason } from '../delivery/vacation-responder.js';
import { analyzeMessage, MAX_MIME_DEPTH } from '../mime/analyze.js';
import { decodeCharset } from '../mime/charsets.js';
import { decodeQp } from '../mime/transfer-decode.js';
import type { PartNode } from '../mime/types.js';
import type { HeaderSection } from '../mime/header-section.js';
import { newMessageId, rfc5322Date, safeAddress } from '../mime/trace-headers.js';
import { runSieve, type SieveAction } from './interpret.js';
import { DEFAULT_SIEVE_LIMITS, SieveSyntaxError, type SieveLimits } from './parse.js';
import { compileSieve, type CompiledSieve } from './validate.js';
import { RedirectMarks } from './redirect-mark.js';

/**
 * Sieve at local delivery. It runs per recipient, after the message-level filters (rspamd, ClamAV
 * in MessageFilter): those judge the message once for everyone and may refuse it before any user
 * rule sees it, while a Sieve script is one account's wish and needs the account (its scripts, its
 * addresses, its mailboxes). So it sits between the filters' verdict and MailDelivery, in the intake.
 */

/** Every event Sieve at delivery logs (a closed set, as DESIGN asks). */
export const SIEVE_LOG_EVENTS = [
  'sieve.copy-skipped-full',
  'sieve.failed',
  'sieve.fileinto-missing',
  'sieve.invalid-script',
  'sieve.redirect-loop',
  'sieve.redirected',
  'sieve.rejected',
  'sieve.runtime-error',
] as const;

export { REDIRECT_MARK } from './redirect-mark.js';
/** A message redirected this many times (by any account) is only kept: loops across accounts end. */
export const MAX_REDIRECT_HOPS = 3;
/**
 * A message that has crossed this many relays (Received fields) is not redirected again: a loop
 * through another deployment, whose marks we cannot verify (and drop), still ends (RFC 5321 §6.3
 * counts Received fields the same way, with a higher bound, to refuse looping mail).
 */
export const MAX_REDIRECT_RECEIVED = 30;

export interface SieveRecipient {
  readonly accountId: string;
  /** The RCPT TO that reached this account. */
  readonly address: string;
}

export interface SievePlan {
  readonly targets: readonly DeliveryTarget[];
  readonly reject: { readonly reason: string; readonly ereject: boolean } | null;
  readonly redirects: readonly string[];
  readonly vacation: Extract<SieveAction, { type: 'vacation' }> | null;
  /**
   * True when the account's own script takes vacation replies over (it requires "vacation", RFC 5230):
   * the built-in vacation then stays silent for it. A script that only files or flags leaves the
   * out-of-office set with `palabre vacation` (or the portal) answering as before, and a domain script
   * never silences it, so an administrator's rule or a user's filter never turns replies off.
   */
  readonly answersVacation: boolean;
}

export interface SieveDeliveryOptions {
  readonly scripts: SieveScriptStore;
  readonly directory: DirectoryStore;
  readonly vacations: VacationStore;
  /** Where redirects, replies and refusal notices are signed and queued; null: none are sent. */
  readonly submission: MessageSubmission | null;
  readonly hostname: string;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly limits?: SieveLimits;
  /** To tell a fileinto of a missing mailbox (filed into INBOX by the store) in the log. */
  readonly mailboxes?: Pick<MailStore, 'getMailbox'> | null;
  /** Signs and verifies the loop guard's marks (default: a key of this process). */
  readonly marks?: RedirectMarks;
}

export interface SieveMessageInput {
  readonly header: HeaderSection;
  readonly envelopeFrom: string;
  readonly size: number;
  /** The body bytes, read only when a script tests `body`; at most 1 MiB of it is looked at. */
  readonly body: () => Promise<Buffer>;
  /**
   * The message's MIME tree as analysed at delivery (offsets into the whole message) and the length of
   * its header section, for `body` to match each part decoded. Absent: the header and the bytes read
   * are analysed again (one parser either way).
   */
  readonly mime?: { readonly parts: PartNode; readonly headerBytes: number };
  /** The message as stored, for redirect. */
  readonly open: () => AsyncIterable<Uint8Array>;
  /** RFC 8689: it came with REQUIRETLS, which a redirect must keep (the requirement is the sender's). */
  readonly requireTls?: boolean;
}

const BODY_LIMIT = 1024 * 1024;

export class SieveDelivery {
  private readonly log: Logger;
  private readonly compiled = new TtlCache<CompiledSieve | null>();
  /** An account's domain does not change: remembered a minute, so a delivery costs no directory read. */
  private readonly domainOf = new TtlCache<string>();
  private readonly limits: SieveLimits;
  readonly marks: RedirectMarks;

  constructor(private readonly options: SieveDeliveryOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'sieve' });
    this.limits = options.limits ?? DEFAULT_SIEVE_LIMITS;
    this.marks = options.marks ?? new RedirectMarks();
  }

  /** The domain's script then the account's active one (cached 5 s, a change applies within that). */
  private async scriptsFor(accountId: string): Promise<{ scripts: CompiledSieve[]; ownVacation: boolean }> {
    const domainId = await this.domainOf.get(accountId, 60_000, async () => (await this.options.directory.getAccount(accountId)).domainId);
    const domain = await this.compiled.get(`d:${domainId}`, 5_000, async () => this.compile(await this.options.scripts.getDomainScript(domainId), `domain ${domainId}`));
    const own = await this.compiled.get(`a:${accountId}`, 5_000, async () => this.compile((await this.options.scripts.getActive(accountId))?.content ?? null, `account ${accountId}`));
    return { scripts: [domain, own].filter((s): s is CompiledSieve => s !== null), ownVacation: own?.extensions.has('vacation') ?? false };
  }

  private compile(text: string | null, owner: string): CompiledSieve | null {
    if (text === null) return null;
    try {
      return compileSieve(text, this.limits);
    } catch (error) {
      // Stored scripts were validated on upload; one that no longer compiles (a limit lowered) is skipped.
      if (error instanceof SieveSyntaxError) {
        this.log.warn({ owner, err: error.message }, 'sieve.invalid-script');
        return null;
      }
      throw error;
    }
  }

  /** What the scripts decide for one recipient. A failure to read scripts files the message normally. */
  async plan(recipient: SieveRecipient, message: SieveMessageInput, base: DeliveryTarget): Promise<SievePlan> {
    const none: SievePlan = { targets: [base], reject: null, redirects: [], vacation: null, answersVacation: false };
    const { scripts, ownVacation } = await this.scriptsFor(recipient.accountId);
    if (scripts.length === 0) return none;
    const body = scripts.some((s) => s.usesBody) ? await bodyText(message, (await message.body()).subarray(0, BODY_LIMIT)) : undefined;
    const outcome = runSieve(scripts, { header: message.header, envelopeFrom: message.envelopeFrom, envelopeTo: recipient.address, size: message.size, body, now: this.options.clock.now() }, this.limits);
    if (outcome.error) this.log.info({ accountId: recipient.accountId, err: outcome.error }, 'sieve.runtime-error');
    const targets: DeliveryTarget[] = [];
    let reject: SievePlan['reject'] = null;
    const redirects: string[] = [];
    let vacation: SievePlan['vacation'] = null;
    for (const a of outcome.actions) {
      if (a.type === 'keep') targets.push({ ...base, flags: a.flags });
      else if (a.type === 'fileinto') {
        // A missing mailbox is filed into INBOX by the store (RFC 5228 §4.1 allows keep instead); said here.
        const exists = this.options.mailboxes ? (await this.options.mailboxes.getMailbox(recipient.accountId, a.mailbox).catch(() => null)) !== null : true;
        if (!exists) this.log.info({ accountId: recipient.accountId }, 'sieve.fileinto-missing');
        targets.push({ accountId: recipient.accountId, mailbox: a.mailbox, flags: a.flags });
      }
      else if (a.type === 'reject') reject = { reason: a.reason, ereject: a.ereject };
      else if (a.type === 'redirect') redirects.push(a.address);
      else if (a.type === 'vacation') vacation = a;
    }
    // A redirect that would loop is dropped and the message kept instead: it is never lost.
    if (redirects.length > 0) {
      const account = await this.options.directory.getAccount(recipient.accountId);
      // Only our own marks count: one a sender wrote cannot turn this account's redirect off.
      const marks = await this.marks.verified(message.header);
      const relays = message.header.getAll('received').length;
      if (marks.length >= MAX_REDIRECT_HOPS || marks.includes(account.address.toLowerCase()) || relays >= MAX_REDIRECT_RECEIVED) {
        this.log.info({ accountId: recipient.accountId, hops: marks.length, relays }, 'sieve.redirect-loop');
        redirects.length = 0;
        if (!targets.some((t) => t.mailbox === base.mailbox)) targets.push(base);
      }
    }
    return { targets, reject, redirects, vacation, answersVacation: ownVacation };
  }

  /** Carry out what is not a mailbox write: redirects, the vacation reply, a late rejection notice. */
  async act(recipient: SieveRecipient, message: SieveMessageInput, plan: SievePlan, late: boolean, responder: VacationResponder | null): Promise<void> {
    const submission = this.options.submission;
    if (!submission || (plan.redirects.length === 0 && !plan.reject && !plan.vacation)) return;
    const account = await this.options.directory.getAccount(recipient.accountId);
    const domain = account.address.slice(account.address.lastIndexOf('@') + 1);
    for (const to of plan.redirects) {
      // RFC 5228 §4.2: the envelope sender stays; our mark lets the next hop see the loop.
      await submission.submit({
        sender: message.envelopeFrom,
        recipients: [{ address: to }],
        parts: [Buffer.from(await this.marks.field(account.address, message.header)), message.open],
        signDomain: domain,
        accountId: recipient.accountId,
        tlsPolicy: message.requireTls ? 'requiretls' : null,
      });
      this.log.info({ accountId: recipient.accountId }, 'sieve.redirected');
    }
    if (plan.reject && late && message.envelopeFrom) await this.sendRejection(recipient, message, plan.reject.reason, domain);
    if (plan.vacation && responder) {
      const v = plan.vacation;
      const own = [account.address, ...(await this.options.directory.listAliases(recipient.accountId)).map((a) => a.address.toLowerCase()), ...v.addresses.map((a) => a.toLowerCase())];
      const reason = vacationSkipReason(message.header, message.envelopeFrom, own.map((a) => a.toLowerCase()));
      if (reason) {
        this.log.debug({ accountId: recipient.accountId, reason }, 'delivery.vacation-skipped');
        return;
      }
      // One reply per sender and :handle per :days (RFC 5230 §4.2), in the store every node shares.
      const handle = createHash('sha256').update(v.handle).digest('hex').slice(0, 16);
      const key = `sieve-${handle}:${message.envelopeFrom}`.slice(0, 512);
      if (!(await this.options.vacations.shouldReply(recipient.accountId, key, this.options.clock.now(), v.days * 86_400_000))) return;
      await responder.sendReply({ accountId: recipient.accountId, header: message.header, sender: message.envelopeFrom, subject: v.subject, body: v.reason, from: v.from, mime: v.mime });
    }
  }

  /** RFC 5429 §2.1: after the 250, a refusal is a message to the envelope sender, from the null sender. */
  private async sendRejection(recipient: SieveRecipient, message: SieveMessageInput, reason: string, domain: string): Promise<void> {
    const now = this.options.clock.now();
    const subject = message.header.get('subject');
    const text = [
      `Your message to <${safeAddress(recipient.address)}> was refused by the recipient's filter:`,
      '',
      reason.replace(/\r?\n/g, '\r\n').slice(0, 4000),
      '',
      ...(subject ? [`Subject of the refused message: ${subject.replace(/[\r\n]/g, ' ').slice(0, 200)}`] : []),
    ].join('\r\n');
    const head = [
      `From: Mail Delivery System <MAILER-DAEMON@${this.options.hostname}>`,
      `To: <${safeAddress(message.envelopeFrom)}>`,
      'Subject: Message refused',
      `Date: ${rfc5322Date(now)}`,
      `Message-ID: ${newMessageId(this.options.hostname)}`,
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
    ].join('\r\n');
    await this.options.submission!.submit({
      sender: '',
      recipients: [{ address: message.envelopeFrom, notify: ['NEVER'] }],
      parts: [Buffer.from(`${head}\r\n\r\n${text}\r\n`)],
      signDomain: domain,
      accountId: recipient.accountId,
    });
    this.log.info({ accountId: recipient.accountId }, 'sieve.rejected');
  }
}

/**
 * The body as `body` sees it (RFC 5173 §5): the raw bytes for `:raw`; for `:content`/`:text`, every MIME
 * part in order with its type and its content decoded (transfer encoding, then charset for text), and
 * for a message/rfc822 part the header of the message inside (§5.2), whose own parts follow. The
 * prologue and epilogue of multiparts are not offered. Only the first BODY_LIMIT bytes are looked at:
 * a part cut there is matched on what was read.
 */
async function bodyText(message: SieveMessageInput, body: Buffer): Promise<{ raw: string; parts: { contentType: string; text: string }[] }> {
  const raw = body.toString('latin1');
  let mime = message.mime;
  if (!mime) {
    const header = message.header.toBuffer();
    const analysed = await analyzeMessage(Buffer.concat([header, body]));
    mime = { parts: analysed.data.parts, headerBytes: header.length };
  }
  const offset = mime.headerBytes;
  const slice = (start: number, end: number) => body.subarray(Math.max(0, start - offset), Math.max(0, Math.min(end, offset + body.length) - offset));
  const parts: { contentType: string; text: string }[] = [];
  const visit = (node: PartNode, depth: number) => {
    if (parts.length >= MAX_BODY_PARTS || depth > MAX_MIME_DEPTH) return;
    if (node.c) {
      for (const child of node.c) visit(child, depth + 1);
    } else if (node.m) {
      parts.push({ contentType: node.t, text: slice(node.m.hs, node.m.bs).toString('latin1') });
      visit(node.m, depth + 1);
    } else if (node.bs - offset < body.length) {
      parts.push({ contentType: node.t, text: decodePart(slice(node.bs, node.be), node.enc, node.t, node.cs ?? null) });
    }
  };
  visit(mime.parts, 0);
  return { raw, parts };
}

/** Parts offered to `body :content` (MimeAnalyzer describes at most MAX_MIME_PARTS). */
const MAX_BODY_PARTS = 1000;

function decodePart(bytes: Buffer, encoding: string, contentType: string, charset: string | null): string {
  const decoded = encoding === 'base64' ? Buffer.from(bytes.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') : encoding === 'quoted-printable' ? decodeQp(bytes) : bytes;
  return contentType.startsWith('text/') ? decodeCharset(decoded, charset) : decoded.toString('latin1');
}
