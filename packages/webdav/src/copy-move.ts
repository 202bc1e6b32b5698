import type { DavEngine } from './engine.js';
import { headerOf } from './body.js';
import { DavError } from './errors.js';
import { isWithin, nameOf, parentOf } from './href.js';
import type { DavContext } from './resource.js';

function overwriteOf(ctx: DavContext): boolean {
  const raw = headerOf(ctx.req, 'overwrite');
  if (raw === undefined) return true;
  const v = raw.trim().toUpperCase();
  if (v !== 'T' && v !== 'F') throw new DavError(400, 'Overwrite must be T or F');
  return v === 'T';
}

/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9). The backend does each as one transaction, so there is never a
 * partial result to report: the answer is 201, 204 or one error status.
 */
async function transfer(engine: DavEngine, ctx: DavContext, move: boolean): Promise<void> {
  const { resource: source, parent: sourceParent } = await engine.lookup(ctx, ctx.path);
  if (!source) throw new DavError(404, 'no such resource');
  const depth = move ? engine.depth(ctx, ['infinity'], 'infinity') : engine.depth(ctx, ['0', 'infinity'], 'infinity');
  const overwrite = overwriteOf(ctx);
  const dest = engine.destination(ctx);
  if (dest.key === ctx.path.key) throw new DavError(403, 'source and destination are the same');
  if (source.collection && depth === 'infinity' && isWithin(dest, ctx.path)) throw new DavError(409, 'a collection cannot go below itself');
  if (dest.segments.length === 0 || ctx.path.segments.length === 0) throw new DavError(403, 'the root cannot be copied or moved');
  engine.require(ctx, source, 'read');
  if (move) {
    if (!sourceParent) throw new DavError(403, 'this resource cannot be moved');
    engine.require(ctx, sourceParent, 'unbind');
  }
  const { resource: existing, parent: destParent } = await engine.lookup(ctx, dest);
  if (!destParent) throw new DavError(409, 'the destination collection does not exist');
  engine.require(ctx, destParent, 'bind');
  if (existing) {
    if (!overwrite) throw new DavError(412, 'the destination exists and Overwrite is F');
    engine.require(ctx, destParent, 'unbind');
  }
  engine.conditional(ctx, source, false);
  const submitted = await engine.ifHeader(ctx, source, ctx.path);
  await engine.locks.assertUnlocked(
    engine,
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
  await engine.hooks.beforeBind(ctx, destParent, dest, source.collection);
  const { replaced } = await operation.call(source.backend, ctx, source, destParent, nameOf(dest), { overwrite, depth: depth === '0' ? 0 : 'infinity' });
  if (move) await engine.locks.store.removeTree(ctx.path.key);
  if (replaced) await engine.locks.store.removeTree(dest.key);
  await engine.hooks.afterChange(ctx, { kind: move ? 'move' : 'copy', path: ctx.path, destination: dest });
  ctx.res.statusCode = replaced ? 204 : 201;
  if (!replaced) ctx.res.setHeader('location', engine.href(dest, source.collection));
  ctx.res.setHeader('content-length', '0');
  ctx.res.end();
}

export const copyMethod = (engine: DavEngine, ctx: DavContext) => transfer(engine, ctx, false);
export const moveMethod = (engine: DavEngine, ctx: DavContext) => transfer(engine, ctx, true);
