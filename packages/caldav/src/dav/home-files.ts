import { DavError, davPath, type DavBackend, type DavContext, type DavLookup, type DavPath, type DavResource, type NewCollectionOptions, type TransferRequest, type WriteRequest } from '@palabre/webdav';

/**
 * Plain collections and files in a calendar or address-book home (WebDAV clients and litmus make
 * them there): kept in a hidden folder of the owner's drive (`/files/<address>/.calendar-home/…`) and
 * served at the home's paths by the drive backend itself, so locks, properties, COPY and MOVE behave
 * exactly as on the drive — nothing of it written again. Resources cross this adapter both ways: the
 * drive's, with their paths moved under the home, and back.
 */
export class HomeFiles implements DavBackend {
  private readonly inners = new WeakMap<DavResource, DavResource>();

  constructor(
    private readonly drive: DavBackend,
    private readonly driveMount: string,
    private readonly mount: string,
    readonly folder: string,
    /** A typed collection (MKCALENDAR, extended MKCOL) asked for at the home level: the groupware backend makes it. */
    private readonly typed: (ctx: DavContext, home: DavPath, name: string, options: NewCollectionOptions) => Promise<DavResource>,
  ) {}

  /** `/calendars/<address>/x/y` → `/files/<address>/.calendar-home/x/y`. */
  private inner(path: DavPath): DavPath {
    const [, address, ...rest] = path.segments;
    return davPath([this.driveMount, address!, this.folder, ...rest]);
  }

  private outer(path: DavPath): DavPath {
    const [, address, , ...rest] = path.segments;
    return davPath([this.mount, address!, ...rest]);
  }

  private wrap(r: DavResource): DavResource {
    const o: DavResource = { ...r, path: this.outer(r.path), backend: this };
    this.inners.set(o, r);
    return o;
  }

  private unwrap(r: DavResource): DavResource {
    const inner = this.inners.get(r);
    if (!inner) throw new DavError(502, 'not a file of this home');
    return inner;
  }

  /** Is this a resource of the home's files (and not a calendar, an address book or the home itself)? */
  owns(r: DavResource): boolean {
    return this.inners.has(r);
  }

  /** The home's files folder, made on first use (the drive home itself is made on first use too). */
  private async root(ctx: DavContext, home: DavPath): Promise<DavResource | null> {
    const path = this.inner(davPath(home.segments.slice(0, 2)));
    const found = await this.drive.lookup(ctx, path);
    if (found.resource) return found.resource;
    if (!found.parent?.privileges.has('bind') || !this.drive.makeCollection) return null;
    try {
      return await this.drive.makeCollection(ctx, found.parent, this.folder);
    } catch (error) {
      // Made at the same moment by another request.
      return (await this.drive.lookup(ctx, path)).resource ?? Promise.reject(error);
    }
  }

  /** A path below a home (its files): the drive's answer, moved under the home. */
  async lookup(ctx: DavContext, path: DavPath): Promise<DavLookup> {
    if (path.segments.length < 3) return { resource: null, parent: null };
    if (path.segments.length === 3) {
      const root = await this.root(ctx, path);
      if (!root) return { resource: null, parent: null };
    }
    const found = await this.drive.lookup(ctx, this.inner(path));
    return { resource: found.resource ? this.wrap(found.resource) : null, parent: found.parent ? this.wrap(found.parent) : null };
  }

  /** The home's files (members of the home besides its collections). */
  async homeMembers(ctx: DavContext, home: DavPath): Promise<DavResource[]> {
    const found = await this.drive.lookup(ctx, this.inner(davPath(home.segments.slice(0, 2))));
    if (!found.resource) return [];
    const out: DavResource[] = [];
    for await (const page of pagesOf(this.drive.members(ctx, found.resource))) out.push(...page.map((r) => this.wrap(r)));
    return out;
  }

  members(ctx: DavContext, collection: DavResource): AsyncIterable<readonly DavResource[]> {
    const pages = pagesOf(this.drive.members(ctx, this.unwrap(collection)));
    const wrap = (r: DavResource) => this.wrap(r);
    return (async function* () {
      for await (const page of pages) yield page.map(wrap);
    })();
  }

  async descendants(ctx: DavContext, collection: DavResource, limit: number): Promise<DavResource[] | 'too-many'> {
    if (!this.drive.descendants) return 'too-many';
    const all = await this.drive.descendants(ctx, this.unwrap(collection), limit);
    return all === 'too-many' ? all : all.map((r) => this.wrap(r));
  }

  async deadProperties(ctx: DavContext, resources: readonly DavResource[]) {
    const out = new Map<DavResource, { name: string; value: string }[]>();
    if (!this.drive.deadProperties) return out;
    const byInner = new Map(resources.map((r) => [this.unwrap(r), r]));
    for (const [inner, props] of await this.drive.deadProperties(ctx, [...byInner.keys()])) out.set(byInner.get(inner)!, props);
    return out;
  }

  writableProperties(resource: DavResource): ReadonlySet<string> {
    return this.drive.writableProperties?.(this.unwrap(resource)) ?? new Set();
  }

  async patchProperties(ctx: DavContext, resource: DavResource, patch: Parameters<NonNullable<DavBackend['patchProperties']>>[2]): Promise<void> {
    if (!this.drive.patchProperties) throw new DavError(403, 'no properties here');
    await this.drive.patchProperties(ctx, this.unwrap(resource), patch);
  }

  async read(ctx: DavContext, resource: DavResource, range?: { start: number; end: number }) {
    if (!this.drive.read) throw new DavError(405, 'no content here');
    return this.drive.read(ctx, this.unwrap(resource), range);
  }

  async write(ctx: DavContext, parent: DavResource, name: string, request: WriteRequest): Promise<{ resource: DavResource; created: boolean }> {
    if (!this.drive.write) throw new DavError(405, 'files cannot be written here');
    const out = await this.drive.write(ctx, this.unwrap(parent), name, { ...request, existing: request.existing ? this.unwrap(request.existing) : request.existing });
    return { resource: this.wrap(out.resource), created: out.created };
  }

  async makeCollection(ctx: DavContext, parent: DavResource, name: string, options?: NewCollectionOptions): Promise<DavResource> {
    // A calendar or an address book at the home level is the groupware backend's; anything else a folder.
    if (options?.resourceTypes.length && parent.path.segments.length === 2) return this.typed(ctx, parent.path, name, options);
    if (!this.drive.makeCollection) throw new DavError(403, 'collections cannot be made here');
    return this.wrap(await this.drive.makeCollection(ctx, this.unwrap(parent), name, options));
  }

  async remove(ctx: DavContext, resource: DavResource, options?: { ifMatch?: string }): Promise<void> {
    if (!this.drive.remove) throw new DavError(403, 'this cannot be deleted');
    await this.drive.remove(ctx, this.unwrap(resource), options);
  }

  async copy(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest) {
    if (!this.drive.copy) throw new DavError(403, 'this cannot be copied');
    const out = await this.drive.copy(ctx, this.unwrap(source), this.unwrap(parent), name, request);
    return { resource: this.wrap(out.resource), replaced: out.replaced };
  }

  async move(ctx: DavContext, source: DavResource, parent: DavResource, name: string, request: TransferRequest) {
    if (!this.drive.move) throw new DavError(403, 'this cannot be moved');
    const out = await this.drive.move(ctx, this.unwrap(source), this.unwrap(parent), name, request);
    return { resource: this.wrap(out.resource), replaced: out.replaced };
  }

  async quota(ctx: DavContext, resource: DavResource) {
    return this.drive.quota ? this.drive.quota(ctx, this.unwrap(resource)) : null;
  }
}

function pagesOf(listed: Promise<DavResource[]> | AsyncIterable<readonly DavResource[]>): AsyncIterable<readonly DavResource[]> {
  if (Symbol.asyncIterator in (listed as object)) return listed as AsyncIterable<readonly DavResource[]>;
  return (async function* () {
    yield await (listed as Promise<DavResource[]>);
  })();
}
