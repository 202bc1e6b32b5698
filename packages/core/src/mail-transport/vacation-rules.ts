import { InvalidInputError } from '../errors.js';
import type { VacationSettings } from './vacation-store.js';

export const MAX_VACATION_SUBJECT = 250;
export const MAX_VACATION_BODY = 16000;
/** RFC 3834 §4: at most once per sender per period; 1 day minimum, 7 days by default. */
export const DEFAULT_VACATION_INTERVAL_MS = 7 * 24 * 3600_000;
export const MIN_VACATION_INTERVAL_MS = 24 * 3600_000;

/** Validate vacation settings the same way in every VacationStore. */
export function checkVacation(input: Omit<VacationSettings, 'updatedAt'> & { updatedAt?: Date }, now: Date): VacationSettings {
  if (typeof input.accountId !== 'string' || input.accountId.length === 0 || input.accountId.length > 36) throw new InvalidInputError('invalid account id');
  const subject = typeof input.subject === 'string' ? input.subject.replace(/[\r\n]+/g, ' ').trim() : '';
  if (subject.length === 0 || subject.length > MAX_VACATION_SUBJECT) throw new InvalidInputError(`the subject must be 1-${MAX_VACATION_SUBJECT} characters on one line`);
  if (typeof input.body !== 'string' || input.body.length === 0 || input.body.length > MAX_VACATION_BODY) {
    throw new InvalidInputError(`the message must be 1-${MAX_VACATION_BODY} characters`);
  }
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(subject + input.body)) throw new InvalidInputError('control characters are not allowed');
  if (!Number.isSafeInteger(input.intervalMs) || input.intervalMs < MIN_VACATION_INTERVAL_MS) throw new InvalidInputError('the reply interval must be at least one day');
  for (const d of [input.startsAt, input.endsAt]) if (d !== null && (!(d instanceof Date) || Number.isNaN(d.getTime()))) throw new InvalidInputError('invalid date');
  if (input.startsAt && input.endsAt && input.endsAt <= input.startsAt) throw new InvalidInputError('the end must come after the start');
  return {
    accountId: input.accountId,
    enabled: Boolean(input.enabled),
    subject,
    body: input.body.replace(/\r?\n/g, '\n'),
    startsAt: input.startsAt,
    endsAt: input.endsAt,
    intervalMs: input.intervalMs,
    updatedAt: input.updatedAt ?? now,
  };
}

export function checkSender(sender: string): string {
  if (typeof sender !== 'string' || sender.length === 0 || sender.length > 512 || /[\s<>\u0000-\u001f]/.test(sender)) throw new InvalidInputError('invalid sender');
  return sender.toLowerCase();
}
