import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerKeys } from '@palabre/core';
import type { HeaderSection } from '../mime/header-section.js';
import { safeAddress } from '../mime/trace-headers.js';

/** Marks a message we redirected; a message that already carries our mark for an account is not redirected again. */
export const REDIRECT_MARK = 'X-Palabre-Sieve-Redirected';
const FIELD = REDIRECT_MARK.toLowerCase();
const PURPOSE = 'sieve-redirect-mark';

/**
 * The loop guard of Sieve redirect, made unforgeable. A bare "already redirected by B" field would let
 * any sender turn B's redirect off (a forwarding to the absent director's deputy, silently kept instead):
 * so the mark carries an HMAC, under a key only this deployment holds, of the account and of the
 * message's identity (its Message-ID, or From/Date/Subject when it has none). A mark copied from one
 * message onto another does not verify, and neither does one made up; marks that do not verify are
 * dropped where mail enters (MX and submission) and never counted.
 */
export class RedirectMarks {
  private readonly keys: ServerKeys | null;
  /** Without a key store (a listener built alone, tests): a key of this process, never a constant. */
  private readonly ownKey = randomBytes(32);

  constructor(keys: ServerKeys | null = null) {
    this.keys = keys;
  }

  private key(): Promise<Buffer> {
    return this.keys ? this.keys.key(PURPOSE) : Promise.resolve(this.ownKey);
  }

  private async mac(address: string, header: HeaderSection): Promise<Buffer> {
    return createHmac('sha256', await this.key()).update(`${address.toLowerCase()}\u0000${identity(header)}`).digest();
  }

  /** The header field (with its CRLF) marking `header`'s message as redirected by `address`. */
  async field(address: string, header: HeaderSection): Promise<string> {
    return `${REDIRECT_MARK}: ${safeAddress(address)}; mac=${(await this.mac(address, header)).toString('base64url')}\r\n`;
  }

  /** The address a mark value stands for, or null when it is not one of ours for this message. */
  async verify(value: string, header: HeaderSection): Promise<string | null> {
    const m = /^\s*([^\s;]{1,320});\s*mac=([A-Za-z0-9_-]{43})\s*$/.exec(value);
    if (!m) return null;
    const given = Buffer.from(m[2]!, 'base64url');
    const expected = await this.mac(m[1]!, header);
    return given.length === expected.length && timingSafeEqual(given, expected) ? m[1]!.toLowerCase() : null;
  }

  /** The accounts whose genuine marks the message carries (lower case, in order). */
  async verified(header: HeaderSection): Promise<string[]> {
    const out: string[] = [];
    // Bounded: a message stuffed with thousands of marks costs at most this many HMACs.
    for (const value of header.getAll(FIELD).slice(0, 50)) {
      const address = await this.verify(value, header);
      if (address) out.push(address);
    }
    return out;
  }

  /** True when `header` holds a mark field that does not verify (it is then dropped on entry). */
  async forged(header: HeaderSection): Promise<Set<string>> {
    const bad = new Set<string>();
    for (const value of header.getAll(FIELD)) if (!(await this.verify(value, header))) bad.add(value);
    return bad;
  }
}

/** What a mark is bound to: the Message-ID, or for a message without one the fields a reader sees. */
function identity(header: HeaderSection): string {
  const id = header.get('message-id')?.trim();
  if (id) return `id:${id}`;
  return `h:${createHash('sha256').update([header.get('from') ?? '', header.get('date') ?? '', header.get('subject') ?? ''].join('\u0000')).digest('hex')}`;
}

export const REDIRECT_MARK_FIELD = FIELD;
