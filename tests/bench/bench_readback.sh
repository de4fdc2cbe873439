#!/usr/bin/env bash
# Starts two `gomabarn serve` on the local Buildbarn, one reading outputs
# back through its mounted view and one in-process, and runs
# bench_readback against both. usage: bench_readback.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-bench-readback-XXXXXX)
IMAGE=$(sed -n 's/^ *container_image = "\(.*\)";/\1/p' "$REPO/config/gomabarn.conf.example")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    fusermount3 -u "$WORK/mnt" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME EXTRA_CONFIG: echoes the port.
start() {
    printf 'http = { port = 0; max_body_bytes = 67108864; };\ncache = { dir = "%s/cache-%s"; };\nplatform = { container_image = "%s"; };\n%s\n' \
        "$WORK" "$1" "$IMAGE" "$2" >"$WORK/$1.conf"
    "$BUILD/bin/gomabarn" serve --config "$WORK/$1.conf" 2>"$WORK/$1.log" &
    PIDS+=($!)
    for _ in $(seq 50); do grep -q "listening on" "$WORK/$1.log" 2>/dev/null && break; sleep 0.1; done
}
start view "mount = { enabled = true; path = \"$WORK/mnt\"; };"
start inproc ""
port() { sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/$1.log" | head -1; }
grep -q "mounted the CAS view" "$WORK/view.log" || { echo "the view gateway did not mount" >&2; exit 1; }
"$BUILD/tests/bench/bench_readback" "$(port view)" "$(port inproc)"
