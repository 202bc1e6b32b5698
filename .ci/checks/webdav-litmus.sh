#!/usr/bin/env bash
# Issue 3 (the drive): Debian's litmus (suites basic copymove props locks http) against a running
# `palabre serve`, on SQLite and on PostgreSQL. Each run ends with "104 passed, 0 failed"; the last line
# sums both runs as "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
LITMUS=${PALABRE_LITMUS:-$ROOT/../shared/conformance/webdav/litmus.sh}
PALABRE="node $ROOT/examples/server/bin/palabre.js"
U=litmus@ms.gouv.test P=Conformance-Pass-2026-dav
total_pass=0 total_fail=0
free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
run_one() { # run_one NAME [DATABASE_URL]
  local name=$1 dburl=${2:-}
  local data; data=$(mktemp -d)
  local port; port=$(free_port)
  export DATABASE_URL=$dburl
  [ -n "$dburl" ] || unset DATABASE_URL
  $PALABRE domain add ms.gouv.test --data "$data" > /dev/null
  $PALABRE user add "$U" --password "$P" --data "$data" > /dev/null
  $PALABRE serve --data "$data" --host 127.0.0.1 --http-port "$port" --smtp-port 0 --submission-port 0 --imap-port 0 > "$data/out" 2>&1 &
  local pid=$!
  local url="http://127.0.0.1:$port/dav/files/$U/"
  for _ in $(seq 1 150); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if ! curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
    echo "== litmus on $name: palabre serve did not start"; tail -20 "$data/out"
    total_fail=$((total_fail + 1))
  else
    echo "== litmus on $name (palabre serve): $url"
    local out; out=$(bash "$LITMUS" "$url" "$U" "$P" 2>&1)
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
  unset DATABASE_URL
  rm -rf "$data"
}
run_one sqlite
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  db=palabre_litmus_$$
  psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $db" >/dev/null
  run_one postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
elif [ "${PALABRE_REQUIRE_PG:-}" = 1 ]; then
  echo "PostgreSQL required but not answering"; total_fail=$((total_fail + 1))
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
