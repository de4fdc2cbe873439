#!/usr/bin/env bash
# One real project built three ways in one run (issue 18, point 4): zlib
# from Debian's source package, configured as debian/rules does, built with
# `make -jN all` (its compiles, plus links and ar, which stay local in every
# mode):
#   local        plain gcc
#   gomabarn-cc  CC="gomabarn-cc gcc" (GOMABARN_FALLBACK=0, GOMABARN_RACE=0)
#   gomacc       CC="gomacc gcc", Google's goma client (compiler_proxy with
#                GOMA_USE_LOCAL=false GOMA_FALLBACK=false)
# each with plain and toolchain_included requests (GOMABARN_TOOLCHAIN_INCLUDED=1,
# GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=true), on each instance name, cold and
# warm, each cell GMB_BENCH_RUNS times. Prints every build (time, the
# client's own remote/local counts, the gateway's Exec counts, objects equal
# to the local build's), then medians and ratios to local.
#
#   cold: a new per-build -D salt in CFLAGS (so every action digest is new:
#         Buildbarn's action cache cannot be wiped on a shared cluster), a new
#         gateway with an empty cache.dir, and for gomacc a new compiler_proxy
#         with an empty GOMA_CACHE_DIR. Input files may still be in
#         Buildbarn's CAS from earlier builds (goma.share_through_buildbarn
#         finds them there), as on any cluster that has seen the sources.
#   warm: `make clean` and the same build again, same gateway and proxy:
#         every compile an action-cache hit.
#
# usage: bench_goma_client.sh BUILD_DIR [INSTANCE...]   (default: hardlinking fuse)
# Settings: GMB_BENCH_RUNS (3), GMB_BENCH_JOBS (make -j, 8), GMB_BENCH_CLIENTS
# ("gomabarn-cc gomacc"), GMB_BENCH_KINDS ("plain toolchain"), GMB_BENCH_KEEP=1
# (keep the work directory), GMB_BENCH_NO_DEBUG=1 (drop -g from Debian's
# flags, for a gateway older than 6611cfa, whose workers recorded their own
# build directory in the debug info). Every build runs in the same directory
# (the tree a build left is replaced): with -g a compile records its
# directory, so objects can equal the local build's only at the same path.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
shift
INSTANCES=("$@")
[ ${#INSTANCES[@]} -gt 0 ] || INSTANCES=(hardlinking fuse)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${GMB_BENCH_RUNS:-3}
JOBS=${GMB_BENCH_JOBS:-8}
read -r -a CLIENTS <<<"${GMB_BENCH_CLIENTS:-gomabarn-cc gomacc}"
read -r -a KINDS <<<"${GMB_BENCH_KINDS:-plain toolchain}"
CACHE_ROOT=${GOMABARN_CACHE:-/var/cache/gomabarn}
. "$REPO/tests/lib/gateway.sh"
. "$REPO/tests/lib/goma_client.sh"
. "$REPO/tests/lib/debian_src.sh"
GMB_WAIT_SECONDS=60   # a loaded machine
WORK=$(mktemp -d /tmp/gomabarn-bench-gc-XXXXXX)
mkdir -p "$WORK/logs" "$WORK/gw"
RESULTS=$WORK/results   # MODE INSTANCE PHASE RUN SECONDS OK SAME TOTAL
FAILED=0
GW_DIR=

stop_gateway() {
    [ -n "$GW_DIR" ] || return 0
    gmb_stop "$GMB_PID" >/dev/null || true
    if mountpoint -q "$GW_DIR/mnt" 2>/dev/null; then
        fusermount3 -u "$GW_DIR/mnt" 2>/dev/null || umount -l "$GW_DIR/mnt" 2>/dev/null || true
    fi
    rm -rf "$GW_DIR/cache"
    GW_DIR=
}
cleanup() {
    gmc_stop_proxy "$WORK/logs/proxy-stop.log"
    stop_gateway
    gmb_stop_all
    if [ "$FAILED" = 0 ] && [ "${GMB_BENCH_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
}
trap cleanup EXIT

# ---- the client, the project -------------------------------------------------
gmc_lock "$CACHE_ROOT"
if [[ " ${CLIENTS[*]} " == *" gomacc "* ]]; then
    gmc_build "$REPO" "$CACHE_ROOT" "$WORK/logs/goma-client-build.log"
fi
SRC=$(gmb_debian_src zlib "$CACHE_ROOT" 2>"$WORK/logs/zlib-fetch.log") || {
    echo "error: apt-get source zlib failed: $(tail -n 3 "$WORK/logs/zlib-fetch.log")" >&2
    exit 1
}
gmc_unlock
TREE=$WORK/zlib          # where every build runs
TEMPLATE=$WORK/template  # the configured tree, copied to TREE before each cold build
cp -a "$SRC" "$TREE"
# Configured where it builds: dpkg-buildflags maps that directory to "."
# (-ffile-prefix-map), as in a Debian build.
gmb_zlib_configure "$TREE" "$WORK/logs/configure.log" "-DGOMABARN_BENCH_SALT=0" || {
    echo "error: zlib's configure failed; see $WORK/logs/configure.log" >&2
    exit 1
}
if [ "${GMB_BENCH_NO_DEBUG:-0}" = 1 ]; then
    sed -i -E 's/^((C|S)FLAGS=.*) -g( |$)/\1\3/; s/^((C|S)FLAGS=)-g /\1/' "$TREE/Makefile"
    if grep -qE '^(C|S)FLAGS=(.* )?-g( |$)' "$TREE/Makefile"; then
        echo "error: could not drop -g from $TREE/Makefile" >&2
        exit 1
    fi
fi
mv "$TREE" "$TEMPLATE"
N_COMPILES=$( (cd "$TEMPLATE" && make -n -B all) | grep -c -- ' -c ')
FLAGS=$(sed -n 's/^CFLAGS=//p' "$TEMPLATE/Makefile")

# compiler_proxy needs one to skip Google's OAuth; auth.mode none ignores it.
echo "Bearer bench" >"$WORK/authorization"
gmc_env "$WORK/client" "$WORK/authorization"

# ---- one build -----------------------------------------------------------------
metric() {
    curl -fsS --max-time 10 "http://127.0.0.1:$GMB_PORT/metrics" 2>/dev/null |
        awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }'
}
gw_counts() {
    echo "$(metric 'gomabarn_exec_requests_total{outcome="done"}') $(metric gomabarn_exec_cache_hits_total)" \
        "$(metric gomabarn_exec_missing_input_rounds_total)"
}

# fresh_tree DIR: the configured template with a new salt (new action digests).
fresh_tree() {
    rm -rf "$1"
    cp -a "$TEMPLATE" "$1"
    local salt
    salt=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    sed -i "s/-DGOMABARN_BENCH_SALT=[0-9a-fx]*/-DGOMABARN_BENCH_SALT=0x$salt/g" "$1/Makefile"
}

# same_objects DIR: "EQUAL/TOTAL" objects of DIR byte-identical to the reference build's.
same_objects() {
    local f n=0 same=0
    for f in "$WORK/reference"/*.o "$WORK/reference"/*.lo; do
        n=$((n + 1))
        cmp -s "$f" "$1/${f##*/}" && same=$((same + 1))
    done
    echo "$same/$n"
}

# build MODE INSTANCE PHASE RUN DIR CC [VAR=VALUE...]: times `make -jN all`,
# prints one line and appends to RESULTS.
build() {
    local mode=$1 inst=$2 phase=$3 run=$4 dir=$5 cc=$6
    shift 6
    local log=$WORK/logs/$mode-$inst-$phase-$run.log client gw=
    if [ "$phase" = warm ]; then (cd "$dir" && make clean) >/dev/null 2>&1; fi
    local before_gw after_gw before_st=$WORK/logs/stat.before after_st=$WORK/logs/stat.after
    [ "$mode" = local ] || before_gw=$(gw_counts)
    [[ "$mode" != gomacc* ]] || gmc_stat "$before_st"
    local t0 t1 rc=0
    t0=$(date +%s%N)
    (cd "$dir" && env "$@" timeout 1200 make -j"$JOBS" all CC="$cc") >"$log" 2>&1 || rc=$?
    t1=$(date +%s%N)
    local secs same
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
    same=$(same_objects "$dir")
    case $mode in
    local) client="$(grep -c -- ' -c ' "$log" || true) compiles" ;;
    gomabarn-cc*)
        client="client: remote $(grep -c 'compiled on the gateway' "$log" || true)"
        client="$client (cache hits $(grep -c 'compiled on the gateway, from the cache' "$log" || true)),"
        client="$client local $(grep -c 'locally' "$log" || true)" ;;
    gomacc*)
        gmc_stat "$after_st"
        client="client stat: remote $(gmc_delta "$before_st" "$after_st" goma finished)"
        client="$client (cache hits $(gmc_delta "$before_st" "$after_st" goma cache_hit)),"
        client="$client local $(gmc_delta "$before_st" "$after_st" local run),"
        client="$client failures $(gmc_delta "$before_st" "$after_st" request failure)" ;;
    esac
    if [ "$mode" != local ]; then
        after_gw=$(gw_counts)
        local a b
        read -r -a a <<<"$before_gw"
        read -r -a b <<<"$after_gw"
        gw="; gateway: $((b[0] - a[0])) Exec done, $((b[1] - a[1])) action-cache hits, $((b[2] - a[2])) missing-input rounds"
    fi
    local ok=1
    [ "$rc" = 0 ] && [ "${same%/*}" = "${same#*/}" ] || { ok=0; FAILED=1; }
    printf '  %-24s %-11s %-4s run %s: %7s s, exit %s; %s%s; objects equal to local: %s\n' \
        "$mode" "$inst" "$phase" "$run" "$secs" "$rc" "$client" "$gw" "$same"
    [ "$rc" = 0 ] || sed -n '1,200p' "$log" | grep -m 5 -iE 'error|fatal|gomabarn-cc:|goma' | sed 's/^/     | /'
    echo "$mode $inst $phase $run $secs $ok $same" >>"$RESULTS"
}

start_gateway() { # INSTANCE NAME
    GW_DIR=$WORK/gw/$2
    mkdir -p "$GW_DIR"
    gmb_conf "$GW_DIR/serve.conf" "buildbarn = { instance_name = \"$1\"; };" 'http = { port = 0; };' \
        "cache = { dir = \"$GW_DIR/cache\"; };" "mount = { enabled = true; path = \"$GW_DIR/mnt\"; };"
    gmb_serve "$GW_DIR/serve.log" "$BUILD/bin/gomabarn" serve --config "$GW_DIR/serve.conf"
}

# cell CLIENT KIND INSTANCE RUN: a cold build and a warm one.
cell() {
    local client=$1 kind=$2 inst=$3 run=$4 mode="$1 $2"
    local dir=$TREE
    mode=${mode// /-}
    fresh_tree "$dir"
    start_gateway "$inst" "$mode-$inst-$run"
    local env=() cc
    if [ "$client" = gomacc ]; then
        export GOMA_CACHE_DIR=$WORK/client/goma-cache.$mode-$inst-$run
        mkdir -p "$GOMA_CACHE_DIR"
        if ! gmc_start_proxy "$GMB_PORT" "$kind" "$WORK/logs/proxy-$mode-$inst-$run.start" >"$WORK/logs/proxy.out"; then
            cat "$WORK/logs/proxy.out"
            FAILED=1
            stop_gateway
            return 0
        fi
        cc="$GMC_BIN/gomacc gcc"
    else
        local tc=0
        [ "$kind" = toolchain ] && tc=1
        env=(GOMABARN_SERVER="127.0.0.1:$GMB_PORT" GOMABARN_FALLBACK=0 GOMABARN_RACE=0 GOMABARN_VERBOSE=1
             GOMABARN_TOOLCHAIN_INCLUDED=$tc)
        cc="$BUILD/bin/gomabarn-cc gcc"
    fi
    build "$mode" "$inst" cold "$run" "$dir" "$cc" "${env[@]}"
    build "$mode" "$inst" warm "$run" "$dir" "$cc" "${env[@]}"
    [ "$client" != gomacc ] || gmc_stop_proxy "$WORK/logs/proxy-stop.log"
    stop_gateway
}

# ---- the runs ------------------------------------------------------------------
echo "== zlib $(basename "$SRC") (Debian source package), make -j$JOBS all: $N_COMPILES compiles + links/ar (local in every mode)"
echo "   nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; Buildbarn's workers share this"
echo "   machine; $RUNS runs per cell, medians; CFLAGS: $FLAGS"
echo "   cold = new -D salt in CFLAGS (new action digests), new gateway (empty cache.dir), for gomacc a new compiler_proxy"
echo "          (empty GOMA_CACHE_DIR); inputs may be in Buildbarn's CAS already. warm = make clean, the same build again."
# The reference objects (a local build, which also warms the page cache).
fresh_tree "$TREE"
(cd "$TREE" && make -j"$JOBS" all) >"$WORK/logs/reference.log" 2>&1 || {
    echo "error: the local reference build failed; see $WORK/logs/reference.log" >&2
    exit 1
}
mkdir -p "$WORK/reference"
cp "$TREE"/*.o "$TREE"/*.lo "$WORK/reference/"
: >"$RESULTS"
for ((run = 1; run <= RUNS; run++)); do
    echo "-- run $run of $RUNS"
    fresh_tree "$TREE"
    build local - cold "$run" "$TREE" gcc
    build local - warm "$run" "$TREE" gcc
    for inst in "${INSTANCES[@]}"; do
        for client in "${CLIENTS[@]}"; do
            for kind in "${KINDS[@]}"; do cell "$client" "$kind" "$inst" "$run"; done
        done
    done
done

# ---- the table -------------------------------------------------------------------
# stats MODE INSTANCE PHASE (a regex): "MEDIAN MIN MAX" of the good builds, "- - -" if none.
stats() {
    awk -v m="$1" -v i="$2" -v p="^($3)$" '$1 == m && $2 == i && $3 ~ p && $6 == 1 { print $5 }' "$RESULTS" |
        sort -n | awk '{ v[NR] = $1 }
            END { if (NR == 0) { print "- - -"; exit }
                  med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                  printf "%.2f %.2f %.2f\n", med, v[1], v[NR] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
builds() { # MODE INSTANCE: "OK/ALL builds ok"
    awk -v m="$1" -v i="$2" '$1 == m && $2 == i { n++; ok += $6 } END { printf "%d/%d", ok, n }' "$RESULTS"
}
row() { # LABEL INSTANCE MODE: medians, ranges and ratios to local
    local c w
    read -r -a c <<<"$(stats "$3" "$2" cold)"
    read -r -a w <<<"$(stats "$3" "$2" warm)"
    printf '%-22s %-12s %7s %-13s %7s %-13s %10s %10s %9s\n' "$1" "$2" "${c[0]}" "(${c[1]}-${c[2]})" "${w[0]}" \
        "(${w[1]}-${w[2]})" "$(ratio "${c[0]}" "$L")" "$(ratio "${w[0]}" "$L")" "$(builds "$3" "$2")"
}
# Local builds have no cache: both of a run's builds do the same work, so
# the ratios divide by the median of all of them.
L=$(stats local - 'cold|warm' | cut -d' ' -f1)
echo
echo "== zlib, make -j$JOBS all, nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end;"
echo "   seconds, median of $RUNS (min-max); ratio = median / local ($L s, the median of all $((2 * RUNS)) local"
echo "   builds); builds ok = exit 0 and every object equal to the local build's"
printf '%-22s %-12s %-21s %-21s %10s %10s %9s\n' mode instance "   cold (min-max)" "   warm (min-max)" cold/local \
    warm/local "builds ok"
row "local gcc" - local
for inst in "${INSTANCES[@]}"; do
    for client in "${CLIENTS[@]}"; do
        for kind in "${KINDS[@]}"; do row "$client-$kind" "$inst" "$client-$kind"; done
    done
done
# The two clients side by side, when both ran.
if [ ${#CLIENTS[@]} -eq 2 ]; then
    echo
    echo "${CLIENTS[0]} / ${CLIENTS[1]} (medians): cold, warm"
    for inst in "${INSTANCES[@]}"; do
        for kind in "${KINDS[@]}"; do
            a=$(stats "${CLIENTS[0]}-$kind" "$inst" cold | cut -d' ' -f1)
            b=$(stats "${CLIENTS[1]}-$kind" "$inst" cold | cut -d' ' -f1)
            c=$(stats "${CLIENTS[0]}-$kind" "$inst" warm | cut -d' ' -f1)
            d=$(stats "${CLIENTS[1]}-$kind" "$inst" warm | cut -d' ' -f1)
            printf '  %-10s %-12s %6s %6s\n' "$kind" "$inst" "$(ratio "$a" "$b")" "$(ratio "$c" "$d")"
        done
    done
fi
if [ "$FAILED" != 0 ]; then
    echo "some builds failed or gave objects different from local (see the lines above)"
    exit 1
fi
