import { TextDecoder } from 'node:util';

/**
 * Decode bytes in a MIME charset to a string. WHATWG encodings through TextDecoder (Node ships the
 * full ICU set), UTF-7 by hand (RFC 2152: still seen in old mail), anything unknown as UTF-8 when
 * valid and Latin-1 otherwise, so decoding never throws and never loses a byte silently.
 */
const decoders = new Map<string, TextDecoder | null>();

// Names seen in the wild that WHATWG does not know under that spelling.
const ALIASES: Record<string, string> = {
  'x-unknown': 'utf-8',
  unknown: 'utf-8',
  'unicode-1-1-utf-8': 'utf-8',
  'iso-8859-8-i': 'iso-8859-8',
  'x-sjis': 'shift_jis',
  'cp-850': 'ibm850',
  cp850: 'ibm850',
  'x-gbk': 'gbk',
  default: 'utf-8',
};

function decoderFor(charset: string): TextDecoder | null {
  const name = ALIASES[charset] ?? charset;
  if (decoders.has(name)) return decoders.get(name)!;
  let decoder: TextDecoder | null = null;
  try {
    decoder = new TextDecoder(name, { fatal: false });
  } catch {
    decoder = null;
  }
  if (decoders.size < 256) decoders.set(name, decoder);
  return decoder;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** UTF-8 when the bytes are valid UTF-8, else Latin-1 (each byte one character). */
export function decodeUnknown(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

export function decodeCharset(bytes: Uint8Array, charset: string | null | undefined): string {
  const name = (charset ?? '').trim().toLowerCase().replace(/^["']|["']$/g, '');
  if (!name || name === 'us-ascii' || name === 'ascii') return decodeUnknown(bytes);
  if (name === 'utf-7' || name === 'unicode-1-1-utf-7' || name === 'csunicode11utf7') return decodeUtf7(Buffer.from(bytes).toString('latin1'));
  const decoder = decoderFor(name);
  return decoder ? decoder.decode(bytes) : decodeUnknown(bytes);
}

/** RFC 2152 UTF-7: `+` base64 of UTF-16BE `-`. */
export function decodeUtf7(text: string): string {
  return text.replace(/\+([A-Za-z0-9+/]*)-?/g, (_match, b64: string) => {
    if (b64 === '') return '+';
    const bytes = Buffer.from(b64, 'base64');
    let out = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return out;
  });
}
