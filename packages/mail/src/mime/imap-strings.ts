/**
 * IMAP string forms (RFC 9051 §4.3): quoted when short 7-bit text allows it, a literal otherwise.
 * Responses are written as UTF-8, so literal lengths count UTF-8 bytes.
 */
const QUOTABLE = /^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/;

export function imapString(value: string): string {
  const clean = value.includes('\u0000') ? value.replace(/\u0000/g, '') : value;
  if (clean.length <= 1024 && QUOTABLE.test(clean)) return `"${clean.replace(/[\\"]/g, (c) => '\\' + c)}"`;
  return `{${Buffer.byteLength(clean)}}\r\n${clean}`;
}

export function nstring(value: string | null | undefined): string {
  return value === null || value === undefined ? 'NIL' : imapString(value);
}
