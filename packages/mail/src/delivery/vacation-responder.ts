import { silentLogger, type Clock, type DirectoryStore, type Logger, type MessageSubmission, type VacationSettings, type VacationStore } from '@palabre/core';
import { TtlCache } from './ttl-cache.js';
import { encodeWord } from 'nodemailer/lib/mime-funcs';
import { headerAddresses } from '../mime/addresses.js';
import { HeaderSection } from '../smtp/header-section.js';
import { newMessageId, rfc5322Date, safeAddress } from '../smtp/trace-headers.js';

export interface VacationRequest {
  readonly header: HeaderSection;
  /** Envelope sender of the incoming message ('' = null). */
  readonly sender: string;
  readonly accounts: readonly string[];
}

/** Local parts that are robots, never people (RFC 3834 §2, common practice). */
const ROBOT_SENDER = /^(mailer-daemon|postmaster|listserv|majordomo|bounce[s]?|no-?reply|do-?not-?reply|owner-.*|.*-request|.*-bounces?)@/i;

/**
 * Why no automatic reply goes to this message (RFC 3834 §2), or null when one may. A reply goes only
 * to a person who wrote to the account directly: never to the null sender or robots, never to
 * auto-submitted, bulk or list mail, never to mail where the account is not in To/Cc (a list or a Bcc).
 */
export function vacationSkipReason(header: HeaderSection, sender: string, ownAddresses: readonly string[]): string | null {
  const general = messageSkipReason(header, sender);
  if (general) return general;
  if (ownAddresses.includes(sender.toLowerCase())) return 'own message';
  const addressed = [...headerAddresses(header.get('to')), ...headerAddresses(header.get('cc'))];
  if (!addressed.some((a) => ownAddresses.includes(a))) return 'not addressed directly';
  return null;
}

/** The part of the RFC 3834 rules that does not depend on who the recipient is. */
function messageSkipReason(header: HeaderSection, sender: string): string | null {
  if (!sender) return 'null sender';
  if (ROBOT_SENDER.test(sender)) return 'robot sender';
  const auto = header.get('auto-submitted');
  if (auto && auto.split(';')[0]!.trim().toLowerCase() !== 'no') return 'auto-submitted';
  const precedence = header.get('precedence')?.toLowerCase();
  if (precedence && ['bulk', 'list', 'junk'].includes(precedence)) return `precedence ${precedence}`;
  for (const f of ['list-id', 'list-unsubscribe', 'list-post', 'list-help', 'x-auto-response-suppress', 'feedback-id']) {
    if (header.has(f)) {
      if (f === 'x-auto-response-suppress' && !/\b(all|oof)\b/i.test(header.get(f) ?? '')) continue;
      return f;
    }
  }
  return null;
}

export interface VacationResponderOptions {
  readonly vacations: VacationStore;
  readonly directory: DirectoryStore;
  /** Where the reply is signed and queued. */
  readonly submission: MessageSubmission;
  readonly hostname: string;
  readonly clock: Clock;
  readonly logger?: Logger;
}

/** Sends out-of-office replies for delivered mail: once per sender per interval, from the null sender. */
export class VacationResponder {
  private readonly log: Logger;
  /** Settings are read for every delivered message: reused for 5 s (a change applies within that). */
  private readonly settings = new TtlCache<VacationSettings | null>();

  constructor(private readonly options: VacationResponderOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'vacation' });
  }

  async respond(request: VacationRequest): Promise<void> {
    const now = this.options.clock.now();
    if (messageSkipReason(request.header, request.sender)) return;
    for (const accountId of request.accounts) {
      const settings = await this.settings.get(accountId, 5_000, () => this.options.vacations.get(accountId));
      if (!settings?.enabled) continue;
      if ((settings.startsAt && now < settings.startsAt) || (settings.endsAt && now >= settings.endsAt)) continue;
      const account = await this.options.directory.getAccount(accountId);
      const own = [account.address, ...(await this.options.directory.listAliases(accountId)).map((a) => a.address)];
      const reason = vacationSkipReason(request.header, request.sender, own);
      if (reason) {
        this.log.debug({ accountId, reason }, 'delivery.vacation-skipped');
        continue;
      }
      if (!(await this.options.vacations.shouldReply(accountId, request.sender, now, settings.intervalMs))) {
        this.log.debug({ accountId, reason: 'already answered' }, 'delivery.vacation-skipped');
        continue;
      }
      await this.sendReply({ accountId, header: request.header, sender: request.sender, subject: settings.subject, body: settings.body, from: null });
    }
  }

  /**
   * One out-of-office reply, from the null sender, through the message submission (DKIM-signed, queued): the
   * built-in vacation and Sieve's vacation action (RFC 5230) both answer this way.
   */
  async sendReply(reply: { accountId: string; header: HeaderSection; sender: string; subject: string | null; body: string; from: string | null }): Promise<void> {
    const { accountId, header } = reply;
    const now = this.options.clock.now();
    const account = await this.options.directory.getAccount(accountId);
    const messageId = header.get('message-id');
    const original = header.get('subject');
    const subject = (reply.subject || (original ? `Auto: ${original}` : 'Auto reply')).replace(/[\r\n]+/g, ' ').slice(0, 250);
    const name = account.displayName ? `${headerPhrase(account.displayName)} ` : '';
    // RFC 5230 §4.4: :from must be one of the account's own addresses, else ours is used.
    const fromAddress = reply.from && /^[^\s<>@"]+@[^\s<>@]+$/.test(reply.from.replace(/^.*<([^>]*)>.*$/, '$1')) ? reply.from.replace(/^.*<([^>]*)>.*$/, '$1') : account.address;
    const aliases = (await this.options.directory.listAliases(accountId)).map((a) => a.address.toLowerCase());
    const from = [account.address.toLowerCase(), ...aliases].includes(fromAddress.toLowerCase()) ? fromAddress : account.address;
    const head = [
      `From: ${name}<${from}>`,
      `To: <${safeAddress(reply.sender)}>`,
      `Subject: ${/^[\x20-\x7e]*$/.test(subject) ? subject : encodeWord(subject, 'Q', 60)}`,
      `Date: ${rfc5322Date(now)}`,
      `Message-ID: ${newMessageId(this.options.hostname)}`,
      ...(messageId && /^<[^<>\s]{1,900}>$/.test(messageId) ? [`In-Reply-To: ${messageId}`, `References: ${messageId}`] : []),
      'Auto-Submitted: auto-replied',
      'Precedence: bulk',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
    ].join('\r\n');
    const body = (Buffer.from(reply.body.replace(/\r?\n/g, '\r\n')).toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
    await this.options.submission.submit({
      sender: '',
      recipients: [{ address: reply.sender, notify: ['NEVER'] }],
      parts: [Buffer.from(`${head}\r\n\r\n${body}\r\n`)],
      signDomain: account.address.slice(account.address.lastIndexOf('@') + 1),
      accountId,
    });
    this.log.info({ accountId }, 'delivery.vacation-sent');
  }
}

/** A display name as a header phrase: quoted ASCII, or an RFC 2047 encoded word. */
function headerPhrase(name: string): string {
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return /^[\x20-\x7e]*$/.test(clean) ? `"${clean.replace(/["\\]/g, '\\$&')}"` : encodeWord(clean, 'Q', 60);
}
