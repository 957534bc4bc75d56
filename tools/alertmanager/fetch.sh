#!/usr/bin/env bash
# Fetch Alertmanager and amtool into tools/alertmanager/bin/, pinned to Debian bookworm's
# prometheus-alertmanager package. Idempotent: does nothing when the pinned version is there.
# Needs apt-get (a Debian or Ubuntu host with the bookworm archive in its sources), no root:
# `apt-get download` and `dpkg-deb -x` work as any user.
#
#   tools/alertmanager/fetch.sh        # then: tools/alertmanager/bin/amtool --version
#
# tests/runbooks/test_alert_routing.py uses them (`amtool check-config`, `amtool config routes
# test`, and a real Alertmanager on 127.0.0.1 that decides inhibitions); with REQUIRE_ALL_TOOLS=1
# (make test) they fail without it, otherwise they skip and say to run this. The cluster runs the
# version kube-prometheus-stack pins (v0.29.0); every config field the stack writes exists since 0.25.
set -euo pipefail

VERSION="0.25.0-1+b4"   # Debian bookworm; Alertmanager 0.25.0
UPSTREAM_VERSION="0.25.0"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$HERE/bin"

# Debian's build reads its default notification templates from this absolute path (a packaging
# patch; no flag moves it), so they are installed there too: the one file outside the repository.
TEMPLATES="/usr/share/prometheus/alertmanager"

if [[ -x "$BIN/amtool" && -x "$BIN/alertmanager" && -f "$TEMPLATES/default.tmpl" ]] && "$BIN/amtool" --version 2>&1 | grep -q "version $UPSTREAM_VERSION"; then
  exit 0
fi

command -v apt-get >/dev/null || { echo "fetch.sh: apt-get not found; install Alertmanager $UPSTREAM_VERSION (alertmanager, amtool) in $BIN by hand" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && apt-get download -q "prometheus-alertmanager=$VERSION" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
DEB="$(ls "$WORK"/prometheus-alertmanager_*.deb 2>/dev/null | head -1)"
if [[ -z "$DEB" ]]; then
  # A fresh machine may have empty package lists: read them into a private state directory.
  mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial"
  APT_PRIVATE=(-q -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o Debug::NoLocking=1)
  apt-get "${APT_PRIVATE[@]}" update >/dev/null
  (cd "$WORK" && apt-get "${APT_PRIVATE[@]}" download "prometheus-alertmanager=$VERSION" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
  DEB="$(ls "$WORK"/prometheus-alertmanager_*.deb 2>/dev/null | head -1)"
fi
[[ -n "$DEB" ]] || { echo "fetch.sh: apt-get download prometheus-alertmanager=$VERSION failed (is the bookworm archive in the apt sources?)" >&2; exit 1; }
dpkg-deb -x "$DEB" "$WORK/root"
mkdir -p "$BIN"
install -m 0755 "$WORK/root/usr/bin/prometheus-alertmanager" "$BIN/alertmanager.tmp"
install -m 0755 "$WORK/root/usr/bin/amtool" "$BIN/amtool.tmp"
mkdir -p "$TEMPLATES" 2>/dev/null && cp "$WORK/root$TEMPLATES/default.tmpl" "$WORK/root$TEMPLATES/email.tmpl" "$TEMPLATES/" \
  || { echo "fetch.sh: cannot write $TEMPLATES (Debian's alertmanager reads default.tmpl there); run as root once" >&2; exit 1; }
mv "$BIN/alertmanager.tmp" "$BIN/alertmanager"
mv "$BIN/amtool.tmp" "$BIN/amtool"
"$BIN/amtool" --version 2>&1 | grep -q "version $UPSTREAM_VERSION" || { echo "fetch.sh: $BIN/amtool is not amtool $UPSTREAM_VERSION" >&2; exit 1; }
echo "alertmanager and amtool $UPSTREAM_VERSION -> $BIN"
