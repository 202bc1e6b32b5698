import type { ServerResponse } from 'node:http';
import { bulkTurns } from '@palabre/core';
import { DAV, DavError, statusLine } from './errors.js';
import { escapeAttr, escapeText } from './xml-codec.js';

/**
 * Namespace prefixes the engine writes with: `d` for DAV: plus what plugins register. Tags for other
 * namespaces are written with an inline default-namespace declaration, so any name can be written.
 */
export class Namespaces {
  private readonly prefixes = new Map<string, string>([[DAV, 'd']]);
  private readonly tags = new Map<string, { open: string; close: string; empty: string }>();

  add(prefix: string, ns: string): void {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(prefix)) throw new Error(`invalid namespace prefix ${prefix}`);
    const taken = [...this.prefixes].find(([n, p]) => p === prefix && n !== ns);
    if (taken) throw new Error(`namespace prefix ${prefix} is already used for ${taken[0]}`);
    this.prefixes.set(ns, prefix);
    this.tags.clear();
  }

  prefixOf(ns: string): string | undefined {
    return this.prefixes.get(ns);
  }

  /** `xmlns:d="DAV:" …` for a root element. */
  declarations(): string {
    return [...this.prefixes].map(([ns, p]) => `xmlns:${p}="${escapeAttr(ns)}"`).join(' ');
  }

  /** tag() of a Clark name (`{DAV:}getetag`), without splitting it when it was seen before. */
  tagOfClark(clarkName: string): { open: string; close: string; empty: string } {
    const hit = this.tags.get(clarkName);
    if (hit) return hit;
    const end = clarkName.indexOf('}');
    return this.tag(clarkName.slice(1, end), clarkName.slice(end + 1));
  }

  tag(ns: string, name: string): { open: string; close: string; empty: string } {
    const key = `{${ns}}${name}`;
    let t = this.tags.get(key);
    if (!t) {
      const p = this.prefixes.get(ns);
      t = p
        ? { open: `<${p}:${name}>`, close: `</${p}:${name}>`, empty: `<${p}:${name}/>` }
        : { open: `<${name} xmlns="${escapeAttr(ns)}">`, close: `</${name}>`, empty: `<${name} xmlns="${escapeAttr(ns)}"/>` };
      this.tags.set(key, t);
    }
    return t;
  }
}

const FLUSH_AT = 64 * 1024;

/**
 * A streamed XML response, written with backpressure in pieces of about 64 KiB, each encoded once into a
 * Buffer: handing Node one long string built by concatenation costs more (flattening a deep rope, then
 * measuring its UTF-8 length for the chunk header, then encoding it) than the text took to build.
 */
export class XmlStream {
  private buffer = '';
  private readonly ready: Buffer[] = [];
  private started = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly namespaces: Namespaces,
  ) {}

  begin(status: number, root = 'multistatus', headers: Record<string, string> = {}): void {
    this.res.statusCode = status;
    this.res.setHeader('content-type', 'application/xml; charset=utf-8');
    for (const [k, v] of Object.entries(headers)) this.res.setHeader(k, v);
    this.buffer = `<?xml version="1.0" encoding="utf-8"?>\n<d:${root} ${this.namespaces.declarations()}>`;
    this.started = true;
  }

  /** Queue text without waiting: write() or flush() sends it. For many small pieces (one per response). */
  append(s: string): void {
    this.buffer += s;
    if (this.buffer.length >= FLUSH_AT) {
      this.ready.push(Buffer.from(this.buffer));
      this.buffer = '';
    }
  }

  /** Bytes made by encodePieces() (a page of a listing kept from an earlier answer), after what is queued. */
  appendEncoded(buffers: readonly Buffer[]): void {
    if (this.buffer) {
      this.ready.push(Buffer.from(this.buffer));
      this.buffer = '';
    }
    for (const b of buffers) this.ready.push(b);
  }

  write(s: string): void | Promise<void> {
    this.append(s);
    if (this.ready.length) return this.sendAndPass();
  }

  /** Pieces (renderResponseList's, one per resource) as write() would send their concatenation, without making it. */
  writeEach(pieces: readonly string[]): void | Promise<void> {
    for (const s of pieces) this.append(s);
    if (this.ready.length) return this.sendAndPass();
  }

  /**
   * Every 64 KiB of a long answer waits for a turn (the process's bulkTurns, as IMAP's big FETCHes): its
   * store reads and rendering are synchronous on SQLite, so a listing of 25,000 resources would otherwise
   * hold the event loop for its whole length and every other client's request (a PUT, an empty sync)
   * would wait behind it.
   */
  private async sendAndPass(): Promise<void> {
    await this.send();
    await bulkTurns.pass();
  }

  async flush(): Promise<void> {
    if (this.buffer) {
      this.ready.push(Buffer.from(this.buffer));
      this.buffer = '';
    }
    await this.send();
  }

  private async send(): Promise<void> {
    for (let i = 0; i < this.ready.length; i++) {
      if (this.res.destroyed) throw new DavError(499, 'client went away');
      if (!this.res.write(this.ready[i]!)) await this.drained();
    }
    this.ready.length = 0;
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', gone);
        resolve();
      };
      const gone = () => {
        this.res.off('drain', done);
        reject(new DavError(499, 'client went away'));
      };
      this.res.once('drain', done);
      this.res.once('close', gone);
    });
  }

  async end(root = 'multistatus'): Promise<void> {
    if (!this.started) throw new Error('XmlStream not begun');
    this.buffer += `</d:${root}>\n`;
    await this.send();
    const last = this.buffer;
    this.buffer = '';
    this.res.end(last);
  }
}

/** Pieces encoded as XmlStream.append() would, in Buffers of about 64 KiB, for a caller that keeps them. */
export function encodePieces(pieces: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  let text = '';
  for (const s of pieces) {
    text += s;
    if (text.length >= FLUSH_AT) {
      out.push(Buffer.from(text));
      text = '';
    }
  }
  if (text) out.push(Buffer.from(text));
  return out;
}

export function hrefXml(href: string): string {
  return `<d:href>${escapeText(href)}</d:href>`;
}

export function statusXml(status: number): string {
  return `<d:status>${statusLine(status)}</d:status>`;
}

/** A whole small XML document (errors, LOCK answers), with Content-Length. */
export function sendXml(res: ServerResponse, status: number, body: string, namespaces: Namespaces, root: string, headers: Record<string, string> = {}): void {
  const doc = `<?xml version="1.0" encoding="utf-8"?>\n<d:${root} ${namespaces.declarations()}>${body}</d:${root}>\n`;
  res.statusCode = status;
  res.setHeader('content-type', 'application/xml; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(doc));
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(doc);
}

/** One response element of a multistatus with a bare status (DELETE/COPY/MOVE failures). */
export function statusResponse(href: string, status: number, error?: string): string {
  return `<d:response>${hrefXml(href)}${statusXml(status)}${error ? `<d:error>${error}</d:error>` : ''}</d:response>`;
}
