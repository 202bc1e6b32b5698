import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { OutboundJob, RecipientOutcome } from '@palabre/core';
import { newMessageId, rfc5322Date, safeAddress } from '../mime/trace-headers.js';

/** Above this the original is returned as headers only, whatever RET says. */
export const DSN_FULL_LIMIT = 1024 * 1024;

export interface DsnInput {
  readonly job: OutboundJob;
  readonly failed: readonly (RecipientOutcome & { readonly orcpt?: string | null })[];
  readonly hostname: string;
  readonly now: Date;
  /** The original message (stream factory) and whether to include it whole. */
  readonly original: { readonly open: () => Promise<Readable>; readonly full: boolean };
}

const clean = (text: string | null | undefined, max = 900) => (text ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, max);

/**
 * RFC 3464 delivery status notification for the recipients that failed: a multipart/report with a
 * readable explanation, the machine-readable status per recipient, and the original (headers only
 * with RET=HDRS or when it is large). Sent from the null sender so it can never loop.
 */
export function buildDsn(input: DsnInput): { parts: (Buffer | (() => Promise<Readable>))[]; to: string } {
  const { job, hostname, now } = input;
  const boundary = `dsn-${randomBytes(12).toString('hex')}`;
  const to = safeAddress(job.message.sender);
  const lines = input.failed.map((f) => `<${safeAddress(f.address)}>: ${clean(f.diagnostic) || clean(f.enhanced) || 'delivery failed'}`);
  const human = [
    `This is the mail system at ${hostname}.`,
    '',
    'Your message could not be delivered to the following recipients.',
    'It will not be tried again.',
    '',
    ...lines,
    '',
  ].join('\r\n');
  const perRecipient = input.failed
    .map((f) =>
      [
        `Final-Recipient: rfc822; ${safeAddress(f.address)}`,
        ...(f.orcpt && /^[\x21-\x7e]+;[\x21-\x7e]+$/.test(f.orcpt) ? [`Original-Recipient: ${f.orcpt}`] : []),
        'Action: failed',
        `Status: ${/^[45]\.\d{1,3}\.\d{1,3}$/.test(f.enhanced ?? '') ? f.enhanced : '5.0.0'}`,
        ...(f.remoteMta ? [`Remote-MTA: dns; ${clean(f.remoteMta, 255)}`] : []),
        ...(f.code ? [`Diagnostic-Code: smtp; ${clean(f.diagnostic) || String(f.code)}`] : []),
        `Last-Attempt-Date: ${rfc5322Date(now)}`,
      ].join('\r\n'),
    )
    .join('\r\n\r\n');
  const status = [
    `Reporting-MTA: dns; ${hostname}`,
    ...(job.message.envId ? [`Original-Envelope-Id: ${clean(job.message.envId, 200)}`] : []),
    `Arrival-Date: ${rfc5322Date(job.message.createdAt)}`,
    '',
    perRecipient,
    '',
  ].join('\r\n');
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${hostname}>`,
    `To: <${to}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: ${newMessageId(hostname)}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    status,
    `--${boundary}`,
    `Content-Type: ${input.original.full ? 'message/rfc822' : 'text/rfc822-headers'}`,
    '',
    '',
  ].join('\r\n');
  const original = input.original.full ? input.original.open : async () => headersOnly(await input.original.open());
  return { parts: [Buffer.from(head), original, Buffer.from(`\r\n--${boundary}--\r\n`)], to };
}

/** The header section of a message stream (up to 256 KiB). */
async function headersOnly(stream: Readable): Promise<Readable> {
  const { Readable: R } = await import('node:stream');
  let collected = Buffer.alloc(0);
  for await (const chunk of stream) {
    collected = Buffer.concat([collected, chunk as Buffer]);
    const end = collected.indexOf('\r\n\r\n');
    if (end >= 0) {
      collected = collected.subarray(0, end + 2);
      break;
    }
    if (collected.length > 256 * 1024) break;
  }
  stream.destroy();
  return R.from([collected]);
}
