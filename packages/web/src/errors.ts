import { PalabreError, type ErrorKind } from '@palabre/core';

const KIND_OF_STATUS: Record<number, ErrorKind> = {
  400: 'invalid',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not-found',
  405: 'invalid',
  413: 'too-large',
  415: 'invalid',
  429: 'rate-limited',
  503: 'unavailable',
};

const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  'not-found': 404,
  conflict: 409,
  forbidden: 403,
  unauthenticated: 401,
  quota: 507,
  'too-large': 413,
  'rate-limited': 429,
  unavailable: 503,
  internal: 500,
};

/** The package's one error: an HTTP status, a message a person can read, and extra headers. */
export class WebError extends PalabreError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;

  constructor(status: number, message: string, options: { headers?: Record<string, string | readonly string[]>; cause?: unknown } = {}) {
    super(KIND_OF_STATUS[status] ?? 'internal', message, { cause: options.cause });
    this.name = 'WebError';
    this.status = status;
    this.headers = options.headers ?? {};
  }
}

/**
 * Any error as a WebError: ours as is, the typed errors of core and of the XML codec (a DavError carries
 * its status) keep their meaning, anything else is a 500 whose message says nothing of the cause.
 */
export function toWebError(error: unknown): WebError {
  if (error instanceof WebError) return error;
  if (error instanceof PalabreError) {
    const status = (error as { status?: unknown }).status;
    const code = typeof status === 'number' && status >= 400 && status < 600 ? status : STATUS_OF_KIND[error.kind];
    return new WebError(code, code >= 500 ? 'internal error' : error.message, { cause: error });
  }
  return new WebError(500, 'internal error', { cause: error });
}
