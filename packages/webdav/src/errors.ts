import { PalabreError, type ErrorKind } from '@palabre/core';

/** DAV namespace, in Clark notation prefixes. */
export const DAV = 'DAV:';

const KIND_OF_STATUS: Record<number, ErrorKind> = {
  400: 'invalid',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not-found',
  405: 'forbidden',
  409: 'conflict',
  412: 'conflict',
  413: 'too-large',
  414: 'too-large',
  415: 'invalid',
  416: 'invalid',
  423: 'conflict',
  424: 'conflict',
  429: 'rate-limited',
  501: 'invalid',
  502: 'invalid',
  503: 'unavailable',
  507: 'quota',
};

export interface DavErrorOptions {
  /** A precondition/postcondition element (RFC 4918 §16), in Clark notation, e.g. `{DAV:}lock-token-submitted`. */
  condition?: string;
  /** hrefs to list inside the condition element (lock-token-submitted, no-conflicting-lock). */
  hrefs?: readonly string[];
  /** Raw XML placed inside the condition element instead of hrefs (need-privileges). */
  conditionXml?: string;
  /** Extra response headers (Allow, Retry-After, WWW-Authenticate…). */
  headers?: Record<string, string | readonly string[]>;
  cause?: unknown;
}

/**
 * The package's one error: it knows its wire form, an HTTP status and an optional DAV precondition
 * element. Anything else thrown while serving becomes a 500 (see toDavError).
 */
export class DavError extends PalabreError {
  readonly status: number;
  readonly condition: string | undefined;
  readonly hrefs: readonly string[];
  readonly conditionXml: string | undefined;
  readonly headers: Record<string, string | readonly string[]>;

  constructor(status: number, message: string, options: DavErrorOptions = {}) {
    super(KIND_OF_STATUS[status] ?? 'internal', message, { cause: options.cause, retryable: status === 503 || status === 429 });
    this.name = 'DavError';
    this.status = status;
    this.condition = options.condition;
    this.hrefs = options.hrefs ?? [];
    this.conditionXml = options.conditionXml;
    this.headers = options.headers ?? {};
  }
}

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

/** Any error as a DavError: typed errors of core keep their meaning, anything else is a 500. */
export function toDavError(error: unknown): DavError {
  if (error instanceof DavError) return error;
  if (error instanceof PalabreError) {
    const status = STATUS_OF_KIND[error.kind];
    const headers: Record<string, string> = {};
    const retryAfter = (error as { retryAfterMs?: number }).retryAfterMs;
    if (retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfter / 1000)));
    const condition = error.kind === 'quota' ? `{${DAV}}quota-not-exceeded` : undefined;
    return new DavError(status, status === 500 ? 'internal error' : error.message, { cause: error, headers, condition });
  }
  return new DavError(500, 'internal error', { cause: error });
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  423: 'Locked',
  424: 'Failed Dependency',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
}

/**
 * Some properties of a PROPPATCH were refused (RFC 4918 §9.2): each named with its status and, where
 * there is one, its precondition. The others of the request are answered 424 and nothing is applied.
 */
export class PropertyPatchError extends DavError {
  constructor(
    readonly refused: ReadonlyMap<string, { status: number; condition?: string; message?: string }>,
  ) {
    super(409, 'some properties cannot be changed');
    this.name = 'PropertyPatchError';
  }
}
