#!/usr/bin/env bash
# Runs bench_goma against a fresh `gomabarn serve` (view not mounted:
# in-process reads) and the local Buildbarn. usage: bench_goma.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-bench-goma-XXXXXX)
IMAGE=$(sed -n 's/^ *container_image = "\(.*\)";/\1/p' "$REPO/config/gomabarn.conf.example")
printf 'http = { port = 0; };\ncache = { dir = "%s/cache"; };\nplatform = { container_image = "%s"; };\nlog = { level = "info"; };\n' \
    "$WORK" "$IMAGE" >"$WORK/serve.conf"
"$BUILD/bin/gomabarn" serve --config "$WORK/serve.conf" 2>"$WORK/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.log" | head -1)
ulimit -n 8192
"$BUILD/tests/bench/bench_goma" "$PORT" "$PID"
