import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebError } from './errors.js';

/**
 * A small request body, whole, refused (413) as soon as it is known to exceed `max`: from
 * Content-Length before a byte is read, or while reading. Compressed bodies are refused (415) so no
 * decompression bomb can be sent, and a bad Content-Length is a 400.
 */
export async function readSmallBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const coding = req.headers['content-encoding'];
  if (coding && coding.trim().toLowerCase() !== 'identity') throw new WebError(415, 'compressed request bodies are not accepted');
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    if (!/^\d{1,15}$/.test(declared)) throw new WebError(400, 'invalid Content-Length');
    if (Number(declared) > max) throw new WebError(413, `request bodies are at most ${max} bytes here`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new WebError(413, `request bodies are at most ${max} bytes here`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * After an answer given without reading the whole body: a body still coming is not read to its end
 * (a hostile 10 MB one costs nothing more); the connection closes once the answer is out.
 */
export function dropUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.readableEnded || req.complete) return;
  if (!res.headersSent) res.setHeader('connection', 'close');
  res.once('finish', () => req.socket?.destroySoon?.());
  req.on('data', () => undefined);
}
