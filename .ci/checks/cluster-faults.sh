#!/usr/bin/env bash
# Issue 15 §3: kill -9 of a node and a PostgreSQL restart under mixed load, behind HAProxy; every
# acknowledged message and file must be there afterwards (lib/cluster-faults.mjs). Ends with
# "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! command -v haproxy >/dev/null; then echo "haproxy is not installed (Debian haproxy)"; echo "0 passed, 1 failed"; exit 1; fi
timeout 600 node .ci/checks/lib/cluster-faults.mjs || { rc=$?; [ "$rc" -eq 124 ] && echo "timed out" && echo "0 passed, 1 failed"; exit "$rc"; }
