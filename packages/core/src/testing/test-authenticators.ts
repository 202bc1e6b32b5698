import { timingSafeEqual } from 'node:crypto';
import { toPrincipal, type Principal } from '../directory/directory.js';
import type { DirectoryStore } from '../directory/directory-store.js';
import type { AuthContext, AuthResult, Authenticator, HttpAuthenticator, HttpAuthOutcome, HttpCredentialsRequest } from '../ports/authenticator.js';

/**
 * Test doubles for protocol packages that must not depend on @palabre/auth: plain passwords kept in
 * memory, checked against accounts of a DirectoryStore. Never use outside tests.
 */
export function testAuthenticator(directory: DirectoryStore, passwords: Record<string, string>): Authenticator {
  const equal = (a: string, b: string) => {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  };
  return {
    async verifyPassword(username: string, password: string, _context: AuthContext): Promise<AuthResult> {
      const account = await directory.findAccount(username).catch(() => null);
      const expected = account ? passwords[account.address] : undefined;
      if (!account || expected === undefined || !equal(expected, password)) return { ok: false, reason: 'invalid-credentials' };
      if (account.status !== 'active') return { ok: false, reason: 'account-suspended' };
      return { ok: true, principal: toPrincipal(account), method: 'password' };
    },
    async verifyBearer(): Promise<AuthResult> {
      return { ok: false, reason: 'invalid-credentials' };
    },
  };
}

/** HTTP Basic over an Authenticator, without throttling: for protocol tests only. */
export function testHttpAuthenticator(authenticator: Authenticator): HttpAuthenticator {
  return {
    async authenticate(request: HttpCredentialsRequest): Promise<HttpAuthOutcome> {
      const header = request.authorization;
      if (!header) return { ok: false, status: 401, reason: 'missing' };
      const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
      if (!match) return { ok: false, status: 401, reason: 'invalid-credentials' };
      const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return { ok: false, status: 401, reason: 'invalid-credentials' };
      const result = await authenticator.verifyPassword(decoded.slice(0, colon), decoded.slice(colon + 1), {
        protocol: 'dav',
        ip: request.ip,
        mechanism: 'Basic',
        secure: request.secure,
      });
      if (result.ok) return { ok: true, principal: result.principal as Principal };
      return { ok: false, status: 401, reason: result.reason };
    },
    challenges: () => ['Basic realm="Palabre test", charset="UTF-8"'],
  };
}
