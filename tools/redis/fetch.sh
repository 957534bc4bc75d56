#!/usr/bin/env bash
# Fetch redis-server into tools/redis/bin/redis-server, pinned to Debian bookworm's redis-tools
# package (the server binary is redis-tools' multi-call binary, named redis-server) with the two
# libraries it needs, extracted without root: `apt-get download` and `dpkg-deb -x` work as any
# user. Idempotent: does nothing when the pinned version is there.
#
#   tools/redis/fetch.sh               # then: tools/redis/bin/redis-server --version
#
# The gateway's shared-store tests (tests/serving/gateway/test_shared_store.py) run it on
# 127.0.0.1; with REQUIRE_ALL_TOOLS=1 (make test) they fail without it.
set -euo pipefail

PACKAGES=("redis-tools=5:7.0.15-1~deb12u7" "libjemalloc2=5.3.0-1" "liblzf1=3.6-3")
UPSTREAM_VERSION="7.0.15"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$HERE/bin"
ROOT="$HERE/root"

if [[ -x "$BIN/redis-server" ]] && "$BIN/redis-server" --version 2>&1 | grep -q "v=$UPSTREAM_VERSION"; then
  exit 0
fi

command -v apt-get >/dev/null || { echo "fetch.sh: apt-get not found; install redis-server $UPSTREAM_VERSION at $BIN/redis-server by hand" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
download() { (cd "$WORK" && apt-get "$@" download -q "${PACKAGES[@]}" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true); }
download
if [[ "$(ls "$WORK"/*.deb 2>/dev/null | wc -l)" -lt ${#PACKAGES[@]} ]]; then
  # A fresh machine may have empty package lists: read them into a private state directory.
  mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial"
  PRIVATE=(-q -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o Debug::NoLocking=1)
  apt-get "${PRIVATE[@]}" update >/dev/null
  download "${PRIVATE[@]}"
fi
[[ "$(ls "$WORK"/*.deb 2>/dev/null | wc -l)" -ge ${#PACKAGES[@]} ]] || { echo "fetch.sh: apt-get download ${PACKAGES[*]} failed (is the bookworm archive in the apt sources?)" >&2; exit 1; }
rm -rf "$ROOT.tmp" && mkdir -p "$ROOT.tmp"
for deb in "$WORK"/*.deb; do dpkg-deb -x "$deb" "$ROOT.tmp"; done
ln -sf redis-check-rdb "$ROOT.tmp/usr/bin/redis-server"   # argv[0] selects the server (as Debian's redis-server package does)
rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
mkdir -p "$BIN"
cat > "$BIN/redis-server.tmp" <<WRAPPER
#!/usr/bin/env bash
# redis-server from Debian's redis-tools, with its libraries from tools/redis/root (tools/redis/fetch.sh).
HERE="\$(cd "\$(dirname "\${BASH_SOURCE[0]}")/.." && pwd)"
export LD_LIBRARY_PATH="\$HERE/root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec "\$HERE/root/usr/bin/redis-server" "\$@"
WRAPPER
chmod 0755 "$BIN/redis-server.tmp" && mv "$BIN/redis-server.tmp" "$BIN/redis-server"
"$BIN/redis-server" --version 2>&1 | grep -q "v=$UPSTREAM_VERSION" || { echo "fetch.sh: $BIN/redis-server is not redis $UPSTREAM_VERSION" >&2; exit 1; }
echo "redis-server $UPSTREAM_VERSION -> $BIN"
