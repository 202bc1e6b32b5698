#!/usr/bin/env bash
# Issue 13 (calendars and contacts): ../shared/conformance/caldav/run.sh (python3-caldav checks, a
# vdirsyncer two-way sync, litmus in the calendar home) against a running `palabre serve` reached by its
# bare host URL, on SQLite and on PostgreSQL. The last line sums both runs as "N passed, M failed".
U=agent@ms.gouv.test P=Conformance-Pass-2026-cal
source "$(dirname "$0")/lib/serve-both-stores.sh"
RUN=${PALABRE_CALDAV_RUN:-$ROOT/../shared/conformance/caldav/run.sh}
client() { bash "$RUN" "http://127.0.0.1:$1/" "$U" "$P"; }
run_on_both_stores
