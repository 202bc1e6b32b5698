import { UsageError } from '../args.js';

/** The legacy server: `imaps://host[:port]` (implicit TLS, RFC 8314) or `imap://host[:port]` (STARTTLS required). */
export interface LegacySource {
  /** Canonical form, the key of the migration cursors: `imaps://host:port`. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** True: TLS from the first byte; false: STARTTLS, refused if the server does not offer it. */
  readonly implicitTls: boolean;
}

export function parseSource(text: string): LegacySource {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--from takes imaps://host[:port] (or imap://host[:port] for STARTTLS), not ${JSON.stringify(text)}`);
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'imaps' && scheme !== 'imap')
    throw new UsageError(`--from takes imaps://host[:port] (or imap://host[:port] for STARTTLS), not ${url.protocol}`);
  if (url.username || url.password)
    throw new UsageError('--from names the server only: credentials come from the CSV file (or --master-user and --master-password-file)');
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash)
    throw new UsageError('--from names the server only (imaps://host[:port]), without a path');
  if (!url.hostname) throw new UsageError('--from needs a host name');
  const implicitTls = scheme === 'imaps';
  const port = url.port ? Number(url.port) : implicitTls ? 993 : 143;
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return { id: `${scheme}://${url.hostname.toLowerCase()}:${port}`, host, port, implicitTls };
}
