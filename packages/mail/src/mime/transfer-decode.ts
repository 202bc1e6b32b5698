import { Transform, type TransformCallback } from 'node:stream';

/** Content-Transfer-Encodings we can undo (RFC 2045); anything else is UNKNOWN-CTE for BINARY. */
export function canDecode(encoding: string): boolean {
  return ['7bit', '8bit', 'binary', 'base64', 'quoted-printable', ''].includes(encoding.toLowerCase());
}

/** A streaming decoder for the encoding (identity for 7bit/8bit/binary). */
export function createTransferDecoder(encoding: string): Transform {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return new Base64Decoder();
    case 'quoted-printable':
      return new QuotedPrintableDecoder();
    default:
      return new Transform({ transform: (chunk, _enc, done) => done(null, chunk) });
  }
}

const B64_VALUE = new Int16Array(256).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) B64_VALUE[c.charCodeAt(0)] = i;

/** Base64 that ignores line breaks and junk characters and stops at padding (lenient, like mail readers). */
class Base64Decoder extends Transform {
  private acc = 0;
  private bits = 0;
  private done = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.done) return callback();
    const out = Buffer.allocUnsafe(Math.ceil((chunk.length * 3) / 4) + 3);
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 0x3d) {
        this.done = true;
        break;
      }
      const v = B64_VALUE[c]!;
      if (v < 0) continue;
      this.acc = ((this.acc << 6) | v) & 0xffffff;
      this.bits += 6;
      if (this.bits >= 8) {
        this.bits -= 8;
        out[n++] = (this.acc >> this.bits) & 0xff;
      }
    }
    callback(null, out.subarray(0, n));
  }
}

const HEX = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);

/** Quoted-printable with soft line breaks; trailing blanks before a line break are dropped (RFC 2045 §6.7). */
class QuotedPrintableDecoder extends Transform {
  private carry = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    const data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    // Keep an incomplete escape, and blanks that may turn out to precede a line break, for the next chunk.
    let cut = data.length;
    for (let i = Math.max(0, data.length - 2); i < data.length; i++) if (data[i] === 0x3d) {
      cut = i;
      break;
    }
    while (cut > 0 && data.length - cut < 1024 && (data[cut - 1] === 0x20 || data[cut - 1] === 0x09 || data[cut - 1] === 0x0d)) cut--;
    const keep = data.length - cut;
    this.carry = Buffer.from(data.subarray(data.length - keep));
    callback(null, decodeQp(data.subarray(0, data.length - keep)));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, decodeQp(this.carry));
  }
}

export function decodeQp(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  let n = 0;
  let lineStart = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c === 0x3d) {
      const a = data[i + 1];
      const b = data[i + 2];
      if (a === 0x0d && b === 0x0a) {
        i += 2;
        continue;
      }
      if (a === 0x0a) {
        i += 1;
        continue;
      }
      const hi = a === undefined ? -1 : HEX(a);
      const lo = b === undefined ? -1 : HEX(b);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
      out[n++] = c;
      continue;
    }
    if (c === 0x0a) {
      // Drop transport padding (spaces/tabs) before the line break.
      let back = n;
      while (back > lineStart && (out[back - 1] === 0x20 || out[back - 1] === 0x09 || out[back - 1] === 0x0d)) back--;
      const hadCr = n > 0 && out[n - 1] === 0x0d;
      n = back;
      if (hadCr) out[n++] = 0x0d;
      out[n++] = 0x0a;
      lineStart = n;
      continue;
    }
    out[n++] = c;
  }
  return Buffer.from(out.subarray(0, n));
}
