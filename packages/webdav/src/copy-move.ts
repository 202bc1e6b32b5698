import { DavError } from './errors.js';
import { isWithin, nameOf, parentOf } from './href.js';
import { conditionalOf, depthOf, destinationOf, ifHeaderOf, overwriteOf, requirePrivilege } from './request.js';
import type { DavContext } from './resource.js';

/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9). The backend does each as one transaction, so there is never a
 * partial result to report: the answer is 201, 204 or one error status.
 */
async function transfer(ctx: DavContext, move: boolean): Promise<void> {
  const { resource: source, parent: sourceParent } = await ctx.dav.lookup(ctx, ctx.path);
  if (!source) throw new DavError(404, 'no such resource');
  const depth = move ? depthOf(ctx, ['infinity'], 'infinity') : depthOf(ctx, ['0', 'infinity'], 'infinity');
  const overwrite = overwriteOf(ctx);
  const dest = destinationOf(ctx);
  if (dest.key === ctx.path.key) throw new DavError(403, 'source and destination are the same');
  if (source.collection && depth === 'infinity' && isWithin(dest, ctx.path)) throw new DavError(409, 'a collection cannot go below itself');
  if (dest.segments.length === 0 || ctx.path.segments.length === 0) throw new DavError(403, 'the root cannot be copied or moved');
  requirePrivilege(ctx, source, 'read');
  if (move) {
    if (!sourceParent) throw new DavError(403, 'this resource cannot be moved');
    requirePrivilege(ctx, sourceParent, 'unbind');
  }
  const { resource: existing, parent: destParent } = await ctx.dav.lookup(ctx, dest);
  if (!destParent) throw new DavError(409, 'the destination collection does not exist');
  requirePrivilege(ctx, destParent, 'bind');
  if (existing) {
    if (!overwrite) throw new DavError(412, 'the destination exists and Overwrite is F');
    requirePrivilege(ctx, destParent, 'unbind');
  }
  conditionalOf(ctx, source, false);
  const submitted = await ifHeaderOf(ctx, source, ctx.path);
  await ctx.dav.locks.assertUnlocked(
    ctx,
    [
      ...(move ? [{ path: parentOf(ctx.path) }, { path: ctx.path, deep: source.collection }] : []),
      { path: parentOf(dest) },
      ...(existing ? [{ path: dest, deep: existing.collection }] : []),
    ],
    submitted,
  );
  if (source.backend !== destParent.backend) throw new DavError(502, 'cannot copy or move between these collections');
  const operation = move ? source.backend.move : source.backend.copy;
  if (!operation) throw new DavError(403, `this resource cannot be ${move ? 'moved' : 'copied'}`);
  await ctx.dav.hooks.beforeBind(ctx, destParent, dest, source.collection);
  const { replaced } = await operation.call(source.backend, ctx, source, destParent, nameOf(dest), { overwrite, depth: depth === '0' ? 0 : 'infinity' });
  if (move) await ctx.dav.locks.store.removeTree(ctx.path.key);
  if (replaced) await ctx.dav.locks.store.removeTree(dest.key);
  await ctx.dav.hooks.afterChange(ctx, { kind: move ? 'move' : 'copy', path: ctx.path, destination: dest });
  ctx.res.statusCode = replaced ? 204 : 201;
  if (!replaced) ctx.res.setHeader('location', ctx.dav.href(dest, source.collection));
  ctx.res.setHeader('content-length', '0');
  ctx.res.end();
}

export const copyMethod = (ctx: DavContext) => transfer(ctx, false);
export const moveMethod = (ctx: DavContext) => transfer(ctx, true);
