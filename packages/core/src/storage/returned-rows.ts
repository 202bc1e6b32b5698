/**
 * Rows of an UPDATE/DELETE … RETURNING. TypeORM's PostgreSQL runner answers such statements with
 * `[rows, affectedCount]`, SQLite (and PostgreSQL INSERTs) with the rows alone.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return Array.isArray(result) ? (result as T[]) : [];
}
