import type { BodySpool } from './body-spool.js';

/**
 * A message as the pipeline takes it from any adapter (SMTP DATA or BDAT today): the header section in
 * memory, the body spooled, and what reading it found that the checks must refuse.
 */
export interface ReceivedMessage {
  /** Header section, including the empty line that ends it (when there is one). */
  readonly header: Buffer;
  readonly body: BodySpool;
  /** Bytes the client sent (after dot-unstuffing). */
  readonly size: number;
  /** SHA-256 of those bytes. */
  readonly digest: string;
  /** A CR or LF not part of CRLF: the raw material of SMTP smuggling (refused). */
  readonly bareNewline: boolean;
  /** A NUL byte anywhere (RFC 5322 §2.1: not in a message; C programs downstream cut text there). */
  readonly nul: boolean;
  /** A line longer than RFC 5322 §2.1.1's 998 characters. */
  readonly longLine: boolean;
  readonly headerTooLarge: boolean;
  readonly tooLarge: boolean;
}
