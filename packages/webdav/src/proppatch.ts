import { isPalabreError, type PropertyPatch } from '@palabre/core';
import { DAV, DavError, PropertyPatchError, toDavError } from './errors.js';
import { hrefXml, statusXml, XmlStream } from './multistatus.js';
import { conditionalOf, ifHeaderOf, readXmlBody, requirePrivilege } from './request.js';
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

export function toPatch(ops: readonly Operation[]): PropertyPatch[] {
  return ops.map((op) => (op.set ? { op: 'set', name: op.name, value: serializeElement(op.set) } : { op: 'remove', name: op.name }));
}

/**
 * PROPPATCH (RFC 4918 §9.2): every set/remove of every block in document order, all or nothing. Dead
 * properties, and the live ones the backend lets clients set ({DAV:}displayname…), go to the backend
 * in one transaction; a protected live property fails the whole request (403 for it, 424 for the
 * others), and a backend's refusal names each property's own status.
 */
export async function proppatchMethod(ctx: DavContext): Promise<void> {
  const dav = ctx.dav;
  const { resource } = await dav.lookup(ctx, ctx.path);
  if (!resource) throw new DavError(404, 'no such resource');
  requirePrivilege(ctx, resource, 'write-properties');
  conditionalOf(ctx, resource, false);
  const submitted = await ifHeaderOf(ctx, resource, ctx.path);
  await dav.locks.assertUnlocked(ctx, [{ path: ctx.path }], submitted);
  const ops = parsePropertyUpdate(await readXmlBody(ctx));

  const live = dav.propertiesOf(resource);
  const writable = resource.backend.writableProperties?.(resource) ?? new Set<string>();
  const failed = new Map<string, { status: number; condition?: string }>();
  for (const op of ops) {
    if (live.has(op.name) && !writable.has(op.name)) failed.set(op.name, { status: 403, condition: `{${DAV}}cannot-modify-protected-property` });
  }
  if (!failed.size) {
    try {
      if (!resource.backend.patchProperties) throw new DavError(403, 'this resource keeps no properties');
      await resource.backend.patchProperties(ctx, resource, toPatch(ops));
    } catch (error) {
      if (error instanceof PropertyPatchError) {
        for (const [name, r] of error.refused) failed.set(name, { status: r.status, condition: r.condition });
      } else {
        if (!isPalabreError(error)) throw error;
        const status = toDavError(error).status;
        if (status === 404 || status === 401 || status === 503 || status === 499) throw error;
        for (const op of ops) failed.set(op.name, { status });
      }
    }
  }
  const out = new XmlStream(ctx.res, dav.namespaces);
  out.begin(207);
  const byStatus = new Map<string, { status: number; condition?: string; names: string[] }>();
  for (const op of ops) {
    const r = failed.size ? (failed.get(op.name) ?? { status: 424 }) : { status: 200 };
    const key = `${r.status} ${r.condition ?? ''}`;
    const group = byStatus.get(key) ?? { ...r, names: [] };
    if (!group.names.includes(op.name)) group.names.push(op.name);
    byStatus.set(key, group);
  }
  let xml = `<d:response>${hrefXml(ctx.href(resource.path, resource.collection))}`;
  for (const { status, condition, names } of byStatus.values()) {
    const props = names.map((n) => dav.namespaces.tag(parseClark(n).ns, parseClark(n).name).empty).join('');
    const error = condition ? `<d:error>${dav.namespaces.tag(parseClark(condition).ns, parseClark(condition).name).empty}</d:error>` : '';
    xml += `<d:propstat><d:prop>${props}</d:prop>${statusXml(status)}${error}</d:propstat>`;
  }
  xml += '</d:response>';
  await out.write(xml);
  await out.end();
  if (!failed.size) await dav.hooks.afterChange(ctx, { kind: 'proppatch', path: ctx.path });
}
