#!/usr/bin/env bash
# toolchain_included cache hits (issue 13): the same compile, shipping gcc's
# driver, cc1 (33 MB) and as with every request, repeated so that every
# Exec after the first is an action-cache hit. Prints the median wall time
# of one hit and the gateway's peak RSS. gomabarn-cc hashes the toolchain
# on every compile too (its cost is in both figures alike), so compare two
# gateways within one run: bench_toolchain_hits.sh BUILD_DIR [OTHER_GOMABARN]
set -euo pipefail
BUILD=$(cd "$1" && pwd)
OTHER=${2:-}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${GMB_BENCH_RUNS:-15}
WORK=$(mktemp -d /tmp/gomabarn-bench-tc-XXXXXX)
. "$REPO/tests/lib/gateway.sh"
trap 'gmb_stop_all; rm -rf "$WORK"' EXIT
printf '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n' >"$WORK/hello.c"

bench() { # NAME GOMABARN
    local name=$1 bin=$2
    gmb_conf "$WORK/$name.conf" 'http = { port = 0; };' "cache = { dir = \"$WORK/$name-cache\"; };" \
        'log = { level = "info"; };'
    gmb_serve "$WORK/$name.log" "$bin" serve --config "$WORK/$name.conf"
    local times=()
    for ((i = 0; i <= RUNS; i++)); do
        local t0 t1
        t0=$(date +%s%N)
        (cd "$WORK" && GOMABARN_SERVER=127.0.0.1:$GMB_PORT GOMABARN_FALLBACK=0 GOMABARN_TOOLCHAIN_INCLUDED=1 \
            "$BUILD/bin/gomabarn-cc" gcc -c hello.c -o hello.o)
        t1=$(date +%s%N)
        [ $i -eq 0 ] || times+=($(((t1 - t0) / 1000000)))  # the first one is the miss
    done
    local median rss
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((${#times[@]} + 1) / 2))p")
    rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$GMB_PID/status")
    echo "$name: toolchain_included hit, median of $RUNS: $median ms; gateway peak RSS $rss MiB"
    gmb_stop "$GMB_PID" >/dev/null || true
    eval "${name}_ms=$median ${name}_rss=$rss"
}

bench this "$BUILD/bin/gomabarn"
if [ -n "$OTHER" ]; then
    bench other "$OTHER"
    awk -v a="$this_ms" -v b="$other_ms" -v ra="$this_rss" -v rb="$other_rss" \
        'BEGIN { printf "ratio other/this: time %.2f, peak RSS %.2f\n", b / a, rb / ra }'
fi
