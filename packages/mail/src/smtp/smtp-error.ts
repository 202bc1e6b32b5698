import { causeChain, isPalabreError, type Logger } from '@palabre/core';
import { MessageRejection, type RejectionKind } from '../delivery/rejection.js';

/**
 * The one SMTP error: a reply code and an RFC 3463 enhanced status that smtp-server sends as
 * `<code> <enhanced> <text>`. `expected` errors (policy refusals, bad input) are logged at info
 * without a stack; anything else becomes 451 4.3.0 logged at error with its cause chain.
 */
export class SmtpError extends Error {
  /** smtp-server reads the reply code from here. */
  readonly responseCode: number;
  readonly enhanced: string;
  readonly text: string;
  readonly expected: boolean;

  constructor(code: number, enhanced: string, text: string, options: { cause?: unknown; expected?: boolean } = {}) {
    super(`${enhanced} ${text}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SmtpError';
    this.responseCode = code;
    this.enhanced = enhanced;
    this.text = text;
    this.expected = options.expected ?? true;
  }

  get transient(): boolean {
    return this.responseCode >= 400 && this.responseCode < 500;
  }

  /** The reply line as the client sees it. */
  override toString(): string {
    return `${this.responseCode} ${this.enhanced} ${this.text}`;
  }
}

export const isSmtpError = (e: unknown): e is SmtpError => e instanceof SmtpError;

/** The pipeline's refusals in SMTP: reply and enhanced code, permanent then transient (RFC 3463). */
const REJECTION_REPLIES: Record<RejectionKind, { permanent: [number, string]; transient: [number, string] }> = {
  'not-your-address': { permanent: [550, '5.7.1'], transient: [451, '4.7.1'] },
  'malformed-originator': { permanent: [550, '5.6.0'], transient: [451, '4.6.0'] },
  'authentication-policy': { permanent: [550, '5.7.1'], transient: [451, '4.7.1'] },
  'refused-by-recipient': { permanent: [550, '5.7.1'], transient: [451, '4.7.1'] },
  'mailbox-full': { permanent: [552, '5.2.2'], transient: [452, '4.2.2'] },
  'relay-denied': { permanent: [550, '5.7.1'], transient: [451, '4.7.1'] },
  filtered: { permanent: [550, '5.7.1'], transient: [451, '4.7.1'] },
  'checks-unavailable': { permanent: [550, '5.7.0'], transient: [451, '4.7.0'] },
};

/** Map anything thrown while handling a command to the reply the client gets. */
export function toSmtpError(error: unknown): SmtpError {
  if (error instanceof SmtpError) return error;
  if (error instanceof MessageRejection) {
    const [code, enhanced] = REJECTION_REPLIES[error.kind][error.permanent ? 'permanent' : 'transient'];
    // A filter's own code stands if it agrees with the class of the reply (5.x.x refuses, 4.x.x defers).
    const own = error.enhanced && error.enhanced[0] === String(code)[0] ? error.enhanced : null;
    // Our own failure to check is not the sender's fault: logged as unexpected, with its cause.
    return new SmtpError(code, own ?? enhanced, error.reason, { cause: error.cause, expected: error.kind !== 'checks-unavailable' });
  }
  if (isPalabreError(error)) {
    switch (error.kind) {
      case 'too-large':
        return new SmtpError(552, '5.3.4', 'message too big', { cause: error });
      case 'quota':
        return new SmtpError(452, '4.2.2', 'mailbox full, try again later', { cause: error });
      case 'rate-limited':
        return new SmtpError(451, '4.7.1', 'rate limit reached, try again later', { cause: error });
      case 'invalid':
        return new SmtpError(550, '5.6.0', 'message refused: malformed', { cause: error });
      case 'unavailable':
        return new SmtpError(451, '4.3.0', 'temporary local problem, try again later', { cause: error, expected: false });
      default:
        break;
    }
  }
  return new SmtpError(451, '4.3.0', 'temporary local problem, try again later', { cause: error, expected: false });
}

/** Log an error at the right level: expected ones at info without a stack, others at error with causes. */
export function logSmtpError(log: Logger, error: SmtpError, event: string, fields: Record<string, unknown> = {}): void {
  if (error.expected) log.info({ ...fields, reply: error.toString() }, event);
  else log.error({ ...fields, reply: error.toString(), causes: causeChain(error.cause ?? error) }, event);
}
