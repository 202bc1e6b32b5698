import { TextDecoder } from 'node:util';
import { foldSearchText, type BlobStore, type MessageRecord } from '@palabre/core';
import { decodeEncodedWords } from '../mime/encoded-words.js';
import { parseFields } from '../mime/header-block.js';
import { canDecode, createTransferDecoder } from '../mime/transfer-decode.js';
import type { AnalysisData, PartNode } from '../mime/types.js';

/** The text parts of a message, decoded, the way SEARCH BODY reads them. */
function textParts(node: PartNode, out: PartNode[] = []): PartNode[] {
  if (node.c) for (const c of node.c) textParts(c, out);
  else if (node.m) textParts(node.m, out);
  else if (node.t.startsWith('text/') || node.t === 'message/delivery-status') out.push(node);
  return out;
}

const MAX_SCAN_BYTES = 20 * 1024 * 1024;

/** Whether a part's decoded text contains `needle` (already folded), streaming with an overlap between chunks. */
async function partContains(blobs: BlobStore, blobId: string, part: PartNode, needle: string): Promise<boolean> {
  if (part.be <= part.bs) return needle.length === 0;
  const end = Math.min(part.be, part.bs + MAX_SCAN_BYTES);
  const raw = await blobs.get(blobId, { start: part.bs, end: end - 1 });
  const stream = canDecode(part.enc) ? raw.pipe(createTransferDecoder(part.enc)) : raw;
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(part.cs && part.cs.toLowerCase() !== 'us-ascii' ? part.cs : 'utf-8');
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  let carry = '';
  try {
    for await (const chunk of stream) {
      const text = carry + foldSearchText(decoder.decode(chunk as Buffer, { stream: true }));
      if (text.includes(needle)) return true;
      carry = text.slice(-Math.max(needle.length - 1, 0));
    }
    return (carry + foldSearchText(decoder.decode())).includes(needle);
  } finally {
    raw.destroy();
  }
}

export async function bodyContains(blobs: BlobStore, row: MessageRecord, needle: string): Promise<boolean> {
  const analysis = row.analysis as AnalysisData | undefined;
  if (!analysis?.parts) return false;
  for (const part of textParts(analysis.parts)) if (await partContains(blobs, row.blobId, part, needle)) return true;
  return false;
}

/** Header fields with encoded-words decoded, for SEARCH HEADER and TEXT. */
export function decodedFields(header: Buffer): { key: string; value: string }[] {
  return parseFields(header).map((f) => ({ key: f.key, value: foldSearchText(decodeEncodedWords(f.value)) }));
}
