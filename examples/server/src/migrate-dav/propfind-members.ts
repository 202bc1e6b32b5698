import { child, elements, textOf, type XmlElement } from '@palabre/webdav';
import { basicAuth, legacyXml, memberName, sameOrigin, type LegacyHttpOptions } from './legacy-http.js';

const DAV = 'DAV:';

/** One member of a legacy collection, as a PROPFIND Depth 1 lists it. */
export interface LegacyMember {
  /** Its name inside the collection (one decoded segment). */
  readonly name: string;
  readonly url: URL;
  readonly collection: boolean;
  readonly etag: string | null;
  readonly size: number | null;
  readonly modifiedAt: Date | null;
  /** The properties the server answered with 200 (for the extra properties asked for). */
  readonly prop: XmlElement | null;
}

export interface MemberListing {
  readonly members: LegacyMember[];
  /** Hrefs that leave the collection (another host, `../`, deeper paths): never followed. */
  readonly outside: string[];
}

/** `extra`: more properties to ask for, as `{ ns, name }`. */
const propfindBody = (extra: readonly { ns: string; name: string }[]) =>
  `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/><D:getcontentlength/><D:getlastmodified/>${extra.map((p) => `<${p.name} xmlns="${p.ns}"/>`).join('')}</D:prop></D:propfind>`;

/** The 200 propstat's prop of a response, if any. */
function okProp(response: XmlElement): XmlElement | undefined {
  for (const propstat of elements(response).filter((e) => e.ns === DAV && e.name === 'propstat')) {
    const status = child(propstat, DAV, 'status');
    if (status && !/\s2\d\d\b/.test(textOf(status))) continue;
    const prop = child(propstat, DAV, 'prop');
    if (prop) return prop;
  }
  return undefined;
}

/**
 * The members of one collection: a PROPFIND with Depth 1 (never infinity: a tree is walked one level
 * at a time, so no answer is larger than one folder), read by our XML codec, each href judged against
 * the collection before anything is asked about it.
 */
export async function listMembers(
  http: LegacyHttpOptions,
  collection: URL,
  login: { user: string; password: string },
  extra: readonly { ns: string; name: string }[] = [],
): Promise<MemberListing> {
  const { document } = await legacyXml(http, collection, {
    method: 'PROPFIND',
    headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8', authorization: basicAuth(login.user, login.password) },
    body: propfindBody(extra),
  });
  const members: LegacyMember[] = [];
  const outside: string[] = [];
  const self = collection.pathname.replace(/\/?$/, '/');
  const seen = new Set<string>();
  for (const response of elements(document).filter((e) => e.ns === DAV && e.name === 'response')) {
    const hrefEl = child(response, DAV, 'href');
    if (!hrefEl) continue;
    const href = textOf(hrefEl).trim();
    let resolved: URL | null = null;
    try {
      resolved = sameOrigin(http.origin, href, collection);
    } catch {
      resolved = null;
    }
    if (resolved && resolved.pathname.replace(/\/?$/, '/') === self && !href.includes('..')) continue;
    const name = memberName(http.origin, collection, href);
    if (!name || !resolved) {
      outside.push(href.slice(0, 300));
      continue;
    }
    if (seen.has(name)) continue;
    seen.add(name);
    const prop = okProp(response);
    const type = prop && child(prop, DAV, 'resourcetype');
    const isCollection = Boolean(type && child(type, DAV, 'collection'));
    const etag = prop && child(prop, DAV, 'getetag');
    const length = prop && child(prop, DAV, 'getcontentlength');
    const modified = prop && child(prop, DAV, 'getlastmodified');
    const size = length ? Number(textOf(length).trim()) : NaN;
    const when = modified ? new Date(textOf(modified).trim()) : null;
    members.push({
      name,
      url: resolved,
      collection: isCollection,
      etag: etag ? textOf(etag).trim() || null : null,
      size: Number.isSafeInteger(size) && size >= 0 ? size : null,
      modifiedAt: when && !Number.isNaN(when.getTime()) ? when : null,
      prop: prop ?? null,
    });
  }
  return { members, outside };
}
