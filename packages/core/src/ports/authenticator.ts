import type { Principal } from '../directory/directory.js';

export type AuthProtocol = 'dav' | 'smtp' | 'imap' | 'managesieve' | 'cli' | 'http';

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

export interface HttpCredentialsRequest {
  /** The raw Authorization header, if any. */
  readonly authorization: string | undefined;
  readonly ip: string | null;
  /** HTTPS, or loopback development explicitly allowed by configuration. */
  readonly secure: boolean;
}

export type HttpAuthOutcome =
  | { readonly ok: true; readonly principal: import('../directory/directory.js').Principal }
  /**
   * 401: no or bad credentials (send `challenges()` in WWW-Authenticate); 403: credentials refused on an
   * insecure channel; 429: throttled (send Retry-After); 503: the password source is unreachable.
   */
  | { readonly ok: false; readonly status: 401 | 403 | 429 | 503; readonly reason: AuthFailureReason | 'missing'; readonly retryAfterMs?: number };

/** HTTP Basic and Bearer authentication for DAV, implemented by @palabre/auth over an Authenticator. */
export interface HttpAuthenticator {
  authenticate(request: HttpCredentialsRequest): Promise<HttpAuthOutcome>;
  /** Values for WWW-Authenticate on a 401, e.g. `Basic realm="Palabre", charset="UTF-8"`. */
  challenges(): readonly string[];
}
