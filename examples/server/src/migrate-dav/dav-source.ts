import { UsageError } from '../args.js';

/** The legacy DAV server: `https://host[:port][/path/]` (http:// only for a loopback or test server). */
export interface DavSource {
  /** Canonical form, for reports: scheme, host, port and path. */
  readonly id: string;
  /** Where discovery starts (its `/.well-known/caldav|carddav`, then the principal). */
  readonly url: URL;
}

export function parseDavSource(text: string, option = '--from'): DavSource {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${option} takes https://host[:port][/path/], not ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${option} takes https://host[:port][/path/], not ${url.protocol}`);
  if (url.username || url.password) throw new UsageError(`${option} names the server only: credentials come from the CSV file`);
  if (url.search || url.hash) throw new UsageError(`${option} takes no query or fragment`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return { id: `${url.protocol}//${url.hostname.toLowerCase()}:${port}${url.pathname}`, url };
}
