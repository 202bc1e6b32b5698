import type { Database } from './database.js';

/** `items` in runs of `size`: IN lists and multi-row INSERTs stay far below the databases' parameter limits. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `?, ?, …` for an IN list or a VALUES row of `n` parameters. */
export const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/**
 * Which of these blob ids rows of `table` still hold in their `blob_id` column: what a feature's blob
 * collector asks each holder (core's collectUnreferencedBlobs).
 */
export async function blobIdsHeldBy(db: Database, table: string, blobIds: readonly string[], perStatement: number): Promise<Set<string>> {
  const held = new Set<string>();
  const ids = [...new Set(blobIds)];
  if (ids.length === 0) return held;
  await db.run(async (m) => {
    for (const part of chunks(ids, perStatement)) {
      const rows: { blob_id: string }[] = await m.query(db.sql(`SELECT DISTINCT blob_id FROM ${table} WHERE blob_id IN (${marks(part.length)})`), part);
      for (const r of rows) held.add(r.blob_id);
    }
  }, 'finding referenced blobs');
  return held;
}
