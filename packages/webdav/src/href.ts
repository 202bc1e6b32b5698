import { parseAddress } from '@palabre/core';
import { DavError } from './errors.js';

/**
 * Paths of the DAV namespace. A request path is decoded segment by segment, strictly: invalid or overlong
 * UTF-8, encoded slashes, NUL and control characters, "." and ".." are refused (400), never normalised
 * away, so nothing can step outside the resource it names. Names are kept exactly as the client wrote them
 * (sync clients key items by href); a backend that wants equivalent spellings to name one resource folds
 * them in its canonical() (the drive compares file names in NFC: macOS sends decomposed names, Windows
 * composed ones).
 */
export interface DavPath {
  /** Decoded segments below the engine's base path. */
  readonly segments: readonly string[];
  /** Canonical form: "/" + segments joined by "/" ("/" for the root). Lock roots use it. */
  readonly key: string;
}

export const MAX_PATH_BYTES = 2048;
export const MAX_PATH_DEPTH = 64;

const fatal = new TextDecoder('utf-8', { fatal: true });
const CONTROL = /[\u0000-\u001f\u007f]/;

export function davPath(segments: readonly string[]): DavPath {
  return { segments, key: `/${segments.join('/')}` };
}

export const ROOT: DavPath = davPath([]);

export function parentOf(path: DavPath): DavPath {
  return davPath(path.segments.slice(0, -1));
}

export function childOf(path: DavPath, name: string): DavPath {
  return davPath([...path.segments, name]);
}

export function nameOf(path: DavPath): string {
  return path.segments[path.segments.length - 1] ?? '';
}

/** Is `inner` the same as or below `outer`? */
export function isWithin(inner: DavPath, outer: DavPath): boolean {
  return outer.segments.length <= inner.segments.length && outer.segments.every((s, i) => inner.segments[i] === s);
}

/** Decode one raw path segment; throws DavError(400) on anything ambiguous. */
export function decodeSegment(raw: string): string {
  let bytes: Uint8Array;
  if (!raw.includes('%')) {
    // Printable ASCII without escapes (most names, every href of a multiget this server gave): the
    // segment is its own decoding, with no bytes to make and decode again.
    if (!/[^\x21-\x7e]/.test(raw)) return checkedName(raw);
    // Raw non-ASCII or spaces (some clients do not encode): take the characters as they are.
    bytes = Buffer.from(raw, 'utf8');
  } else {
    const out: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === 0x25) {
        const hex = raw.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new DavError(400, 'malformed percent-encoding in the path');
        out.push(parseInt(hex, 16));
        i += 2;
      } else if (c < 0x80) out.push(c);
      else for (const b of Buffer.from(raw[i]!, 'utf8')) out.push(b);
    }
    bytes = Uint8Array.from(out);
  }
  let name: string;
  try {
    name = fatal.decode(bytes);
  } catch {
    throw new DavError(400, 'the path is not valid UTF-8');
  }
  return checkedName(name);
}

function checkedName(name: string): string {
  if (name.includes('/')) throw new DavError(400, 'encoded "/" in a path segment');
  if (CONTROL.test(name)) throw new DavError(400, 'control characters in the path');
  if (name === '.' || name === '..') throw new DavError(400, '"." and ".." segments are not allowed');
  return name;
}

/**
 * The one spelling of a mail address used as a path segment (a home `/files/<address>/`, a principal
 * `/principals/users/<address>/`): the directory's own (core's parseAddress: local part NFC and lower-case,
 * domain in lower-case A-labels without a trailing dot), so `ALICE@EXAMPLE.TEST`, `alice%40example.test`
 * and `alice@example.test.` are one key for locks, ACLs, ETags and change logs. Anything that is not an
 * address (a group folder's name, a file name) is returned unchanged: file names keep the client's spelling.
 * Backends say which segments are addresses (DavBackend.canonical); the engine applies it (DavEngine.pathOf).
 */
export function canonicalAddress(segment: string): string {
  if (!segment.includes('@') || /\s/u.test(segment)) return segment;
  try {
    return parseAddress(segment).address;
  } catch {
    return segment;
  }
}

export interface ParsedTarget {
  readonly segments: string[];
  readonly trailingSlash: boolean;
}

/** The path part of a request target or an absolute URI, split and decoded. */
export function parseTarget(target: string): ParsedTarget {
  let path = target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    const slash = path.indexOf('/', path.indexOf('//') + 2);
    path = slash < 0 ? '/' : path.slice(slash);
  }
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  if (!path.startsWith('/')) throw new DavError(400, 'the request target must be an absolute path');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES * 3) throw new DavError(414, 'the path is too long');
  const segments = path
    .split('/')
    .filter((s) => s.length > 0)
    .map(decodeSegment);
  if (Buffer.byteLength(segments.join('/')) > MAX_PATH_BYTES) throw new DavError(414, 'the path is too long');
  if (segments.length > MAX_PATH_DEPTH) throw new DavError(414, `paths are at most ${MAX_PATH_DEPTH} levels deep`);
  return { segments, trailingSlash: path.endsWith('/') };
}

// RFC 3986 pchar minus what clients misread; everything else percent-encoded.
const KEEP = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
const ALL_KEPT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;

export function encodeSegment(name: string): string {
  if (ALL_KEPT.test(name)) return name;
  let out = '';
  for (const ch of name) {
    if (ch.length === 1 && KEEP.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The href of a path under a base (e.g. "/dav"), with a trailing "/" for collections. */
export function hrefOf(base: string, path: DavPath, collection: boolean): string {
  let href = base;
  for (const s of path.segments) href += `/${encodeSegment(s)}`;
  if (collection || path.segments.length === 0) href += '/';
  return href;
}

/** Normalise a configured base path: "/dav/" → "/dav", "/" → "". */
export function normaliseBase(base: string): string {
  const trimmed = `/${base}`.replace(/\/+/g, '/').replace(/\/$/, '');
  return trimmed;
}
