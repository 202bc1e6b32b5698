import type { AuthContext, AuthResult, Authenticator } from '@palabre/core';

/** Longest SASL response we decode (base64 of a 320-byte name + 1 KiB password, with margin). */
export const MAX_SASL_RESPONSE = 4096;

export type SaslMechanism = 'PLAIN' | 'LOGIN';
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'LOGIN'];

function decodeBase64(text: string): Buffer | null {
  const clean = text.trim();
  if (clean.length > MAX_SASL_RESPONSE || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) return null;
  return Buffer.from(clean, 'base64');
}

function utf8(bytes: Buffer): string | null {
  const text = bytes.toString('utf8');
  return text.includes('\uFFFD') ? null : text;
}

/**
 * RFC 4616 PLAIN: `[authzid] NUL authcid NUL passwd`. We do not support acting as another user, so an
 * authorization identity different from the authentication identity is refused.
 */
export function decodeSaslPlain(response: string): { username: string; password: string } | null {
  const bytes = decodeBase64(response);
  if (!bytes) return null;
  const text = utf8(bytes);
  if (text === null) return null;
  const parts = text.split('\u0000');
  if (parts.length !== 3) return null;
  const [authzid, authcid, passwd] = parts as [string, string, string];
  if (!authcid || !passwd) return null;
  if (authzid && authzid.toLowerCase() !== authcid.toLowerCase()) return null;
  return { username: authcid, password: passwd };
}

/** One base64 line of the LOGIN exchange (draft-murchison-sasl-login). */
export function decodeSaslLoginLine(response: string): string | null {
  const bytes = decodeBase64(response);
  if (!bytes) return null;
  const text = utf8(bytes);
  return text === null || text.includes('\u0000') ? null : text;
}

export const SASL_LOGIN_USERNAME_PROMPT = Buffer.from('Username:').toString('base64');
export const SASL_LOGIN_PASSWORD_PROMPT = Buffer.from('Password:').toString('base64');

/** Authenticate already-decoded SASL credentials (smtp-server decodes PLAIN/LOGIN itself). */
export function saslAuthenticate(
  authenticator: Authenticator,
  credentials: { username: string; password: string },
  context: AuthContext,
): Promise<AuthResult> {
  return authenticator.verifyPassword(credentials.username, credentials.password, context);
}
