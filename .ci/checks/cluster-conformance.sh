#!/usr/bin/env bash
# Issue 15 (several nodes): the three conformance harnesses — litmus on the drive, the mail harness, the
# CalDAV/CardDAV harness — through HAProxy (Debian; round-robin, HTTP mode for DAV so that consecutive
# requests of one client land on different nodes, TCP for submission and IMAP) in front of two `palabre serve`
# nodes sharing one PostgreSQL database and one S3 blob store (a one-node OpenStack Swift with s3api,
# Debian, started here on loopback; without Swift the nodes share the data folder's blobs, as an NFS
# mount would, and the run says so — with PALABRE_REQUIRE_CLIENTS=1, as in CI, a missing Swift fails).
# A lock taken through one node must hold on the other, a sync token from one be valid on the other, a
# delivery accepted by one reach an IDLE client of the other. The last line sums every run.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SHARED=${PALABRE_SHARED:-$ROOT/../shared}
total_pass=0 total_fail=0
add() { total_pass=$((total_pass + $1)); total_fail=$((total_fail + $2)); }
finish() { echo "$total_pass passed, $total_fail failed"; [ "$total_fail" -eq 0 ]; exit $?; }
if ! command -v haproxy >/dev/null; then echo "haproxy is not installed (Debian haproxy)"; add 0 1; finish; fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then echo "PostgreSQL is not answering on 127.0.0.1:5432"; add 0 1; finish; fi

D=$(mktemp -d)
DB=palabre_cluster_$$_$RANDOM
PIDS=()
SWIFT_PID=
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "$SWIFT_PID" ]; then kill "$SWIFT_PID" 2>/dev/null; wait "$SWIFT_PID" 2>/dev/null; fi
  [ -f "$D/haproxy.pid" ] && kill "$(cat "$D/haproxy.pid")" 2>/dev/null
  psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$D"
}
trap cleanup EXIT
free_port() { node "$ROOT/scripts/cluster.mjs" free-port; }
psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $DB" >/dev/null || { add 0 1; finish; }
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
DATA=$D/data
mkdir -p "$DATA"
# Every harness connects from HAProxy's address: no per-address ceiling for it.
BLOBS='"kind": "fs"'
if command -v swift-proxy-server >/dev/null && command -v swift-ring-builder >/dev/null; then
  node "$ROOT/.ci/checks/lib/start-swift.mjs" "$D/s3.json" palabre-cluster > "$D/swift.log" 2>&1 &
  SWIFT_PID=$!
  for _ in $(seq 1 600); do [ -s "$D/s3.json" ] && break; kill -0 "$SWIFT_PID" 2>/dev/null || break; sleep 0.2; done
  if [ ! -s "$D/s3.json" ]; then echo "Swift did not start:"; tail -20 "$D/swift.log"; add 0 1; finish; fi
  BLOBS="\"kind\": \"s3\", \"s3\": $(cat "$D/s3.json")"
  echo "# blobs on Swift s3api at $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).endpoint)' "$D/s3.json")"
elif [ "${PALABRE_REQUIRE_CLIENTS:-}" = 1 ]; then
  echo "OpenStack Swift is not installed (Debian swift swift-proxy swift-object swift-container swift-account)"; add 0 1; finish
else
  echo "# skipped: Swift s3api (not installed); the nodes share the data folder's blobs"
fi
echo "{\"connections\": {\"perAddress\": 0}, \"blobs\": {$BLOBS}}" > "$DATA/palabre.json"
palabre() { node "$ROOT/examples/server/bin/palabre.js" --data "$DATA" "$@"; }
DAV_USER=litmus@ms.gouv.test DAV_PASS=Cluster-Pass-2026-dav
CAL_USER=agent@ms.gouv.test CAL_PASS=Cluster-Pass-2026-cal
MAIL_USER=harness@example.test MAIL_PASS=p$(node -e 'console.log(require("crypto").randomBytes(12).toString("base64url"))')
palabre domain add ms.gouv.test >/dev/null && palabre domain add example.test >/dev/null &&
  palabre user add "$DAV_USER" --password "$DAV_PASS" >/dev/null &&
  palabre user add "$CAL_USER" --password "$CAL_PASS" >/dev/null &&
  printf '%s' "$MAIL_PASS" | palabre user add "$MAIL_USER" --password-stdin >/dev/null || { echo "setting up accounts failed"; add 0 1; finish; }

# Node A first: it makes the data folder's self-signed certificate, which node B then reads.
declare -A HTTP SMTP SUB IMAP
start_node() { # start_node NAME
  local n=$1
  HTTP[$n]=$(free_port) SMTP[$n]=$(free_port) SUB[$n]=$(free_port) IMAP[$n]=$(free_port)
  node "$ROOT/examples/server/bin/palabre.js" --data "$DATA" serve --hostname mail.example.test --host 127.0.0.1 \
    --http-port "${HTTP[$n]}" --smtp-port "${SMTP[$n]}" --submission-port "${SUB[$n]}" --imap-port "${IMAP[$n]}" \
    --sieve-port 0 --admin-port 0 > "$D/node-$n.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 150); do
    curl -s -o /dev/null "http://127.0.0.1:${HTTP[$n]}/healthz" && (exec 3<>"/dev/tcp/127.0.0.1/${SUB[$n]}") 2>/dev/null && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.2
  done
  echo "node $n did not start:"; tail -20 "$D/node-$n.log"; return 1
}
start_node a && start_node b || { add 0 1; finish; }

FRONT_HTTP=$(free_port) FRONT_SUB=$(free_port) FRONT_IMAP=$(free_port)
servers() { printf '[["a",%s],["b",%s]]' "$1" "$2"; }
node "$ROOT/scripts/cluster.mjs" haproxy-config "{\"dir\":\"$D\",\"stats\":true,
  \"http\":{\"port\":$FRONT_HTTP,\"servers\":$(servers "${HTTP[a]}" "${HTTP[b]}")},
  \"tcp\":{\"submission\":{\"port\":$FRONT_SUB,\"servers\":$(servers "${SUB[a]}" "${SUB[b]}")},
         \"imap\":{\"port\":$FRONT_IMAP,\"servers\":$(servers "${IMAP[a]}" "${IMAP[b]}")}}}" > "$D/haproxy.cfg"
haproxy -c -q -f "$D/haproxy.cfg" && haproxy -f "$D/haproxy.cfg" || { echo "haproxy did not start"; add 0 1; finish; }
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$FRONT_HTTP/healthz" && break; sleep 0.1; done
echo "# HAProxy on HTTP $FRONT_HTTP, submission $FRONT_SUB, IMAP $FRONT_IMAP; nodes a and b on PostgreSQL $DB"

# Both nodes answer behind the balancer (two requests in a row reach both).
served=$(for _ in 1 2 3 4; do curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$FRONT_HTTP/healthz"; done | grep -c '^200$')
echo "== balancer: $served/4 health checks answered"
[ "$served" -eq 4 ] && add 1 0 || add 0 1

run() { # run NAME COMMAND...: the command's last "N passed, M failed" line counts
  echo "== $1"
  shift
  local out; out=$("$@" 2>&1)
  echo "$out" | grep -vE '^[0-9]+ passed, [0-9]+ failed$'
  local last; last=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -n "$last" ]; then echo "$last"; add "$(echo "$last" | cut -d' ' -f1)" "$(echo "$last" | cut -d' ' -f3)"; else add 0 1; fi
}
run "litmus through HAProxy" bash "$SHARED/conformance/webdav/litmus.sh" "http://127.0.0.1:$FRONT_HTTP/dav/files/$DAV_USER/" "$DAV_USER" "$DAV_PASS"
run "caldav through HAProxy" bash "$SHARED/conformance/caldav/run.sh" "http://127.0.0.1:$FRONT_HTTP/" "$CAL_USER" "$CAL_PASS"
run "mail through HAProxy" bash "$SHARED/conformance/mail/run.sh" "127.0.0.1:$FRONT_SUB" "127.0.0.1:$FRONT_IMAP" "$MAIL_USER" "$MAIL_PASS"

# Each node must have carried part of every protocol (HAProxy's own counts of sessions per server).
python3 - "$D/haproxy.sock" <<'PY' > "$D/stat.csv"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\n")
print(b"".join(iter(lambda: s.recv(65536), b"")).decode())
PY
for proxy in dav submission imap; do
  line=$(awk -F, -v p="$proxy" '$1 == p && ($2 == "a" || $2 == "b") { printf "%s=%s ", $2, $8 }' "$D/stat.csv")
  echo "== $proxy sessions per node: $line"
  if echo "$line" | grep -qE '^a=[1-9][0-9]* b=[1-9][0-9]* $'; then add 1 0; else add 0 1; fi
done

# On S3, no message or file byte may have landed in the data folder.
if [ -n "$SWIFT_PID" ]; then
  local_blobs=$(find "$DATA" -path '*/blobs/*' -type f 2>/dev/null | wc -l)
  echo "== blob files in the data folder with blobs on S3: $local_blobs"
  [ "$local_blobs" -eq 0 ] && add 1 0 || add 0 1
fi

# Both nodes must still be up: a crash of either under the harnesses is a failure.
for i in 0 1; do
  if kill -0 "${PIDS[$i]}" 2>/dev/null; then add 1 0; else echo "node $i died:"; tail -20 "$D/node-$([ $i = 0 ] && echo a || echo b).log"; add 0 1; fi
done
finish
