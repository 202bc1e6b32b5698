import type { NewOutboundRecipient, OutboundMessage, TlsPolicy } from '../mail-transport/outbound-queue.js';

/** A piece of a message: bytes, or a factory for a stream of them (opened when needed). */
export type MessagePart = Buffer | (() => AsyncIterable<Uint8Array>);

/** A message a feature sends on its own behalf (an out-of-office reply, a Sieve redirect, an invitation). */
export interface SubmittedMessage {
  /** The envelope sender; '' for the null reverse-path (automatic replies, RFC 3834). */
  readonly sender: string;
  readonly recipients: readonly NewOutboundRecipient[];
  /** The complete message: header section (with its empty line) then body. */
  readonly parts: readonly MessagePart[];
  /** Sign with this domain's DKIM key, if it has one. */
  readonly signDomain?: string | null;
  /** Whose sending this is (limits, audit); null for the system. */
  readonly accountId?: string | null;
  readonly envId?: string | null;
  readonly ret?: 'FULL' | 'HDRS' | null;
  readonly tlsPolicy?: TlsPolicy | null;
}

/**
 * Sending mail without an SMTP session: DKIM-signed with the sender domain's key, stored, queued for
 * the queue worker (local or remote recipients alike). Vacation, Sieve redirect/vacation and calendar
 * invitations (iTIP) all go through it, so what leaves is signed and queued one way.
 */
export interface MessageSubmission {
  submit(message: SubmittedMessage): Promise<OutboundMessage>;
}
