import { createDatabaseOn, postgresAnswers, type TestDatabase } from '../storage/test-databases.js';

/**
 * Each test file gets its own database on the server at PALABRE_TEST_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/test), dropped afterwards. When the server does not answer, tests
 * skip, unless PALABRE_REQUIRE_PG=1 (CI) makes that a failure.
 */
export const TEST_PG_ADMIN_URL = process.env.PALABRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let available: Promise<boolean> | null = null;

export function postgresAvailable(): Promise<boolean> {
  available ??= postgresAnswers(TEST_PG_ADMIN_URL).then((r) => {
    if (!r.ok && process.env.PALABRE_REQUIRE_PG === '1') {
      throw new Error(`PostgreSQL required (PALABRE_REQUIRE_PG=1) but ${TEST_PG_ADMIN_URL} did not answer: ${r.error}`);
    }
    return r.ok;
  });
  return available;
}

export function createTestDatabase(prefix?: string): Promise<TestDatabase> {
  return createDatabaseOn(TEST_PG_ADMIN_URL, prefix);
}

export type { TestDatabase };
