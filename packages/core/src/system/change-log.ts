export type ChangeKind = 'put' | 'delete';

export interface Change {
  readonly seq: number;
  /** Member name inside the collection (a file name, a calendar object name, a message UID). */
  readonly item: string;
  readonly kind: ChangeKind;
}

export interface ChangeSet {
  /** The collection's counter after these changes. */
  readonly seq: number;
  /** Latest change per item, oldest first. */
  readonly changes: readonly Change[];
}

/**
 * A monotonic change counter per collection (CTag, DAV sync-token, IMAP HIGHESTMODSEQ) with the list of
 * what changed, so that a client holding counter N can be told exactly what happened since.
 * Collection ids are opaque strings chosen by the owning store (e.g. `drive:<nodeId>`).
 */
export interface ChangeLog {
  /** The current counter; 0 for a collection that never changed. */
  current(collection: string): Promise<number>;
  /** Record changes atomically; returns the new counter (strictly greater than any before). */
  record(collection: string, changes: readonly { item: string; kind: ChangeKind }[]): Promise<number>;
  /**
   * What changed after `seq`. `'expired'` when the log no longer reaches back that far (pruned) or
   * `seq` is in the future: the client must do a full resync.
   */
  since(collection: string, seq: number, limit?: number): Promise<ChangeSet | 'expired'>;
  /** Forget entries up to and including `seq` (since() older than that becomes 'expired'). */
  prune(collection: string, seq: number): Promise<void>;
  /** Forget a collection entirely (when it is deleted). */
  drop(collection: string): Promise<void>;
  /**
   * Keep at most `keep` deletion records per collection (housekeeping): older counters of a collection
   * pruned this way become 'expired', and their clients resynchronise. Returns the collections pruned.
   */
  pruneTombstones(keep: number): Promise<number>;
}
