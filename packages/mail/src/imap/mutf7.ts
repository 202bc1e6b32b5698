/**
 * RFC 3501 §5.1.3 modified UTF-7 for mailbox names of IMAP4rev1 sessions (IMAP4rev2 and UTF8=ACCEPT
 * use UTF-8). Decoding is strict: a name a conforming client could not have produced is refused, so
 * two spellings never reach the same mailbox.
 */
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';

export function encodeMutf7(name: string): string {
  let out = '';
  let run: number[] = [];
  const flushRun = () => {
    if (!run.length) return;
    const bytes = Buffer.alloc(run.length * 2);
    run.forEach((u, i) => bytes.writeUInt16BE(u, i * 2));
    out += '&' + bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    run = [];
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      flushRun();
      out += c === 0x26 ? '&-' : name[i];
    } else run.push(c);
  }
  flushRun();
  return out;
}

/** Decode, or null if the text is not valid modified UTF-7. */
export function decodeMutf7(text: string): string | null {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return null;
    if (c !== 0x26) {
      out += text[i];
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) return null;
    const chunk = text.slice(i + 1, end);
    i = end;
    if (chunk === '') {
      out += '&';
      continue;
    }
    for (const ch of chunk) if (!B64.includes(ch)) return null;
    const bits = chunk.length * 6;
    // Whole UTF-16 units, and the leftover (< 16) padding bits must be zero.
    const units = Math.floor(bits / 16);
    if (units === 0 || bits - units * 16 >= 6) return null;
    const bytes = Buffer.from(chunk.replace(/,/g, '/') + '==='.slice((chunk.length + 3) % 4 === 3 ? 3 : (4 - (chunk.length % 4)) % 4), 'base64');
    if (bytes.length < units * 2) return null;
    const last = B64.indexOf(chunk[chunk.length - 1]!);
    const spare = bits - units * 16;
    if (spare > 0 && (last & ((1 << spare) - 1)) !== 0) return null;
    let decoded = '';
    for (let u = 0; u < units; u++) decoded += String.fromCharCode(bytes.readUInt16BE(u * 2));
    // Printable ASCII must not be encoded; surrogates must pair.
    for (let k = 0; k < decoded.length; k++) {
      const d = decoded.charCodeAt(k);
      if (d >= 0x20 && d <= 0x7e) return null;
      if (d >= 0xd800 && d <= 0xdbff) {
        const e = decoded.charCodeAt(k + 1);
        if (!(e >= 0xdc00 && e <= 0xdfff)) return null;
        k++;
      } else if (d >= 0xdc00 && d <= 0xdfff) return null;
    }
    // Two encoded runs must not touch ("&AAA-&BBB-" is not canonical).
    if (text[i + 1] === '&' && text[i + 2] !== '-') return null;
    out += decoded;
  }
  return out;
}
