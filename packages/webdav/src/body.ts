import type { IncomingMessage, ServerResponse } from 'node:http';
import { DavError } from './errors.js';

/** Largest XML request body accepted (PROPFIND, PROPPATCH, LOCK, REPORT…). */
export const DEFAULT_MAX_XML_BODY = 1024 * 1024;
/** A rejected request body up to this size is read and dropped so the connection can be reused. */
const DRAIN_LIMIT = 64 * 1024;

export function declaredLength(req: IncomingMessage): number | null {
  const raw = req.headers['content-length'];
  if (raw === undefined) return null;
  if (!/^\d{1,15}$/.test(raw)) throw new DavError(400, 'invalid Content-Length');
  return Number(raw);
}

export function hasBody(req: IncomingMessage): boolean {
  const length = declaredLength(req);
  return (length !== null && length > 0) || (length === null && req.headers['transfer-encoding'] !== undefined);
}

export function refuseContentCoding(req: IncomingMessage): void {
  const coding = req.headers['content-encoding'];
  if (coding && coding.trim().toLowerCase() !== 'identity') throw new DavError(415, 'request content codings are not supported');
}

/** Did the client ask to be told to go on before it sends its body (RFC 9110 §10.1.1)? */
function expectsContinue(req: IncomingMessage): boolean {
  return req.httpVersion === '1.1' && /\b100-continue\b/i.test(headerOf(req, 'expect') ?? '');
}

/**
 * The request body, asked for (100 Continue) only when it is first read, that is once the request has been
 * authenticated, authorised, its If header, locks and quota checked: a refused request gets its final status
 * without its body ever being sent. node:http sends 100 Continue itself unless the server listens to
 * `checkContinue` (README: pass the handler there too); `_sent100` is how it records that it did. At the
 * end, the client must still be there to hear the outcome (see assertAnswerable).
 */
export async function* requestBody(req: IncomingMessage, res: ServerResponse): AsyncIterable<Uint8Array> {
  if (expectsContinue(req) && !(res as { _sent100?: boolean })._sent100 && !res.headersSent) res.writeContinue();
  for await (const chunk of req as AsyncIterable<Buffer>) yield chunk;
  assertAnswerable(req, res);
}

/**
 * 499 when the request can no longer be answered: the client went away, or node:http ended the
 * connection because what followed the body was no request (a body longer than its Content-Length is
 * answered 400 that way). Nothing may be committed then: the client would hear 400 for a change made.
 */
export function assertAnswerable(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  if (!socket || socket.destroyed || socket.writableEnded || res.destroyed) throw new DavError(499, 'the client can no longer be answered');
}

/** Read a whole (small) body, refusing more than `max` bytes as soon as that is known. */
export async function readBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<Buffer> {
  refuseContentCoding(req);
  const length = declaredLength(req);
  if (length !== null && length > max) throw new DavError(413, `request bodies are at most ${max} bytes here`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of requestBody(req, res)) {
    size += chunk.length;
    if (size > max) throw new DavError(413, `request bodies are at most ${max} bytes here`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/**
 * After an early answer, make sure an unread body does not wedge the connection: a small one is drained,
 * a large or unknown one is discarded for a short while (so the client can read the answer) and the
 * connection closed: never read to the end (a 1 GB hostile body costs at most LINGER_BYTES).
 */
export function settleBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.readableEnded || req.complete) return;
  if (expectsContinue(req) && !(res as { _sent100?: boolean })._sent100) {
    // The client waits for 100 Continue before it sends its body: the final status goes out instead, and
    // the connection closes after it (node:http does so too), without reading a byte of the body.
    if (!res.headersSent) res.setHeader('connection', 'close');
    return;
  }
  let length: number | null = null;
  try {
    length = declaredLength(req);
  } catch {
    length = null;
  }
  if (length !== null && length <= DRAIN_LIMIT) {
    req.resume();
    return;
  }
  if (!res.headersSent) res.setHeader('connection', 'close');
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) req.socket?.destroy();
  });
  res.once('finish', () => {
    const timer = setTimeout(() => req.socket?.destroy(), LINGER_MS);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
  });
  req.resume();
}

const LINGER_BYTES = 4 * 1024 * 1024;
const LINGER_MS = 2000;

/** A request header as one string (repeated headers joined with ", "), or undefined. */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}
