#!/usr/bin/env bash
# The fault-injection suite (issue 16): a real build, Lua 5.4 from Debian's
# source package (34 compiles, `make -j8 CC="gomabarn-cc gcc"`), through
# gomabarn against a real Buildbarn, once without a fault and once per
# fault. One table line per fault: wall time, the fault-free time and
# their ratio, objects identical to a local build, compiles remote/local
# (gomabarn-cc's lines, with the gateway's /metrics in the notes), and
# PASS/FAIL against the issue's criterion. Exit 1 when a row fails.
#
#   fault_suite.sh GOMABARN GOMABARN_CC
#
# It kills and restarts Buildbarn's workers, so it runs a cluster of its
# own (tests/buildbarn with GOMABARN_BB_DIR=/tmp/gomabarn-bb-fault and
# GOMABARN_BB_PORT_OFFSET=100, or GOMABARN_FAULT_BB_DIR/_PORT_OFFSET),
# never the shared one, and stops it at the end. One suite at a time (they
# would share that cluster). Root: the disk-full row mounts a tmpfs.
# KEEP=1 keeps the work directory (each build's log under b/, each
# gateway's log); the cluster's logs stay in its data root.
# FAULT_ROWS="disk gateway-killed toolchain stalled worker-restarted
# worker-killed" (any of them) runs only those rows after the first two,
# which every run needs (the learned local times, the fault-free time).
#
# The settings are those docs/operations.md ("When things break")
# recommends: buildbarn.scheduler_target, exec.fallback_instance = "fuse",
# exec.max_queued_s = 5 (GOMABARN_FAULT_MAX_QUEUED_S); gomabarn-cc with its defaults (GOMABARN_RACE=auto).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
GOMABARN=$(realpath "$1")
CC_BIN=$(realpath "$2")
. "$REPO/tests/lib/gateway.sh"
. "$REPO/tests/lib/debian_src.sh"
. "$HERE/fault_lib.sh"

export GOMABARN_BB_DIR=${GOMABARN_FAULT_BB_DIR:-/tmp/gomabarn-bb-fault}
export GOMABARN_BB_PORT_OFFSET=${GOMABARN_FAULT_BB_PORT_OFFSET:-100}
BB=$GOMABARN_BB_DIR
BB_TARGET=127.0.0.1:$((8980 + GOMABARN_BB_PORT_OFFSET))
SCHEDULER_TARGET=127.0.0.1:$((8984 + GOMABARN_BB_PORT_OFFSET))
WORK=$(mktemp -d /tmp/gomabarn-fault-XXXXXX)
DISK=$WORK/disk
cleanup() {
    [ -n "${BUILD_PID:-}" ] && kill -KILL -- "-$BUILD_PID" 2>/dev/null
    [ -n "${STALLED:-}" ] && kill -CONT "$STALLED" 2>/dev/null
    gmb_stop_all
    umount "$DISK" 2>/dev/null
    "$REPO/tests/buildbarn/stop.sh" >/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
unset GOMABARN_RACE GOMABARN_DEADLINE GOMABARN_FALLBACK GOMABARN_INSTANCE GOMABARN_TOOLCHAIN_INCLUDED
export XDG_CACHE_HOME=$WORK/xdg GOMABARN_BUILD_ID=lua-fault-suite GOMABARN_VERBOSE=1
SUITE_T0=$SECONDS

# A fresh cluster of our own (a cluster left by an aborted run goes first).
"$REPO/tests/buildbarn/stop.sh" >/dev/null
"$REPO/tests/buildbarn/start.sh" || exit 1
grep -q "platformQueueWithNoWorkersTimeout: '900s'" "$REPO/tests/buildbarn/config/scheduler.jsonnet" ||
    { echo "FAIL the test cluster's platformQueueWithNoWorkersTimeout is not Buildbarn's reference 900 s"; exit 1; }

LUA=$(gmb_debian_orig lua5.4) || exit 1
echo "suite: Lua from $LUA; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# The objects every build must produce: a plain local build.
cp -r "$LUA" ref
t=$EPOCHREALTIME
(cd ref/src && make -j8 generic CC="gcc -std=gnu99" MYCFLAGS=-DGOMABARN_FAULT_RUN=0) >ref.log 2>&1 ||
    { echo "FAIL the local reference build failed; see ref.log"; tail ref.log; exit 1; }
LOCAL_S=$(secs_since "$t")
N_OBJ=$(ls ref/src/*.o | wc -l)
echo "suite: local build (plain gcc, make -j8): $LOCAL_S s, $N_OBJ objects"

# The gateway as a user with a second pool would run it: an action that
# waits for a worker longer than a few times what a healthy build's
# actions wait (here up to ~3 s: make -j8 on 4 slots) goes to the other pool.
MAX_QUEUED_S=${GOMABARN_FAULT_MAX_QUEUED_S:-5}
gw_conf() { # FILE CACHE_DIR PORT
    gmb_conf "$1" "http = { port = $3; };" \
        "buildbarn = { target = \"$BB_TARGET\"; scheduler_target = \"$SCHEDULER_TARGET\"; instance_name = \"hardlinking\"; };" \
        "exec = { max_queued_s = $MAX_QUEUED_S; fallback_instance = \"fuse\"; };" \
        "cache = { dir = \"$2\"; ${CACHE_EXTRA:-} };"
}
gw_start() { # NAME [PORT]: a gateway, its own cache directory; sets GW_PID, GW_PORT
    gw_conf "$1.conf" "${CACHE_DIR:-$WORK/$1.cache}" "${2:-0}"
    gmb_serve "$1.log" "$GOMABARN" serve --config "$1.conf" || exit 1
    GW_PID=$GMB_PID GW_PORT=$GMB_PORT
    export GOMABARN_SERVER=127.0.0.1:$GW_PORT
}
gw_stop() { gmb_stop "$GW_PID" TERM 20 || true; }
want() { [ -z "${FAULT_ROWS:-}" ] || [[ " $FAULT_ROWS " == *" $1 "* ]]; } # ROW: in FAULT_ROWS
ratio_below() { [ "$(echo "$WALL_S <= $1 * $2" | bc)" = 1 ]; } # LIMIT BASE_S
kill_group() { kill -KILL -- "-$(cat "$BB/pids/$1.pid")" 2>/dev/null; } # a cluster process, whole
exec_done() { metric 'gomabarn_exec_requests_total\{outcome="done"\}'; }
rounds() { metric 'gomabarn_exec_requests_total\{outcome="missing"\}'; }
fallbacks() { metric gomabarn_exec_fallbacks_total; }
reset_cluster() { "$REPO/tests/buildbarn/stop.sh" >/dev/null && "$REPO/tests/buildbarn/start.sh" >/dev/null || exit 1; }
race_delay() { # the learned delay the build's compiles raced after
    sed -n 's/.* after \([0-9.]* s\) (learned from.*/\1/p' "$BUILD_LOG" | sort -n | sed -n '1p;$p' | paste -sd- -
}
gateway_notes() {
    NOTES="gateway: $(exec_done) done, $(rounds) missing-input rounds, $(fallbacks) fallbacks ($(metric gomabarn_exec_fallbacks_skipped_total) not made: the client had left), $(metric gomabarn_buildbarn_queue_timeouts_total) queue timeouts; $RACES_N races won locally (after $(race_delay))${1:+; $1}"
}

# 1. No gateway at all (nothing listens): every compile local, each with
# its reason. gomabarn-cc learns this build's local compile times here,
# as it would from any earlier local compile; its race delay comes from
# them. Every later row starts from what was learned here (a row's own
# local compiles would otherwise change the next row's delay).
export GOMABARN_SERVER=127.0.0.1:$(free_port)
build unreachable && finish_build
row "no gateway (connection refused)" "$LOCAL_S" "all local, each saying why (vs the local build)" \
    test "$LOCAL_N" -eq "$N_OBJ"
cp -r "$XDG_CACHE_HOME" learned
fresh_times() { rm -rf "$XDG_CACHE_HOME" && cp -r learned "$XDG_CACHE_HOME"; }

# 2. Two gateways, separate cache directories, one Buildbarn: A first
# (cold), then B. The faster of the two is the fault-free time of the
# plain rows (the machine's load makes single timings noisy; the faster
# one is the stricter yardstick).
gw_start gwa
build gateway-a && finish_build
gateway_notes
A_ROUNDS=$(rounds) A_S=$WALL_S
row "none: gateway A, cold" "$WALL_S" "objects identical" true
gw_stop
# What A shared, counted after its stop (which shares the queue first).
A_NOT_SHARED=$(grep -c "not shared through Buildbarn" gwa.log)
fresh_times
gw_start gwb
build baseline && finish_build
gateway_notes "gateway A had $A_ROUNDS, $A_NOT_SHARED warnings of files not shared; B found $(metric gomabarn_files_remote_hits_total) keys through Buildbarn, missed $(metric gomabarn_files_remote_misses_total)"
[ "$(rounds)" -eq 0 ] || NOTES="$NOTES; B missed: $(sed -n 's/.*inputs missing (first: \(.*\))$/\1/p' gwb.log | paste -sd, -)"
BASE_S=$(printf '%s\n' "$A_S" "$WALL_S" | sort -n | head -n 1)
row "two gateways: B after A (fault-free)" "$WALL_S" "0 missing-input rounds on B" test "$(rounds)" -eq 0
gw_stop
echo "suite: the fault-free time of the plain rows: $BASE_S s (the faster of A and B)"

if want disk; then
    # 3. The cache directory's disk full: a 16 MiB tmpfs, 14 MiB of it taken
    # by something else; cache.max_bytes (10 GiB) is no help.
    mkdir -p "$DISK" && mount -t tmpfs -o size=16m gomabarn-fault "$DISK" || exit 1
    head -c $((14 << 20)) /dev/zero >"$DISK/ballast"
    fresh_times
    CACHE_DIR=$DISK/cas gw_start gwd
    build disk-full && finish_build
    gateway_notes "evictions $(metric gomabarn_cache_evictions_total), $(df -B1 --output=avail "$DISK" | tail -n 1) bytes free at the end"
    # Remote compiles continue: none fails on the gateway (a local compile is
    # only ever one that won its race).
    row "cache.dir's disk full (16 MiB tmpfs)" "$BASE_S" "evictions, no compile fails on the gateway" \
        test "$(metric gomabarn_cache_evictions_total)" -ge 1 -a "$LOCAL_N" -eq "$RACES_N" -a "$REMOTE_N" -ge 1
    gw_stop
    umount "$DISK"
fi

if want gateway-killed; then
    # 4. The gateway killed (kill -9) mid-build and started again 1 s later
    # (systemd's RestartSec) on the same port and cache directory.
    PORT=$(free_port)
    fresh_times
    gw_start gwk "$PORT"
    build gateway-killed
    inject eval 'gmb_stop "$GW_PID" KILL; true'
    sleep 1
    t=$EPOCHREALTIME
    gw_start gwk "$PORT"
    UP=$(secs_since "$t")
    finish_build
    gateway_notes "killed at $AT s, serving again $UP s after the restart (counters: since it)"
    row "gateway killed mid-build, restarted" "$BASE_S" "< 2x, remote again after the restart" \
        eval 'ratio_below 2 "$BASE_S" && [ "$(exec_done)" -ge 1 ]'
    gw_stop
fi

if want toolchain; then
    # 5. toolchain_included: gcc, cc1 and as go with every compile (35 MB).
    # A cold build sends them to Buildbarn once; the next is the fault-free time.
    fresh_times
    gw_start gwt0
    build toolchain-cold GOMABARN_TOOLCHAIN_INCLUDED=1 && finish_build
    gateway_notes
    row "none: toolchain_included, cold" "$WALL_S" "objects identical" true
    gw_stop
    fresh_times
    gw_start gwt
    build toolchain GOMABARN_TOOLCHAIN_INCLUDED=1 && finish_build
    gateway_notes
    TC_S=$WALL_S
    row "none: toolchain_included (fault-free)" "$TC_S" "objects identical" true
    gw_stop

    # 6. cache.max_bytes (20 MiB) smaller than the toolchain (cc1 alone is
    # 33 MB), toolchain_included: warned at start, the store stays within its
    # disk blocks, every compile ends (locally: cc1 cannot be held) instead of
    # going round missing inputs.
    MAX=$((20 << 20))
    fresh_times
    CACHE_EXTRA="max_bytes = $MAX;" gw_start gwsmall
    build small-store GOMABARN_TOOLCHAIN_INCLUDED=1 && finish_build
    BLOCKS=$(find "$WORK/gwsmall.cache/blobs" -type f -printf '%b\n' | awk '{ s += $1 * 512 } END { printf "%d\n", s }')
    DISK_BYTES=$(metric gomabarn_cache_disk_bytes)
    gateway_notes "disk blocks of blobs $BLOCKS (gomabarn_cache_disk_bytes $DISK_BYTES), max_bytes $MAX"
    row "cache.max_bytes 20 MiB < toolchain" "$TC_S" "< 2x, warned, cc1 never sent, disk blocks <= max_bytes" \
        eval 'ratio_below 2 "$TC_S" && [ "$(rounds)" -eq 0 ] && [ "$BLOCKS" -le "$MAX" ] && [ "$DISK_BYTES" -le "$MAX" ] &&
              grep -q "under 1 GiB: a typical compiler toolchain does not fit" gwsmall.log'
    gw_stop
fi

if want stalled; then
    # 7. The gateway stalled (SIGSTOP) for the rest of the build: the kernel
    # accepts connections, nothing answers. Racing is the only way out.
    fresh_times
    gw_start gws
    build gateway-stalled
    STALLED=$GW_PID
    inject kill -STOP "$GW_PID"
    finish_build
    kill -CONT "$GW_PID"
    STALLED=
    NOTES="stalled at $AT s; $RACES_N races won locally, after $(race_delay)"
    # Racing is judged, and the time too, loosely: a stall must not cost the
    # build minutes (seen: 1.26-2.05x, mostly the learned race delay).
    row "gateway stalled (SIGSTOP), never answers" "$BASE_S" "racing chosen and logged, < 3x" \
        eval '[ "$RACES_N" -ge 1 ] && ratio_below 3 "$BASE_S"'
    gw_stop
fi

# The stalled gateway's Execs ran on after it; the worker rows need
# Buildbarn idle: a fresh cluster (its CAS empty, so the gateways of the
# next rows upload the sources again, as gateway A did).
reset_cluster

if want worker-restarted; then
    # 8. The worker killed and started again at once (same worker id).
    fresh_times
    gw_start gwr
    build worker-restarted
    inject eval 'kill_group worker-hardlinking && "$REPO/tests/buildbarn/restart.sh" worker-hardlinking >/dev/null'
    finish_build
    gateway_notes "restarted by $AT s"
    # Seen: 1.19-1.61x; the limit catches a build that waits out a timeout.
    row "bb_worker killed and restarted" "$BASE_S" "no fallback needed, objects identical, < 3x" \
        eval '[ "$(fallbacks)" -eq 0 ] && ratio_below 3 "$BASE_S"'
    gw_stop
    reset_cluster
fi

if want worker-killed; then
    # 9. The hardlinking pool's worker (and its runner: the host is gone)
    # killed with compiles in flight; the pool's queue would hold them 900 s.
    fresh_times
    gw_start gww
    build worker-killed
    inject eval 'kill_group worker-hardlinking && kill_group runner-hardlinking'
    finish_build
    gateway_notes "killed at $AT s"
    row "bb_worker (+runner) killed mid-build" "$BASE_S" "< 2x fault-free, objects identical" ratio_below 2 "$BASE_S"
    gw_stop
fi

echo "suite: $((SECONDS - SUITE_T0)) s in all"
table
