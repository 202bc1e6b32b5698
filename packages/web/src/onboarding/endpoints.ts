/**
 * What the onboarding answers describe: the listeners as they are really configured. The composition
 * root (palabre serve) builds this from its configuration; nothing here guesses a port or a TLS mode.
 */

/** How a client secures a connection, in Thunderbird's words (config-v1.1 `socketType`). */
export type SocketType = 'SSL' | 'STARTTLS' | 'plain';

export interface MailListener {
  readonly port: number;
  /** `SSL`: implicit TLS (RFC 8314); `STARTTLS`: upgrade on the plain port; `plain`: no TLS at all. */
  readonly socket: SocketType;
}

export interface HttpListener {
  readonly port: number;
  readonly tls: boolean;
}

export interface OnboardingEndpoints {
  /** The public host name every listener answers on (and the TLS certificate names). */
  readonly hostname: string;
  /** IMAP listeners, the preferred one first (implicit TLS before STARTTLS, as RFC 8314 §5.1 asks). */
  readonly imap: readonly MailListener[];
  /** Message submission listeners (RFC 6409 / RFC 8314), the preferred one first. */
  readonly submission: readonly MailListener[];
  /** The HTTP(S) listener carrying CalDAV, CardDAV and these very answers; null when it is off. */
  readonly http: HttpListener | null;
  /** Where the DAV engine is mounted (`/dav/`): principals live below it. */
  readonly davPath: string;
}

/** Implicit TLS first, then STARTTLS, then plain: what clients should try first. */
export function preferred<T extends MailListener>(listeners: readonly T[]): T[] {
  const rank: Record<SocketType, number> = { SSL: 0, STARTTLS: 1, plain: 2 };
  return [...listeners].sort((a, b) => rank[a.socket] - rank[b.socket]);
}

/** `https://host` or `http://host:8080`: the default port of the scheme is left out. */
export function httpOrigin(endpoints: OnboardingEndpoints): string | null {
  const http = endpoints.http;
  if (!http) return null;
  const scheme = http.tls ? 'https' : 'http';
  const defaultPort = http.tls ? 443 : 80;
  const host = endpoints.hostname.includes(':') ? `[${endpoints.hostname}]` : endpoints.hostname;
  return `${scheme}://${host}${http.port === defaultPort ? '' : `:${http.port}`}`;
}
