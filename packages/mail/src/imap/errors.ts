import { causeChain, isPalabreError, type PalabreError } from '@palabre/core';

export type ImapStatus = 'NO' | 'BAD' | 'BYE';

/**
 * The one IMAP error: it knows its wire form (`tag NO [CODE] text`, `tag BAD text`, `* BYE text`).
 * Handlers throw it for expected refusals; anything else becomes `NO [SERVERBUG]` and is logged at
 * error with its cause chain.
 */
export class ImapError extends Error {
  constructor(
    readonly status: ImapStatus,
    readonly code: string | null,
    text: string,
    options?: { cause?: unknown },
  ) {
    super(text, options);
    this.name = 'ImapError';
  }

  /** The tagged (or, for BYE, untagged) response line without CRLF. */
  wire(tag: string): string {
    const code = this.code ? ` [${this.code}]` : '';
    return this.status === 'BYE' ? `* BYE${code} ${this.message}` : `${tag} ${this.status}${code} ${this.message}`;
  }
}

export const no = (code: string | null, text: string, cause?: unknown) => new ImapError('NO', code, text, cause === undefined ? undefined : { cause });
export const bad = (text: string, code: string | null = null) => new ImapError('BAD', code, text);

/** Thrown by the argument parser: always BAD, never logged above debug. */
export class SyntaxError extends ImapError {
  constructor(text: string) {
    super('BAD', null, text);
    this.name = 'ImapSyntaxError';
  }
}

export interface MappedError {
  readonly error: ImapError;
  /** True when this was not an expected refusal (log at error with the cause chain). */
  readonly unexpected: boolean;
  readonly causes: string[];
}

const BY_KIND: Record<PalabreError['kind'], [string | null, string]> = {
  invalid: ['CANNOT', 'Invalid request'],
  'not-found': ['NONEXISTENT', 'No such mailbox'],
  conflict: ['ALREADYEXISTS', 'Already exists'],
  forbidden: ['NOPERM', 'Permission denied'],
  unauthenticated: ['AUTHENTICATIONFAILED', 'Authentication failed'],
  quota: ['OVERQUOTA', 'Quota exceeded'],
  'too-large': ['LIMIT', 'Too large'],
  'rate-limited': ['UNAVAILABLE', 'Too many requests, try again later'],
  unavailable: ['UNAVAILABLE', 'Temporarily unavailable, try again later'],
  internal: ['SERVERBUG', 'Internal error'],
};

/** Map whatever a handler threw to the response the client gets. */
export function toImapError(error: unknown): MappedError {
  if (error instanceof ImapError) return { error, unexpected: false, causes: [] };
  if (isPalabreError(error)) {
    const [code, text] = BY_KIND[error.kind];
    const unexpected = error.kind === 'internal' || (error.kind === 'unavailable' && !error.retryable);
    // Store messages are written for people and carry no driver detail; keep them.
    return { error: new ImapError('NO', code, error.kind === 'internal' ? text : error.message || text), unexpected, causes: unexpected ? causeChain(error) : [] };
  }
  return { error: new ImapError('NO', 'SERVERBUG', 'Internal error'), unexpected: true, causes: causeChain(error) };
}
