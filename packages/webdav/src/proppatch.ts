import { isPalabreError, type PropertyPatch } from '@palabre/core';
import type { DavEngine } from './engine.js';
import { DAV, DavError, toDavError } from './errors.js';
import { hrefXml, statusXml, XmlStream } from './multistatus.js';
import type { DavContext } from './resource.js';
import { clark, elements, parseClark, serializeElement, type XmlElement } from './xml-codec.js';

interface Operation {
  readonly name: string;
  readonly set: XmlElement | null;
}

export function parsePropertyUpdate(body: XmlElement | null): Operation[] {
  if (!body || body.ns !== DAV || body.name !== 'propertyupdate') throw new DavError(400, 'the body must be a DAV:propertyupdate');
  const ops: Operation[] = [];
  for (const block of elements(body)) {
    if (block.ns !== DAV || (block.name !== 'set' && block.name !== 'remove')) continue;
    for (const prop of elements(block)) {
      if (prop.ns !== DAV || prop.name !== 'prop') continue;
      for (const p of elements(prop)) ops.push({ name: clark(p), set: block.name === 'set' ? p : null });
    }
  }
  if (ops.length === 0) throw new DavError(400, 'propertyupdate names no property');
  return ops;
}

/**
 * PROPPATCH (RFC 4918 §9.2): every set/remove of every block in document order, all or nothing. Dead
 * properties of any namespace are stored by the backend in one transaction; protected live properties
 * fail the whole request (403 for them, 424 for the others).
 */
export async function proppatchMethod(engine: DavEngine, ctx: DavContext): Promise<void> {
  const { resource } = await engine.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  engine.require(ctx, resource, 'write-properties');
  engine.conditional(ctx, resource, false);
  const submitted = await engine.ifHeader(ctx, resource, ctx.path);
  await engine.locks.assertUnlocked(engine, ctx, [{ path: ctx.path }], submitted);
  const ops = parsePropertyUpdate(await engine.readXml(ctx));

  const failed = new Map<string, number>();
  for (const op of ops) {
    const def = engine.properties.get(op.name);
    if (def && !def.set) failed.set(op.name, 403);
  }
  if (!failed.size) {
    const dead: PropertyPatch[] = [];
    const liveSets: Operation[] = [];
    for (const op of ops) {
      if (engine.properties.has(op.name)) liveSets.push(op);
      else dead.push(op.set ? { op: 'set', name: op.name, value: serializeElement(op.set) } : { op: 'remove', name: op.name });
    }
    try {
      if (dead.length) {
        if (!resource.backend.patchProperties) throw new DavError(403, 'this resource keeps no properties');
        await resource.backend.patchProperties(ctx, resource, dead);
      }
      for (const op of liveSets) await engine.properties.get(op.name)!.set!(ctx, resource, op.set);
    } catch (error) {
      if (!isPalabreError(error)) throw error;
      const status = toDavError(error).status;
      if (status === 404 || status === 401 || status === 503) throw error;
      for (const op of dead.length ? dead : liveSets) failed.set(op.name, status === 500 ? 500 : status);
    }
  }
  const out = new XmlStream(ctx.res, engine.namespaces);
  out.begin(207);
  const byStatus = new Map<number, string[]>();
  for (const op of ops) {
    const status = failed.size ? (failed.get(op.name) ?? 424) : 200;
    const list = byStatus.get(status) ?? [];
    if (!list.includes(op.name)) list.push(op.name);
    byStatus.set(status, list);
  }
  let xml = `<d:response>${hrefXml(engine.hrefOf(resource))}`;
  for (const [status, names] of byStatus) {
    const props = names.map((n) => engine.namespaces.tag(parseClark(n).ns, parseClark(n).name).empty).join('');
    const error = status === 403 ? '<d:error><d:cannot-modify-protected-property/></d:error>' : '';
    xml += `<d:propstat><d:prop>${props}</d:prop>${statusXml(status)}${error}</d:propstat>`;
  }
  xml += '</d:response>';
  await out.write(xml);
  await out.end();
  if (!failed.size) await engine.hooks.afterChange(ctx, { kind: 'proppatch', path: ctx.path });
}
