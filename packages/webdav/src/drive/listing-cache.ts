import type { DriveNode } from '@palabre/core';

/**
 * Members of folders, kept by (space, folder, version). A folder's version grows with every change below
 * it (content, names, mtimes, members), on every node of a cluster, so an entry whose version matches the
 * folder just read from the database is exactly what the database would answer: no invalidation needed.
 * Sync clients list the same folders over and over; this turns those listings into zero queries.
 */
export class ListingCache {
  private readonly entries = new Map<string, { version: number; nodes: readonly DriveNode[] }>();
  private size = 0;

  constructor(private readonly maxNodes = 20_000) {}

  get(folder: DriveNode): readonly DriveNode[] | undefined {
    const key = `${folder.spaceId}:${folder.id}`;
    const hit = this.entries.get(key);
    if (!hit || hit.version !== folder.version) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.nodes;
  }

  set(folder: DriveNode, nodes: readonly DriveNode[]): void {
    if (nodes.length > this.maxNodes / 4) return;
    const key = `${folder.spaceId}:${folder.id}`;
    const old = this.entries.get(key);
    if (old) {
      this.size -= old.nodes.length;
      this.entries.delete(key);
    }
    this.entries.set(key, { version: folder.version, nodes });
    this.size += nodes.length;
    for (const [k, v] of this.entries) {
      if (this.size <= this.maxNodes) break;
      this.entries.delete(k);
      this.size -= v.nodes.length;
    }
  }
}
