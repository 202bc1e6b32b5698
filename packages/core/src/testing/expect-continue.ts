import { request } from 'node:http';

/**
 * An HTTP/1.1 request sent as a client that waits for `100 Continue` (RFC 9110 §10.1.1): the headers go
 * first, the body only once the server says go on. Resolves with what came first (100, or the final
 * status the server answered without asking for the body) and the final status. A server that never
 * answers gets the body after 5 s anyway, as curl does (`first` is then -1): a bound, not a measure.
 */
export function expectContinue(
  origin: string,
  method: string,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<{ first: number; status: number }> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    let first = 0;
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { expect: '100-continue', 'content-length': String(body.length), ...headers } });
    req.on('continue', () => {
      first ||= 100;
      req.end(body);
    });
    req.on('response', (res) => {
      first ||= res.statusCode!;
      res.resume();
      if (first !== 100) {
        resolve({ first, status: res.statusCode! });
        req.destroy();
      } else res.on('end', () => resolve({ first, status: res.statusCode! }));
    });
    req.on('error', (error) => (first && first !== 100 ? undefined : reject(error)));
    req.flushHeaders();
    setTimeout(() => {
      if (!first) {
        first = -1;
        req.end(body);
      }
    }, 5000).unref();
  });
}
