#!/usr/bin/env bash
# Starts two `gomabarn serve` on the local Buildbarn, one reading outputs
# back through its mounted view and one in-process, and runs
# bench_readback against both. usage: bench_readback.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-bench-readback-XXXXXX)
. "$REPO/tests/lib/mount.sh"
trap 'gmb_stop_all; gmb_unmount "$WORK/mnt"; rm -rf "$WORK"' EXIT

# start NAME EXTRA_CONFIG: a gateway with its own cache; sets GMB_PORT.
start() {
    gmb_conf "$WORK/$1.conf" 'http = { port = 0; max_body_bytes = 67108864; };' \
        "cache = { dir = \"$WORK/cache-$1\"; };" "$2"
    gmb_serve "$WORK/$1.log" "$BUILD/bin/gomabarn" serve --config "$WORK/$1.conf"
}
start view "mount = { enabled = true; path = \"$WORK/mnt\"; };"
VIEW_PORT=$GMB_PORT
start inproc ""
grep -q "mounted the CAS view" "$WORK/view.log" || { echo "the view gateway did not mount" >&2; exit 1; }
"$BUILD/tests/bench/bench_readback" "$VIEW_PORT" "$GMB_PORT"
