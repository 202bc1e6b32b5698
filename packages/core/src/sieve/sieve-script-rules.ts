import { InvalidInputError } from '../errors.js';

/** ManageSieve's MAXSCRIPTSIZE; the parser in the mail package uses the same bound. */
export const MAX_SIEVE_SCRIPT_BYTES = 256 * 1024;
/** Scripts an account may keep (HAVESPACE and PUTSCRIPT answer QUOTA/MAXSCRIPTS past it). */
export const MAX_SIEVE_SCRIPTS = 32;
export const MAX_SIEVE_NAME = 128;

/**
 * A script name as RFC 5804 §1.6 allows it: 1-128 characters, no control characters (CTL, LF, CR,
 * U+2028/2029), and Unicode in NFC so two spellings of one name are one script.
 */
export function checkScriptName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidInputError('invalid script name');
  const n = name.normalize('NFC');
  if (n.length === 0 || n.length > MAX_SIEVE_NAME || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(n)) {
    throw new InvalidInputError(`a script name is 1-${MAX_SIEVE_NAME} characters, without control characters`);
  }
  return n;
}

export function checkScriptContent(content: unknown): string {
  if (typeof content !== 'string') throw new InvalidInputError('invalid script');
  if (Buffer.byteLength(content, 'utf8') > MAX_SIEVE_SCRIPT_BYTES) throw new InvalidInputError(`a script is at most ${MAX_SIEVE_SCRIPT_BYTES} bytes`);
  return content;
}

export function checkOwner(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 36) throw new InvalidInputError('invalid account or domain id');
  return id;
}
