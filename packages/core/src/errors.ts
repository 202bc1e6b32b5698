/**
 * The typed errors every port speaks. Protocol packages map them to their wire form (DAV status,
 * IMAP `NO [CODE]`, SMTP reply); storage maps every driver error to one of them so that no
 * SQLite or PostgreSQL detail ever escapes core.
 */
export type ErrorKind =
  | 'invalid'
  | 'not-found'
  | 'conflict'
  | 'forbidden'
  | 'unauthenticated'
  | 'quota'
  | 'too-large'
  | 'rate-limited'
  | 'unavailable'
  | 'internal';

export interface PalabreErrorOptions {
  /** True when the same call may succeed if simply retried (lock contention, a dropped connection). */
  retryable?: boolean;
  cause?: unknown;
  /** Machine-readable detail for the caller (e.g. the field that was invalid). Never secrets. */
  detail?: Record<string, unknown>;
}

export class PalabreError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly detail: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, message: string, options: PalabreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PalabreError';
    this.kind = kind;
    this.retryable = options.retryable ?? (kind === 'unavailable' || kind === 'rate-limited');
    this.detail = options.detail;
  }
}

export class InvalidInputError extends PalabreError {
  constructor(message: string, options?: PalabreErrorOptions) {
    super('invalid', message, options);
    this.name = 'InvalidInputError';
  }
}

export class NotFoundError extends PalabreError {
  constructor(message: string, options?: PalabreErrorOptions) {
    super('not-found', message, options);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends PalabreError {
  constructor(message: string, options?: PalabreErrorOptions) {
    super('conflict', message, options);
    this.name = 'ConflictError';
  }
}

export class ForbiddenError extends PalabreError {
  constructor(message: string, options?: PalabreErrorOptions) {
    super('forbidden', message, options);
    this.name = 'ForbiddenError';
  }
}

export class QuotaExceededError extends PalabreError {
  constructor(message: string, options?: PalabreErrorOptions) {
    super('quota', message, options);
    this.name = 'QuotaExceededError';
  }
}

export class TooLargeError extends PalabreError {
  constructor(message: string, options?: PalabreErrorOptions) {
    super('too-large', message, options);
    this.name = 'TooLargeError';
  }
}

export class RateLimitedError extends PalabreError {
  /** How long the caller should wait before trying again. */
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, options?: PalabreErrorOptions) {
    super('rate-limited', message, { retryable: true, ...options });
    this.name = 'RateLimitedError';
    this.retryAfterMs = retryAfterMs;
  }
}

export class UnavailableError extends PalabreError {
  constructor(message: string, options?: PalabreErrorOptions) {
    super('unavailable', message, { retryable: true, ...options });
    this.name = 'UnavailableError';
  }
}

export function isPalabreError(error: unknown, kind?: ErrorKind): error is PalabreError {
  return error instanceof PalabreError && (kind === undefined || error.kind === kind);
}

/** The chain of causes, outermost first, for logging at error level. */
export function causeChain(error: unknown, limit = 8): string[] {
  const chain: string[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < limit) {
    if (current instanceof Error) {
      chain.push(`${current.name}: ${current.message}`);
      current = current.cause;
    } else {
      chain.push(String(current));
      break;
    }
  }
  return chain;
}
