import type { DriveNode } from '@palabre/core';
import type { DavResource } from '../resource.js';
import { VersionedCache } from '../versioned-cache.js';

/** A folder's members at one version, and the resources made of them for the accesses and paths seen. */
export interface Listing {
  readonly nodes: readonly DriveNode[];
  /** Every member's resource for one (access, folder path), when all members have the folder's access. */
  readonly pages: Map<string, readonly DavResource[]>;
  /** One member's resource by (access, folder path, member id), when grants on members differ. */
  readonly members: Map<string, DavResource>;
}

/**
 * Members of folders, kept by (space, folder, version) in a VersionedCache: a folder's version grows with
 * every change below it (content, names, mtimes, members), on every node of a cluster. Sync clients list
 * the same folders over and over; this turns those listings into zero queries.
 *
 * The resources made of those members are kept too, so that the engine sees the same objects again and
 * renders their stable properties once (DavBackend.reusesResources). A resource carries nothing of the
 * principal but the privileges its access gives; which access a caller has is decided per request (the
 * folder's, and grants read per request), and only picks among them.
 */
export class ListingCache {
  private readonly kept: VersionedCache<Listing>;

  constructor(maxNodes = 20_000) {
    this.kept = new VersionedCache(maxNodes, maxNodes / 4);
  }

  get(folder: DriveNode): Listing | undefined {
    return this.kept.get(`${folder.spaceId}:${folder.id}`, folder.version);
  }

  /** Keeps the members of `folder` at its version; the listing to fill, or undefined when too large to keep. */
  set(folder: DriveNode, nodes: readonly DriveNode[]): Listing | undefined {
    const listing: Listing = { nodes, pages: new Map(), members: new Map() };
    return this.kept.set(`${folder.spaceId}:${folder.id}`, folder.version, listing, nodes.length) ? listing : undefined;
  }
}

/** `map.get(key)`, else `make()` kept under `key`; a map past `max` entries starts over (a few accesses and paths per folder are usual). */
export function keptIn<T>(map: Map<string, T>, key: string, max: number, make: () => T): T {
  let value = map.get(key);
  if (value === undefined) {
    if (map.size >= max) map.clear();
    map.set(key, (value = make()));
  }
  return value;
}
