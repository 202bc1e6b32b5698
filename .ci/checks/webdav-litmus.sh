#!/usr/bin/env bash
# Issue 3 (the drive): Debian's litmus (suites basic copymove props locks http) against a running
# `palabre serve`, on SQLite and on PostgreSQL. Each run ends with "104 passed, 0 failed"; the last line
# sums both runs as "N passed, M failed".
U=litmus@ms.gouv.test P=Conformance-Pass-2026-dav
source "$(dirname "$0")/lib/serve-both-stores.sh"
LITMUS=${PALABRE_LITMUS:-$ROOT/../shared/conformance/webdav/litmus.sh}
client() { bash "$LITMUS" "http://127.0.0.1:$1/dav/files/$U/" "$U" "$P"; }
run_on_both_stores
