import type { IncomingMessage, ServerResponse } from 'node:http';
import { LATENCY_BUCKETS, secondsSince, type Metrics } from '@palabre/core';

/**
 * Methods counted under their own name: HTTP's, WebDAV's (RFC 4918, 3253), CalDAV's and CardDAV's
 * (RFC 4791, 5689). Anything else a client sends is `other`, so no client creates series at will.
 */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'REPORT',
  'MKCALENDAR',
  'ACL',
  'SEARCH',
]);

export const methodLabel = (method: string | undefined): string => (method && KNOWN_METHODS.has(method) ? method : 'other');

/**
 * HTTP and DAV requests by method and status class, and their latency (to the last byte of the
 * answer). A request whose connection closed before an answer counts with status `aborted`.
 */
export function httpMeasures(metrics: Metrics): (req: IncomingMessage, res: ServerResponse) => void {
  const requests = metrics.counter({
    name: 'palabre_http_requests_total',
    help: 'HTTP and WebDAV/CalDAV/CardDAV requests by method and status class.',
    labels: ['method', 'status'],
  });
  const latency = metrics.histogram({
    name: 'palabre_http_request_duration_seconds',
    help: 'Time from an HTTP request to the last byte of its answer.',
    labels: ['method'],
    buckets: LATENCY_BUCKETS,
  });
  return (req, res) => {
    const started = performance.now();
    const method = methodLabel(req.method);
    res.once('close', () => {
      const status = res.writableFinished ? `${Math.floor(res.statusCode / 100)}xx` : 'aborted';
      requests.inc({ method, status });
      latency.observe({ method }, secondsSince(started));
    });
  };
}
