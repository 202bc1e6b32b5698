#!/usr/bin/env bash
# Mail conformance: ../shared/conformance/mail/run.sh against `palabre serve` (fresh data folder, free
# loopback ports, a domain and a user made with the CLI). Ends with run.sh's "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
HARNESS=${MAIL_HARNESS:-$ROOT/../shared/conformance/mail}
if [ ! -f "$HARNESS/run.sh" ]; then echo "mail harness not found at $HARNESS"; echo "0 passed, 1 failed"; exit 1; fi
DATA=$(mktemp -d)
LOG=$DATA/serve.log
PID=
cleanup() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi; rm -rf "$DATA"; }
trap cleanup EXIT
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
SMTP_PORT=$(free_port) SUB_PORT=$(free_port) IMAP_PORT=$(free_port) HTTP_PORT=$(free_port)
USER_ADDR=harness@example.test
# A leading letter: base64url may start with "-", which swaks would read as an option (exit 1, 1 run in 64).
PASS=p$(node -e 'console.log(require("crypto").randomBytes(12).toString("base64url"))')
palabre() { node "$ROOT/examples/server/bin/palabre.js" --data "$DATA" "$@"; }
if ! palabre domain add example.test >/dev/null || ! printf '%s' "$PASS" | palabre user add "$USER_ADDR" --password-stdin >/dev/null; then
  echo "0 passed, 1 failed"; exit 1
fi
# node itself in the background (not the shell function): $! must be the server, or kill misses it.
node "$ROOT/examples/server/bin/palabre.js" --data "$DATA" serve --hostname mail.example.test --http-port "$HTTP_PORT" --smtp-port "$SMTP_PORT" --submission-port "$SUB_PORT" --imap-port "$IMAP_PORT" --sieve-port 0 --admin-port 0 >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$SUB_PORT") 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.2
done
if ! kill -0 "$PID" 2>/dev/null; then echo "palabre serve did not start:"; tail -20 "$LOG"; echo "0 passed, 1 failed"; exit 1; fi
echo "# palabre serve pid $PID: MX $SMTP_PORT, submission $SUB_PORT, IMAP $IMAP_PORT"
# Submission port: STARTTLS + AUTH, sender policy, delivery into the mailbox store, then IMAP.
bash "$HARNESS/run.sh" "127.0.0.1:$SUB_PORT" "127.0.0.1:$IMAP_PORT" "$USER_ADDR" "$PASS" 2>&1 | tee "$DATA/run.out"
grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$DATA/run.out" || echo "0 passed, 1 failed"
