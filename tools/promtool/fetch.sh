#!/usr/bin/env bash
# Fetch promtool (Prometheus rule checker and unit-test runner) into tools/promtool/bin/promtool,
# and the Prometheus server from the same package into tools/promtool/bin/prometheus (the cost
# governor's tests query a real one), pinned to Debian bookworm's prometheus package. Idempotent: does nothing when the pinned
# version is already there. Needs apt-get (a Debian or Ubuntu host with the bookworm archive in
# its sources), no root: `apt-get download` and `dpkg-deb -x` work as any user.
#
#   tools/promtool/fetch.sh            # then: tools/promtool/bin/promtool --version
#
# The tests in tests/runbooks/ use it (`promtool check rules`, `promtool test rules`); with
# REQUIRE_ALL_TOOLS=1 (make test) they fail without it, otherwise they skip and say to run this.
set -euo pipefail

VERSION="2.42.0+ds-5+deb12u1"   # Debian bookworm; promtool 2.42.0
UPSTREAM_VERSION="2.42.0"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$HERE/bin"
PROMTOOL="$BIN/promtool"

PROMETHEUS="$BIN/prometheus"

if [[ -x "$PROMTOOL" && -x "$PROMETHEUS" ]] && "$PROMTOOL" --version 2>&1 | grep -q "version $UPSTREAM_VERSION" \
  && "$PROMETHEUS" --version 2>&1 | grep -q "version $UPSTREAM_VERSION"; then
  exit 0
fi

command -v apt-get >/dev/null || { echo "fetch.sh: apt-get not found; install promtool $UPSTREAM_VERSION at $PROMTOOL by hand" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# apt-get download writes into the current directory; a private directory keeps the package
# (and a half-downloaded file) out of the repository. _apt cannot write to mktemp's 0700
# directory and apt then downloads as the calling user, which is what we want.
(cd "$WORK" && apt-get download -q "prometheus=$VERSION" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
DEB="$(ls "$WORK"/prometheus_*.deb 2>/dev/null | head -1)"
if [[ -z "$DEB" ]]; then
  # A fresh machine may have empty package lists: read them into a private state directory
  # (no root, no change to the system's apt state) and try again.
  mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial"
  APT_PRIVATE=(-q -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o Debug::NoLocking=1)
  apt-get "${APT_PRIVATE[@]}" update >/dev/null
  (cd "$WORK" && apt-get "${APT_PRIVATE[@]}" download "prometheus=$VERSION" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
  DEB="$(ls "$WORK"/prometheus_*.deb 2>/dev/null | head -1)"
fi
[[ -n "$DEB" ]] || { echo "fetch.sh: apt-get download prometheus=$VERSION failed (is the bookworm archive in the apt sources? run apt-get update)" >&2; exit 1; }
dpkg-deb -x "$DEB" "$WORK/root"
mkdir -p "$BIN"
install -m 0755 "$WORK/root/usr/bin/promtool" "$PROMTOOL.tmp"
mv "$PROMTOOL.tmp" "$PROMTOOL"
install -m 0755 "$WORK/root/usr/bin/prometheus" "$PROMETHEUS.tmp"
mv "$PROMETHEUS.tmp" "$PROMETHEUS"
"$PROMETHEUS" --version 2>&1 | grep -q "version $UPSTREAM_VERSION" || { echo "fetch.sh: $PROMETHEUS is not prometheus $UPSTREAM_VERSION" >&2; exit 1; }
"$PROMTOOL" --version 2>&1 | grep -q "version $UPSTREAM_VERSION" || { echo "fetch.sh: $PROMTOOL is not promtool $UPSTREAM_VERSION" >&2; exit 1; }
echo "promtool and prometheus $UPSTREAM_VERSION -> $BIN"
