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

# The drive (issue 3): litmus, the real clients its tests drive (rclone, cadaver), wrk and the Apache
# mod_dav and nginx DAV references for `npm run bench` (see ../shared/conformance/webdav), HAProxy in
# front of two nodes (.ci/checks/cluster-conformance.sh).
webdav=()
for pkg in litmus rclone cadaver wrk curl python3 openssl apache2 apache2-utils nginx libnginx-mod-http-dav-ext haproxy; do dpkg -s "$pkg" >/dev/null 2>&1 || webdav+=("$pkg"); done
if [ ${#webdav[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${webdav[@]}"
fi
# Debian's apache2 starts a server on port 80; the benchmark runs its own on loopback.
if [ -f /var/run/apache2/apache2.pid ]; then apache2ctl stop 2>/dev/null || true; fi
# Debian's nginx too (its package starts one on port 80 where no systemd runs it).
if [ -f /run/nginx.pid ]; then nginx -s quit 2>/dev/null || true; fi
# systemd-analyze checks the shipped unit (examples/server/deploy/palabre.service).
if ! command -v systemd-analyze >/dev/null 2>&1; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 systemd
fi
# Mail conformance clients and the Postfix + Dovecot reference (shared/conformance/mail/install-deps.sh).
MAIL_DEPS="$(dirname "$0")/../../shared/conformance/mail/install-deps.sh"
missing=0
for bin in swaks mbsync openssl smtp-source smtp-sink dovecot postfix; do command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing=1; done
if [ "$missing" = 1 ] && [ -f "$MAIL_DEPS" ]; then bash "$MAIL_DEPS"; fi

# Calendars and contacts (issue 13): the python3-caldav and vdirsyncer clients the conformance run and
# tests drive, and the Radicale, Xandikos and Cyrus references of `npm run bench caldav` (the Xandikos
# anchor's auth wrapper imports bcrypt; fast-seed.py loads Radicale with requests).
caldav=()
for pkg in python3-caldav vdirsyncer python3-radicale xandikos python3-bcrypt python3-requests cyrus-imapd cyrus-caldav cyrus-admin sasl2-bin; do
  dpkg -s "$pkg" >/dev/null 2>&1 || caldav+=("$pkg")
done
if [ ${#caldav[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${caldav[@]}"
fi
# Debian's cyrus-imapd starts a system instance on the standard ports; tests and benches run their own.
if [ -f /run/cyrus-master.pid ]; then kill "$(cat /run/cyrus-master.pid)" 2>/dev/null || true; fi

# cyrus-imapd and dovecot-imapd both provide imap-server and conflict: installing Cyrus removes
# Dovecot's IMAP daemon, which the anchor and `palabre migrate mail`'s tests need. Keep an unpacked
# copy of dovecot-imapd beside it (Dovecot is pointed at it with `service imap { executable }`).
if [ ! -x /usr/lib/dovecot/imap ] && [ ! -x /opt/dovecot-imapd/usr/lib/dovecot/imap ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download dovecot-imapd >/dev/null 2>&1) && mkdir -p /opt/dovecot-imapd && dpkg-deb -x "$tmp"/dovecot-imapd_*.deb /opt/dovecot-imapd
  rm -rf "$tmp"
fi
# The shared anchor (../shared/conformance/mail/anchor, used by `npm run bench mail-*`) runs Dovecot
# with its default paths: link the unpacked daemon and plugins there (files dpkg does not own).
if [ -d /opt/dovecot-imapd/usr/lib/dovecot ] && [ -d /usr/lib/dovecot ]; then
  (cd /opt/dovecot-imapd/usr/lib/dovecot && find . -type f) | while read -r f; do
    [ -e "/usr/lib/dovecot/$f" ] || { mkdir -p "$(dirname "/usr/lib/dovecot/$f")"; ln -s "/opt/dovecot-imapd/usr/lib/dovecot/$f" "/usr/lib/dovecot/$f"; }
  done
fi

# Mail protection (issue 14): rspamd and ClamAV's clamd, started by the tests on loopback with their
# own configuration in a temp folder (no signature download here: tests build a database of their own).
# redis-server: rspamd only recommends it (skipped here), yet its Bayes learning has no other backend;
# the tests start one of their own beside each rspamd.
protect=()
for pkg in rspamd redis-server clamav-daemon clamav sieve-connect; do dpkg -s "$pkg" >/dev/null 2>&1 || protect+=("$pkg"); done
if [ ${#protect[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${protect[@]}"
fi
# Debian starts system instances (rspamd on 11333/11334, clamd, freshclam); tests run their own.
for svc in rspamd clamav-daemon clamav-freshclam; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done
for pidfile in /run/rspamd/rspamd.pid /run/clamav/clamd.pid /run/clamav/freshclam.pid; do
  if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
done

# S3 blob store (issue 15): OpenStack Swift with its s3api middleware (in python3-swift since Swift
# 2.18), started by the tests as one node on loopback from a temp folder (rings, servers and proxy of
# their own); Debian starts no system instance without rings.
objstore=()
for pkg in swift swift-proxy swift-object swift-container swift-account; do dpkg -s "$pkg" >/dev/null 2>&1 || objstore+=("$pkg"); done
if [ ${#objstore[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${objstore[@]}"
fi

# SMTP DANE (issue 14 §6): unbound as the validating resolver, NSD as the authoritative server and
# ldnsutils to sign the zones, started by the tests on loopback from a temp folder (no root, no network).
dane=()
for pkg in unbound nsd ldnsutils; do dpkg -s "$pkg" >/dev/null 2>&1 || dane+=("$pkg"); done
if [ ${#dane[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${dane[@]}"
fi
# Debian starts system instances of both where it may (port 53); the tests run their own.
for pidfile in /run/unbound.pid /run/nsd/nsd.pid /var/run/unbound.pid /var/run/nsd/nsd.pid; do
  if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
done
