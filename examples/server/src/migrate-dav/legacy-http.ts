import { parseXml, type XmlElement } from '@palabre/webdav';

/**
 * Every request the DAV and drive migrations make to a legacy server goes through here, because that
 * server is as hostile as any client: requests never leave its origin (a redirect, an href or a
 * discovered URL naming another host is refused, never followed), answers are read up to a size,
 * every XML answer is read by our own codec first (no DTD, no entity, bounded depth and nodes, so an
 * XML bomb is refused before tsdav's parser sees it), and a status that means "not for you" becomes
 * an error naming it instead of an empty listing.
 */
export class LegacyError extends Error {
  constructor(
    message: string,
    readonly reason: 'login' | 'refused' | 'hostile' | 'lost' | 'status',
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface LegacyHttpOptions {
  /** The legacy server: only its scheme, host and port are ever asked. */
  readonly origin: URL;
  /** Largest answer read whole (XML listings, calendar data). */
  readonly maxResponseBytes: number;
  /** Silence before a request counts as lost. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** XML answers are parsed with these limits before anyone else reads them. */
const XML_LIMITS = { maxDepth: 32, maxNodes: 2_000_000, maxAttributes: 32 };

/** The URL resolved against the origin, or LegacyError when it names another origin. */
export function sameOrigin(origin: URL, target: string | URL, base: string | URL = origin): URL {
  let url: URL;
  try {
    url = new URL(target, base);
  } catch {
    throw new LegacyError(`the legacy server named an unreadable URL ${JSON.stringify(String(target).slice(0, 200))}`, 'hostile');
  }
  if (url.origin !== origin.origin) throw new LegacyError(`the legacy server pointed to another server (${url.origin}): not followed`, 'hostile');
  return url;
}

/**
 * The member a listed href names directly inside `collection` (one segment, decoded), or null: an href
 * that leaves the collection (`../`, another path, another host) or names something deeper.
 */
export function memberName(origin: URL, collection: URL, href: string): string | null {
  // `..` is judged before URL resolution, which would silently fold it away.
  const raw = href.split(/[?#]/)[0]!;
  if (raw.split('/').some((s) => s === '..' || s === '.' || /^%2e(%2e)?$|^\.%2e$|^%2e\.$/i.test(s))) return null;
  let url: URL;
  try {
    url = sameOrigin(origin, href, collection);
  } catch {
    return null;
  }
  const base = collection.pathname.endsWith('/') ? collection.pathname : `${collection.pathname}/`;
  if (!url.pathname.startsWith(base)) return null;
  const rest = url.pathname.slice(base.length).replace(/\/$/, '');
  if (!rest || rest.includes('/')) return null;
  let name: string;
  try {
    name = decodeURIComponent(rest);
  } catch {
    return null;
  }
  if (!name || name === '.' || name === '..' || /[/\\\u0000-\u001f]/.test(name)) return null;
  return name;
}

const statusError = (status: number, url: URL): LegacyError => {
  if (status === 401) return new LegacyError('the legacy server refused the login (wrong password or user)', 'login', status);
  if (status === 403) return new LegacyError(`the legacy server refused access to ${url.pathname} (403)`, 'refused', status);
  return new LegacyError(`the legacy server answered ${status} for ${url.pathname}`, 'status', status);
};

const lost = (error: unknown, url: URL): LegacyError => {
  if (error instanceof LegacyError) return error;
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return new LegacyError(`the legacy server did not answer ${url.pathname} in time`, 'lost');
  const why = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
  return new LegacyError(`the connection to the legacy server was lost (${why})`, 'lost');
};

async function send(options: LegacyHttpOptions, input: string | URL | Request, init?: RequestInit): Promise<{ url: URL; response: Response }> {
  const url = sameOrigin(options.origin, input instanceof Request ? input.url : input);
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 120_000), ...(options.signal ? [options.signal] : [])];
  try {
    // Redirects are never followed by fetch: tsdav reads the Location of a well-known answer itself,
    // and that URL comes back through here to be judged.
    const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.any(signals) });
    return { url, response };
  } catch (error) {
    throw lost(error, url);
  }
}

/** The body, at most `max` bytes; LegacyError beyond (the rest is not read). */
async function readBounded(response: Response, max: number, url: URL): Promise<Buffer> {
  const announced = Number(response.headers.get('content-length') ?? NaN);
  if (announced > max) {
    await response.body?.cancel().catch(() => undefined);
    throw new LegacyError(`the legacy server's answer for ${url.pathname} is larger than ${max} bytes: refused`, 'hostile');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.length;
      if (size > max) {
        await response.body?.cancel().catch(() => undefined);
        throw new LegacyError(`the legacy server's answer for ${url.pathname} is larger than ${max} bytes: refused`, 'hostile');
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (error) {
    throw lost(error, url);
  }
  return Buffer.concat(chunks);
}

const isXml = (response: Response, body: Buffer) =>
  /xml/i.test(response.headers.get('content-type') ?? '') || /^\s*</.test(body.subarray(0, 64).toString('latin1'));

/** Our codec's reading of an XML answer; LegacyError for anything it refuses. */
export function checkedXml(body: Buffer, url: URL): XmlElement {
  try {
    return parseXml(body, XML_LIMITS);
  } catch (error) {
    throw new LegacyError(`the legacy server's answer for ${url.pathname} was refused: ${(error as Error).message}`, 'hostile');
  }
}

/**
 * A `fetch` for tsdav: same origin only, bounded, XML checked, and 401/403/5xx thrown (tsdav would
 * read them as empty listings). 404 passes: discovery probes paths that may not exist.
 */
export function legacyFetch(options: LegacyHttpOptions): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const { url, response } = await send(options, input, init);
    const redirect = response.status >= 300 && response.status < 400;
    if (response.status >= 400 && response.status !== 404) {
      await response.body?.cancel().catch(() => undefined);
      throw statusError(response.status, url);
    }
    if (redirect) {
      const location = response.headers.get('location');
      if (location) sameOrigin(options.origin, location, url);
    }
    const body = await readBounded(response, options.maxResponseBytes, url);
    if (response.status === 207 || (response.ok && body.length && isXml(response, body))) checkedXml(body, url);
    const headers = new Headers(response.headers);
    headers.delete('content-encoding');
    headers.delete('content-length');
    return new Response(redirect || response.status === 204 ? null : body, { status: response.status, statusText: response.statusText, headers });
  }) as typeof fetch;
}

/** One request whose answer is XML (PROPFIND): the checked document. */
export async function legacyXml(options: LegacyHttpOptions, url: URL, init: RequestInit): Promise<{ status: number; document: XmlElement }> {
  const sent = await send(options, url, init);
  if (sent.response.status >= 300) {
    await sent.response.body?.cancel().catch(() => undefined);
    throw statusError(sent.response.status, url);
  }
  const body = await readBounded(sent.response, options.maxResponseBytes, url);
  return { status: sent.response.status, document: checkedXml(body, url) };
}

/** A GET whose body is streamed (drive files): the caller reads it and bounds it. */
export async function legacyStream(options: LegacyHttpOptions, url: URL, init: RequestInit): Promise<{ response: Response; body: AsyncIterable<Uint8Array> }> {
  const sent = await send(options, url, init);
  if (sent.response.status !== 200) {
    await sent.response.body?.cancel().catch(() => undefined);
    throw statusError(sent.response.status, url);
  }
  const source = sent.response.body;
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of source ?? []) yield chunk;
    } catch (error) {
      throw lost(error, url);
    }
  }
  return { response: sent.response, body: body() };
}

export const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
