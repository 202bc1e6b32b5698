#!/usr/bin/env bash
# Debian packages that tests and conformance checks drive: real clients, real reference servers.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in slapd ldap-utils; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}"
fi
# slapd from Debian starts a system instance; tests run their own on loopback.
if [ -f /var/run/slapd/slapd.pid ]; then kill "$(cat /var/run/slapd/slapd.pid)" 2>/dev/null || true; fi
# Mail conformance clients and the Postfix + Dovecot reference (shared/conformance/mail/install-deps.sh).
MAIL_DEPS="$(dirname "$0")/../../shared/conformance/mail/install-deps.sh"
missing=0
for bin in swaks mbsync openssl smtp-source smtp-sink dovecot postfix; do command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing=1; done
if [ "$missing" = 1 ] && [ -f "$MAIL_DEPS" ]; then bash "$MAIL_DEPS"; fi
