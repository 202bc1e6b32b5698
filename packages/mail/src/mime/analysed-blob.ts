import type { BlobInfo, BlobStore, NewMessage, PutBlobOptions } from '@palabre/core';
import { MimeAnalyzer, type AnalyzedMessage } from './analyze.js';

/** A message durable in the blob store with the analysis made while it was written. */
export interface AnalysedBlob {
  readonly blob: BlobInfo;
  readonly analysis: AnalyzedMessage;
}

/**
 * Write a message to the blob store and analyse it in the same pass, so it is never read back: SMTP
 * delivery, IMAP APPEND and `palabre migrate mail` all store messages through this.
 */
export async function putAnalysed(
  blobs: BlobStore,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: PutBlobOptions = {},
): Promise<AnalysedBlob> {
  const analyzer = new MimeAnalyzer();
  async function* tapped(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      analyzer.write(chunk);
      yield chunk;
    }
  }
  const blob = await blobs.put(tapped(), options);
  return { blob, analysis: analyzer.finish() };
}

/** The mailbox row of an analysed blob, for MailStore.append. */
export function newMessageOf(stored: AnalysedBlob, options: { internalDate: Date; flags: readonly string[] }): NewMessage {
  return {
    blobId: stored.blob.id,
    size: stored.blob.size,
    internalDate: options.internalDate,
    analysis: { headerBytes: stored.analysis.headerBytes, data: stored.analysis.data },
    header: stored.analysis.header,
    flags: options.flags,
  };
}
