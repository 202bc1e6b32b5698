#!/usr/bin/env bash
# Mail migration (issue 12, item 4): `palabre migrate mail` from a real Dovecot (the anchor's
# configuration, started on loopback by the test) seeded with 10,000 messages over four accounts,
# nested and special-use folders, flags, keywords and internal dates, into SQLite and PostgreSQL:
# zero differences listed through IMAP, a second run copies nothing, bad input fails only its account.
# The same test runs with 240 messages in `npm test`. Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PALABRE_REQUIRE_CLIENTS=1 PALABRE_MIGRATION_MESSAGES=${PALABRE_MIGRATION_MESSAGES:-10000} \
  npx vitest run examples/server/test/migrate-mail.integration.test.ts \
  --reporter=default --reporter=json --outputFile.json="$OUT/report.json"
node -e '
  const fs = require("fs");
  try { const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
        const failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0) + (r.success || r.numFailedTests ? 0 : 1);
        console.log(`${r.numPassedTests} passed, ${failed} failed`); }
  catch { console.log("0 passed, 1 failed"); }' "$OUT/report.json"
