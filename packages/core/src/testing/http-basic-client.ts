import { request } from 'node:http';

export interface BasicAnswer {
  readonly status: number;
  /** Status line, headers (sorted, without Date and the random X-Request-Id), blank line, body. */
  readonly text: string;
}

/**
 * One HTTP request with Basic credentials from a chosen loopback address (all of 127.0.0.0/8 is ours
 * on Linux), on a fresh connection: what an attacker sees of an answer, to compare byte for byte.
 */
export function basicRequest(options: { port: number; from: string; path?: string; user: string; password: string }): Promise<BasicAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: options.path ?? '/',
        localAddress: options.from,
        agent: false,
        headers: { authorization: `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}` },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          const headers = Object.entries(res.headers)
            .filter(([name]) => name !== 'date' && name !== 'x-request-id')
            .map(([name, value]) => `${name}: ${String(value)}`)
            .sort();
          resolve({ status: res.statusCode ?? 0, text: [`HTTP ${res.statusCode}`, ...headers, '', body].join('\n') });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
