#!/usr/bin/env bash
# Starts gomabarn's local Buildbarn: bb_storage (CAS, AC, frontend) on
# 127.0.0.1:8980, bb_scheduler, and two worker pools with their runners,
# instance names `hardlinking` (native) and `fuse` (virtual, FUSE-mounted).
# Builds the binaries first if the cache lacks them. Waits until both pools
# have registered with the scheduler. Idempotent: a healthy cluster from
# the same data root is left running.
#
# Data root and port offset (a second cluster beside the shared one):
# see cluster.sh. GOMABARN_BB_FIXTURE=1 (ctest's buildbarn.start) marks a
# cluster it started, so that buildbarn.stop stops only that one.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster.sh"
WAIT_SECONDS=${GOMABARN_BB_WAIT:-90}

# Tests and benchmarks may call this at the same time: one at a time
# builds and starts, the others then find the cluster running. One lock
# per cluster (port offset); build.sh has its own.
LOCK_NAME=gomabarn-bb-start
[ "$GOMABARN_BB_PORT_OFFSET" = 0 ] || LOCK_NAME+=-$GOMABARN_BB_PORT_OFFSET
exec 9>"${TMPDIR:-/tmp}/$LOCK_NAME.lock"
flock -w 1200 9 || { echo "buildbarn: another start.sh holds the lock for 20 min" >&2; exit 1; }

if [ -d "$BB/pids" ] && all_alive && pools_registered; then
    echo "buildbarn: already running from $BB (logs in $BB/logs)"
    exit 0
fi

BIN=$("$HERE/build.sh" | tail -n 1)

# Whatever is left of an earlier run (crashed or still half up) goes first.
GOMABARN_BB_FIXTURE= "$HERE/stop.sh" >/dev/null 2>&1 || true

rm -f "$BB"/logs/*.log # a fresh start, fresh logs (a restart.sh appends)
mkdir -p "$BB"/{logs,pids} "$BB"/hardlinking/{build,cache} "$BB"/fuse/build
"$HERE/make-credentials.sh"
bb_export_credentials
rm -f "$BB"/hardlinking/runner.sock "$BB"/fuse/runner.sock

bb_start "$BIN" storage
bb_start "$BIN" scheduler
bb_start "$BIN" runner-hardlinking
bb_start "$BIN" runner-fuse
bb_start "$BIN" worker-hardlinking
bb_start "$BIN" worker-fuse
echo "buildbarn: started from $BIN; data root $BB; logs in $BB/logs"

for ((i = 0; i < WAIT_SECONDS; i++)); do
    if ! all_alive; then
        echo "buildbarn: a process exited during start-up" >&2
        break
    fi
    if pools_registered; then
        echo "buildbarn: ready after ${i}s: instance names hardlinking and fuse on $STORAGE"
        # Started for ctest's fixture: its buildbarn.stop may stop it.
        [ -z "${GOMABARN_BB_FIXTURE:-}" ] || touch "$BB/.started-for-ctest"
        exit 0
    fi
    if ((i % 10 == 9)); then echo "buildbarn: waiting for both worker pools to register (${i}s)"; fi
    sleep 1
done

echo "buildbarn: not ready; the logs say:" >&2
for f in "$BB"/logs/*.log; do
    echo "---- $f" >&2
    tail -n 25 "$f" >&2
done
GOMABARN_BB_FIXTURE= "$HERE/stop.sh" >/dev/null 2>&1 || true
exit 1
