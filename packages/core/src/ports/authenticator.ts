import type { Principal } from '../directory.js';

export type AuthProtocol = 'dav' | 'smtp' | 'imap' | 'cli' | 'http';

export interface AuthContext {
  readonly protocol: AuthProtocol;
  /** Remote address, for throttling and audit. */
  readonly ip?: string | null;
  /** `PLAIN`, `LOGIN`, `Basic`, `Bearer`… */
  readonly mechanism?: string;
  /** True when the channel is encrypted or loopback-only development was allowed by configuration. */
  readonly secure?: boolean;
}

export type AuthFailureReason =
  /** Unknown user or wrong password: deliberately indistinguishable. */
  | 'invalid-credentials'
  | 'account-suspended'
  /** Too many failures: retry after `retryAfterMs`. */
  | 'throttled'
  | 'insecure-channel'
  /** The password source (LDAP) could not be reached. */
  | 'unavailable';

export type AuthResult =
  | { readonly ok: true; readonly principal: Principal; readonly method: 'password' | 'app-password' | 'ldap' | 'token' }
  | { readonly ok: false; readonly reason: AuthFailureReason; readonly retryAfterMs?: number };

/** The one place protocol packages ask "who is this?". Every decision is an audit event. */
export interface Authenticator {
  verifyPassword(username: string, password: string, context: AuthContext): Promise<AuthResult>;
  verifyBearer(token: string, context: AuthContext): Promise<AuthResult>;
}
