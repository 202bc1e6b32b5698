import { etagsMatch } from './if-header.js';

/**
 * HTTP conditional requests (RFC 9110 §13): If-Match, If-None-Match, If-Unmodified-Since,
 * If-Modified-Since. Evolution sends entity tags with backslash-escaped quotes; they are unescaped.
 */
export interface Validators {
  readonly etag: string | null;
  readonly lastModified: Date | null;
}

export type ConditionalOutcome = 'proceed' | 'not-modified' | 'failed';

/** The entity tags of an If-Match / If-None-Match value; '*' alone is returned as ['*']. */
export function parseEtagList(value: string): string[] {
  const v = value.replace(/\\"/g, '"').trim();
  if (v === '*') return ['*'];
  const out: string[] = [];
  const re = /\s*(W\/)?("[^"]*")\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < v.length && (m = re.exec(v))) out.push(`${m[1] ?? ''}${m[2]}`);
  // Unquoted values (some clients): take them as they come, quoted.
  if (out.length === 0 && v) for (const part of v.split(',')) if (part.trim()) out.push(`"${part.trim().replace(/^"|"$/g, '')}"`);
  return out;
}

const strongMatch = (etag: string | null, tag: string) => etag !== null && !tag.startsWith('W/') && !etag.startsWith('W/') && etag === tag;

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Evaluate the HTTP preconditions against a resource (null when it does not exist). `safe` is true for GET
 * and HEAD, where a failed If-None-Match / If-Modified-Since means 304 rather than 412.
 */
export function evaluateConditional(headers: Record<string, string | string[] | undefined>, current: Validators | null, safe: boolean): ConditionalOutcome {
  const ifMatch = header(headers, 'if-match');
  if (ifMatch !== undefined) {
    const tags = parseEtagList(ifMatch);
    const ok = current !== null && (tags[0] === '*' || tags.some((t) => strongMatch(current.etag, t)));
    if (!ok) return 'failed';
  } else {
    const since = header(headers, 'if-unmodified-since');
    if (since !== undefined && current?.lastModified) {
      const t = Date.parse(since);
      if (!Number.isNaN(t) && Math.floor(current.lastModified.getTime() / 1000) > Math.floor(t / 1000)) return 'failed';
    }
  }
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    const tags = parseEtagList(ifNoneMatch);
    const matched = current !== null && (tags[0] === '*' || tags.some((t) => etagsMatch(current.etag, t)));
    if (matched) return safe ? 'not-modified' : 'failed';
  } else if (safe) {
    const since = header(headers, 'if-modified-since');
    if (since !== undefined && current?.lastModified) {
      const t = Date.parse(since);
      if (!Number.isNaN(t) && Math.floor(current.lastModified.getTime() / 1000) <= Math.floor(t / 1000)) return 'not-modified';
    }
  }
  return 'proceed';
}
