import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BodySpool } from '../delivery/body-spool.js';
import type { ReceivedMessage } from '../delivery/received-message.js';

export interface ReceiveOptions {
  /** The header section is kept in memory (it is parsed and rewritten): refuse larger ones. */
  maxHeaderBytes: number;
  spoolDir: string;
  /** Body bytes kept in memory before spilling to a temp file. */
  memoryBytes: number;
  /** Stop storing once this many bytes arrived (the reply will be 552 anyway). */
  maxBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
/** RFC 5322 §2.1.1: at most 998 characters a line, CRLF not counted. */
export const MAX_LINE_CHARS = 998;

/**
 * Read the DATA stream once: hash it, split header from body, spot bare CR/LF, NUL bytes and overlong
 * lines anywhere (also across chunk boundaries: only a counter is kept, never the line), and spool the
 * body. Bounded memory: the header section up to maxHeaderBytes plus the spool's memory part.
 */
export async function receiveMessage(stream: Readable, options: ReceiveOptions): Promise<ReceivedMessage> {
  const hash = createHash('sha256');
  const body = new BodySpool(options.spoolDir, options.memoryBytes);
  const headerParts: Buffer[] = [];
  let headerBytes = 0;
  let headerDone = false;
  let headerTooLarge = false;
  let bare = false;
  let nul = false;
  let longLine = false;
  let lineLength = 0; // bytes since the last LF, a CR included
  let prev = -1; // last byte seen
  let prev2 = -1; // the one before (for the CRLF CRLF search)
  let prev3 = -1;
  let size = 0;
  let tooLarge = false;
  try {
    for await (const piece of stream) {
      const chunk = piece as Buffer;
      hash.update(chunk);
      size += chunk.length;
      let bodyFrom = -1;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === LF && prev !== CR) bare = true;
        if (prev === CR && b !== LF) bare = true;
        if (b === LF) lineLength = 0;
        else if (++lineLength > MAX_LINE_CHARS + 1) longLine = true;
        if (b === 0) nul = true;
        if (!headerDone && b === LF && prev === CR && prev2 === LF && prev3 === CR) {
          headerDone = true;
          bodyFrom = i + 1;
        } else if (!headerDone && b === LF && prev === CR && headerBytes === 0 && i === 1 && headerParts.length === 0) {
          // An empty header section: the message starts with CRLF.
          headerDone = true;
          bodyFrom = i + 1;
        }
        prev3 = prev2;
        prev2 = prev;
        prev = b;
      }
      if (size > options.maxBytes) tooLarge = true;
      if (tooLarge) continue;
      if (!headerDone || bodyFrom >= 0) {
        const headPart = bodyFrom >= 0 ? chunk.subarray(0, bodyFrom) : chunk;
        if (!headerTooLarge) {
          if (headerBytes + headPart.length > options.maxHeaderBytes) headerTooLarge = true;
          else {
            headerParts.push(headPart);
            headerBytes += headPart.length;
          }
        }
        if (bodyFrom >= 0 && bodyFrom < chunk.length && !headerTooLarge) await body.write(chunk.subarray(bodyFrom));
      } else if (!headerTooLarge) {
        await body.write(chunk);
      }
    }
    if (prev === CR) bare = true;
    if (lineLength > MAX_LINE_CHARS) longLine = true;
  } catch (error) {
    await body.dispose();
    throw error;
  }
  return {
    header: Buffer.concat(headerParts),
    body,
    size,
    digest: hash.digest('hex'),
    bareNewline: bare,
    nul,
    longLine,
    headerTooLarge,
    tooLarge,
  };
}
