# Sourced by the DAV checks: runs a client against a fresh `palabre serve` on SQLite, then on a new
# PostgreSQL database, and sums both. The sourcing script sets U (user address), P (password) and
# defines `client PORT`, which prints lines ending with one "N passed, M failed".
# Ends with the sum as "N passed, M failed" (exit 1 if any failed).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
PALABRE="node $ROOT/examples/server/bin/palabre.js"
total_pass=0 total_fail=0
free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
run_one() { # run_one NAME [DATABASE_URL]
  local name=$1 dburl=${2:-}
  local data; data=$(mktemp -d)
  local port; port=$(free_port)
  export DATABASE_URL=$dburl
  [ -n "$dburl" ] || unset DATABASE_URL
  $PALABRE domain add "${U#*@}" --data "$data" > /dev/null
  $PALABRE user add "$U" --password "$P" --data "$data" > /dev/null
  $PALABRE serve --data "$data" --host 127.0.0.1 --http-port "$port" --smtp-port 0 --submission-port 0 --imap-port 0 --admin-port 0 > "$data/out" 2>&1 &
  local pid=$!
  for _ in $(seq 1 150); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if ! curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
    echo "== $name: palabre serve did not start"; tail -20 "$data/out"
    total_fail=$((total_fail + 1))
  else
    echo "== $name (palabre serve on port $port)"
    local out; out=$(client "$port" 2>&1)
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
run_on_both_stores() {
  run_one sqlite
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    local db=palabre_check_$$_$RANDOM
    psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $db" >/dev/null
    run_one postgres "postgres://postgres@127.0.0.1:5432/$db"
    psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  elif [ "${PALABRE_REQUIRE_PG:-}" = 1 ]; then
    echo "PostgreSQL required but not answering"; total_fail=$((total_fail + 1))
  fi
  echo "$total_pass passed, $total_fail failed"
  [ "$total_fail" -eq 0 ]
}
