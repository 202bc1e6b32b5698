import { silentLogger, type Clock, type DirectoryStore, type Logger, type MessageSubmission, type VacationSettings, type VacationStore } from '@palabre/core';
import { TtlCache } from './ttl-cache.js';
import { encodeWord } from 'nodemailer/lib/mime-funcs';
import { headerAddresses } from '../mime/addresses.js';
import { HeaderSection } from '../mime/header-section.js';
import { newMessageId, rfc5322Date, safeAddress } from '../mime/trace-headers.js';

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
  async sendReply(reply: { accountId: string; header: HeaderSection; sender: string; subject: string | null; body: string; from: string | null; mime?: boolean }): Promise<void> {
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
    ].join('\r\n');
    const entity = reply.mime ? mimeEntity(reply.body) : textEntity(reply.body);
    await this.options.submission.submit({
      sender: '',
      recipients: [{ address: reply.sender, notify: ['NEVER'] }],
      parts: [Buffer.from(`${head}\r\n${entity}`)],
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

/** A plain-text reason as the reply's one part: UTF-8, base64 (any script, any line length). */
function textEntity(text: string): string {
  const body = (Buffer.from(text.replace(/\r?\n/g, '\r\n')).toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
  return `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n`;
}

/**
 * RFC 5230 §5.7 (`vacation :mime`): the reason is a MIME entity, its header fields then its body, sent
 * as the reply's content as written (a multipart/alternative with an HTML part, say). Only its
 * Content-* fields are taken: the script writes the part, not the envelope of the reply (a `Bcc:` in a
 * reason must not add recipients). A reason with no Content-Type is text/plain (RFC 2045 §5.2); an
 * 8-bit single part without a transfer encoding is sent base64, so the reply stays 7-bit.
 */
export function mimeEntity(reason: string): string {
  const text = reason.replace(/\r?\n/g, '\r\n');
  const split = text.startsWith('\r\n') ? 0 : text.indexOf('\r\n\r\n');
  const hasHeader = split > 0 && /^[!-9;-~]+:/.test(text);
  const header = hasHeader ? HeaderSection.parse(Buffer.from(text.slice(0, split + 4))) : null;
  let body = hasHeader ? text.slice(split + 4) : split === 0 ? text.slice(2) : text;
  const fields = (header?.fields ?? []).filter((f) => f.name.startsWith('content-'));
  const lines = fields.map((f) => f.raw.toString('utf8').replace(/\r?\n?$/, ''));
  const type = fields.find((f) => f.name === 'content-type')?.value.toLowerCase() ?? null;
  if (!type) lines.unshift(`Content-Type: text/plain; charset=${/^[\x00-\x7f]*$/.test(body) ? 'us-ascii' : 'utf-8'}`);
  if (!/^[\x00-\x7f]*$/.test(body) && !fields.some((f) => f.name === 'content-transfer-encoding') && !type?.startsWith('multipart/')) {
    lines.push('Content-Transfer-Encoding: base64');
    body = (Buffer.from(body).toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
  }
  return `${lines.join('\r\n')}\r\n\r\n${body}${body.endsWith('\r\n') ? '' : '\r\n'}`;
}
