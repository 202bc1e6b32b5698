import type { Readable } from 'node:stream';
import type { MessageAnalysis } from '@palabre/core';

/** Turns the final message bytes into what the mailbox store keeps (ENVELOPE, BODYSTRUCTURE…). */
export type MessageAnalyzer = (message: Readable, size: number) => Promise<MessageAnalysis>;

/**
 * The least analysis the MailDelivery port accepts: where the header section ends. The composition
 * root passes the mail package's full MIME analysis; this one serves stores that parse on their own.
 */
export const headerOnlyAnalyzer: MessageAnalyzer = async (message) => {
  let seen = 0;
  let tail = '';
  let headerBytes = -1;
  for await (const chunk of message) {
    const text = tail + (chunk as Buffer).toString('latin1');
    if (headerBytes < 0) {
      const at = text.indexOf('\r\n\r\n');
      if (at >= 0) headerBytes = seen - tail.length + at + 4;
    }
    seen += (chunk as Buffer).length;
    tail = text.slice(-3);
  }
  return { headerBytes: headerBytes < 0 ? seen : headerBytes, data: {} };
};
