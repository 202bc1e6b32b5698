#!/usr/bin/env bash
# Issue 3 (the drive): Debian's litmus (basic copymove props locks http) against a listening Palabre DAV
# server, on SQLite and on PostgreSQL. Ends with "N passed, M failed" (104 tests per database).
# Until `palabre serve` mounts the drive, the server is packages/webdav/test/serve.mjs (same handler).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
LITMUS=${PALABRE_LITMUS:-$ROOT/../shared/conformance/webdav/litmus.sh}
[ -x "$LITMUS" ] || LITMUS="bash $LITMUS"
U=alice@ms.gouv.test P=alice-pass
total_pass=0 total_fail=0
run_one() { # run_one NAME [serve.mjs args...]
  local name=$1; shift
  local data; data=$(mktemp -d)
  node packages/webdav/test/serve.mjs --data "$data" "$@" > "$data/out" 2> "$data/err" &
  local pid=$!
  local url=""
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening \(.*\)$/\1/p' "$data/out")
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$url" ]; then
    echo "== litmus on $name: server did not start"; cat "$data/err"
    total_fail=$((total_fail + 1))
  else
    echo "== litmus on $name: $url"
    local out; out=$($LITMUS "$url" "$U" "$P" 2>&1)
    echo "$out" | grep -vE '^[0-9]+ passed, [0-9]+ failed$'
    local last; last=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ -n "$last" ]; then
      echo "$name: $last"
      total_pass=$((total_pass + $(echo "$last" | cut -d' ' -f1))); total_fail=$((total_fail + $(echo "$last" | cut -d' ' -f3)))
    else
      total_fail=$((total_fail + 1))
    fi
  fi
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  rm -rf "$data"
}
run_one sqlite
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  db=palabre_litmus_$$
  psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $db" >/dev/null
  run_one postgres --postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
elif [ "${PALABRE_REQUIRE_PG:-}" = 1 ]; then
  echo "PostgreSQL required but not answering"; total_fail=$((total_fail + 1))
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
