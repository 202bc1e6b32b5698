/**
 * SASL PLAIN (RFC 4616) and LOGIN decoding for IMAP AUTHENTICATE. The mail package may use only core,
 * so this is the few lines @palabre/auth has too, kept strict: bounded size, canonical base64, valid
 * UTF-8, no authorization identity other than the user's own.
 */
export const MAX_SASL_RESPONSE = 4096;

function decodeBase64(text: string): Buffer | null {
  const clean = text.trim();
  if (clean.length > MAX_SASL_RESPONSE || clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return null;
  return Buffer.from(clean, 'base64');
}

function utf8(bytes: Buffer): string | null {
  const text = bytes.toString('utf8');
  return text.includes('\uFFFD') ? null : text;
}

export function decodePlain(response: string): { username: string; password: string } | null {
  const bytes = decodeBase64(response);
  const text = bytes && utf8(bytes);
  if (!text) return null;
  const parts = text.split('\u0000');
  if (parts.length !== 3) return null;
  const [authzid, authcid, passwd] = parts as [string, string, string];
  if (!authcid || !passwd) return null;
  if (authzid && authzid.toLowerCase() !== authcid.toLowerCase()) return null;
  return { username: authcid, password: passwd };
}

export function decodeLoginLine(response: string): string | null {
  const bytes = decodeBase64(response);
  const text = bytes && utf8(bytes);
  return text === null || text === undefined || text.includes('\u0000') ? null : text;
}

export const LOGIN_USERNAME_PROMPT = Buffer.from('Username:').toString('base64');
export const LOGIN_PASSWORD_PROMPT = Buffer.from('Password:').toString('base64');
