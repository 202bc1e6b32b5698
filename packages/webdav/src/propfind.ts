import { DAV, DavError } from './errors.js';
import { encodePieces, XmlStream } from './multistatus.js';
import { parsePropfind, renderResponseList } from './propstat.js';
import { depthOf, preferMinimal, readXmlBody, requirePrivilege } from './request.js';
import type { DavContext, DavResource } from './resource.js';

export { parsePropfind };

/** Resources written per batch: each batch costs one dead-property query and one prepare() per property. */
const BATCH = 1000;

/**
 * The bytes of pages of members sent before, by the page's first resource object (only backends that
 * hand out the same objects again, DavBackend.reusesResources): a page whose responses are the very
 * strings it was made of is sent as those bytes, not encoded again. At most two per first member (a
 * client's allprop and named requests); they go with the objects.
 */
const sentPages = new WeakMap<DavResource, { pieces: readonly string[]; bytes: Buffer[] }[]>();

function pageBytes(batch: readonly DavResource[], pieces: readonly string[]): Buffer[] | null {
  const head = batch[0];
  if (!head?.backend.reusesResources) return null;
  const kept = sentPages.get(head) ?? [];
  const same = kept.find((p) => p.pieces.length === pieces.length && p.pieces.every((s, i) => s === pieces[i]));
  if (same) return same.bytes;
  const bytes = encodePieces(pieces);
  sentPages.set(head, [{ pieces, bytes }, ...kept].slice(0, 2));
  return bytes;
}

/**
 * PROPFIND (RFC 4918 §9.1): Depth 0, 1 or a bounded infinity, streamed as it is computed: a Depth 1
 * listing goes out page by page as the backend gives its members, never held whole.
 */
export async function propfindMethod(ctx: DavContext): Promise<void> {
  const dav = ctx.dav;
  const raw = ((ctx.req as { originalUrl?: string }).originalUrl ?? ctx.req.url ?? '').split('?')[0];
  const serverRoot = raw === '/' && dav.base !== '';
  const depth = serverRoot ? '0' : depthOf(ctx, ['0', '1', 'infinity'], 'infinity');
  const { resource } = await dav.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  requirePrivilege(ctx, resource, 'read');
  const request = parsePropfind(await readXmlBody(ctx));
  const minimal = preferMinimal(ctx);
  let below: AsyncIterable<DavResource[]> | null = null;
  if (resource.collection && depth === '1') below = dav.memberPages(ctx, resource);
  else if (resource.collection && depth === 'infinity') {
    const all = await dav.descendants(ctx, resource, dav.limits.maxInfinity);
    if (all === 'too-many') {
      throw new DavError(403, `Depth: infinity covers more than ${dav.limits.maxInfinity} resources here; use Depth 1`, {
        condition: `{${DAV}}propfind-finite-depth`,
      });
    }
    below = (async function* () {
      for (let i = 0; i < all.length; i += BATCH) yield all.slice(i, i + BATCH);
    })();
  }
  const out = new XmlStream(ctx.res, dav.namespaces);
  // The first batch is computed before committing to 207, so an error there is still a proper status.
  const first = await renderResponseList(ctx, [resource], request, { firstHref: serverRoot ? '/' : null, minimal });
  let pending: DavResource[] = [];
  let started = false;
  const flush = async (batch: DavResource[]) => {
    const responses = await renderResponseList(ctx, batch, request, { minimal });
    if (!started) {
      out.begin(207);
      for (const xml of first) out.append(xml);
      started = true;
    }
    const bytes = pageBytes(batch, responses);
    if (bytes) out.appendEncoded(bytes);
    else for (const xml of responses) out.append(xml);
    await out.flush();
  };
  if (below) {
    for await (const page of below) {
      pending = pending.concat(page);
      while (pending.length >= BATCH) {
        await flush(pending.slice(0, BATCH));
        pending = pending.slice(BATCH);
      }
    }
  }
  await flush(pending);
  await out.end();
}
