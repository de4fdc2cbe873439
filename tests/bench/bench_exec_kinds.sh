#!/usr/bin/env bash
# Runs bench_exec_kinds (plain vs toolchain_included Execs, keep-alive
# clients) against a fresh `gomabarn serve` (view not mounted) and the
# local Buildbarn, instance hardlinking. usage: bench_exec_kinds.sh BUILD_DIR
# To compare settings: BENCH_BUILDBARN adds settings to the buildbarn group
# (e.g. 'threads = 1;'), BENCH_CONF adds other groups (e.g. 'exec = { ... };').
# BENCH_PROFILE_KIND=plain|toolchain (and BENCH_PROFILE_S, BENCH_PROFILE_CLIENTS: 64) runs
# only that kind's hits, for a profiler attached to the gateway (the window is said on stderr).
# BENCH_COLD_N: cold misses each way in phase 5 (20; more to tell a change of a ms from noise).
# Exits 0 when the benchmark ran, whatever its targets say; on a failure
# to run, prints the gateway's warnings and the end of its log.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-bench-kinds-XXXXXX)
. "$REPO/tests/lib/gateway.sh"
trap 'gmb_stop_all; rm -rf "$WORK"' EXIT
"$REPO/tests/buildbarn/start.sh" >&2
gmb_conf "$WORK/serve.conf" 'http = { port = 0; };' "cache = { dir = \"$WORK/cache\"; };" \
    'log = { level = "info"; };' "buildbarn = { instance_name = \"hardlinking\"; ${BENCH_BUILDBARN:-} };" 'mount = { enabled = false; };' "${BENCH_CONF:-}"
gmb_serve "$WORK/serve.log" "$BUILD/bin/gomabarn" serve --config "$WORK/serve.conf"
ulimit -n 8192
rc=0
"$BUILD/tests/bench/bench_exec_kinds" "$GMB_PORT" "$GMB_PID" "$GMB_IMAGE" hardlinking || rc=$?
warnings=$(grep -c -E ' (WARN|ERROR) ' "$WORK/serve.log" || true)
echo "gateway log: $warnings warning/error lines"
if [ "$warnings" -gt 0 ] || [ "$rc" -ne 0 ]; then
    grep -E ' (WARN|ERROR) ' "$WORK/serve.log" | head -n 20 || true
    [ "$rc" -eq 0 ] || { echo "last lines of the gateway's log:"; tail -n 30 "$WORK/serve.log"; } >&2
fi
exit "$rc"
