import type { Authenticator, HttpAuthenticator, HttpAuthOutcome, HttpCredentialsRequest } from '@palabre/core';

const MAX_HEADER = 8192;

export interface HttpAuthenticatorOptions {
  realm?: string;
  /** Advertise and accept `Authorization: Bearer` tokens (RFC 6750). Default true. */
  bearer?: boolean;
}

/** Split `Basic <base64>` into user and password (RFC 7617, UTF-8). Null when malformed. */
export function parseBasic(header: string): { username: string; password: string } | null {
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  // A replacement character means the bytes were not UTF-8: refuse rather than guess a charset.
  if (decoded.includes('\uFFFD')) return null;
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function parseBearer(header: string): string | null {
  const match = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i.exec(header);
  return match ? match[1]! : null;
}

/** HTTP Basic and Bearer over the Authenticator, for the DAV engine and any HTTP endpoint. */
export function createHttpAuthenticator(authenticator: Authenticator, options: HttpAuthenticatorOptions = {}): HttpAuthenticator {
  const realm = (options.realm ?? 'Palabre').replace(/["\\]/g, '');
  const bearer = options.bearer ?? true;
  const challenges = [`Basic realm="${realm}", charset="UTF-8"`, ...(bearer ? [`Bearer realm="${realm}"`] : [])];
  return {
    challenges: () => challenges,
    async authenticate(request: HttpCredentialsRequest): Promise<HttpAuthOutcome> {
      const header = request.authorization;
      if (!header) return { ok: false, status: 401, reason: 'missing' };
      if (header.length > MAX_HEADER) return { ok: false, status: 401, reason: 'invalid-credentials' };
      const context = { protocol: 'dav' as const, ip: request.ip, secure: request.secure };
      let result;
      const basic = parseBasic(header);
      if (basic) {
        result = await authenticator.verifyPassword(basic.username, basic.password, { ...context, mechanism: 'Basic' });
      } else {
        const token = bearer ? parseBearer(header) : null;
        if (!token) return { ok: false, status: 401, reason: 'invalid-credentials' };
        result = await authenticator.verifyBearer(token, { ...context, mechanism: 'Bearer' });
      }
      if (result.ok) return { ok: true, principal: result.principal };
      switch (result.reason) {
        case 'throttled':
          return { ok: false, status: 429, reason: result.reason, retryAfterMs: result.retryAfterMs ?? 1000 };
        case 'insecure-channel':
          return { ok: false, status: 403, reason: result.reason };
        case 'unavailable':
          return { ok: false, status: 503, reason: result.reason };
        default:
          return { ok: false, status: 401, reason: result.reason };
      }
    },
  };
}
