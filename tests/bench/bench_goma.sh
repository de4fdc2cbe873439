#!/usr/bin/env bash
# Runs bench_goma against a fresh `gomabarn serve` (view not mounted:
# in-process reads) and the local Buildbarn. usage: bench_goma.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-bench-goma-XXXXXX)
. "$REPO/tests/lib/gateway.sh"
trap 'gmb_stop_all; rm -rf "$WORK"' EXIT
gmb_conf "$WORK/serve.conf" 'http = { port = 0; };' "cache = { dir = \"$WORK/cache\"; };" 'log = { level = "info"; };'
gmb_serve "$WORK/serve.log" "$BUILD/bin/gomabarn" serve --config "$WORK/serve.conf"
ulimit -n 8192
"$BUILD/tests/bench/bench_goma" "$GMB_PORT" "$GMB_PID"
