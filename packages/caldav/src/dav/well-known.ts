import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * `/.well-known/caldav` and `/.well-known/carddav` (RFC 6764 §5): a permanent redirect to the DAV
 * context path, for any method and before any authentication, so that a client given only the host
 * name (Apple Calendar, DAVx5, Thunderbird, GNOME) finds the principal from there.
 */
export function wellKnownHandler(contextPath: string): (req: IncomingMessage, res: ServerResponse) => void {
  const target = contextPath.endsWith('/') ? contextPath : `${contextPath}/`;
  return (req, res) => {
    req.resume();
    res.writeHead(301, { location: target, 'content-length': '0', 'cache-control': 'no-cache' });
    res.end();
  };
}

/** True for the two well-known paths (with or without a trailing slash). */
export function isWellKnownDav(path: string): boolean {
  return /^\/\.well-known\/(caldav|carddav)\/?$/i.test(path);
}
