#!/usr/bin/env bash
# Starts processes of a running cluster again, for tests that kill parts
# of one (tests/fault/): `restart.sh worker-hardlinking [runner-hardlinking]`
# (names as in $BB/pids: storage, scheduler, runner-POOL, worker-POOL).
# A named process still alive is killed first (SIGKILL, its whole group);
# a fuse worker's dead mount is removed and a runner's socket cleared.
# Waits a second, then until every process is alive and both pools are
# registered.
#
# Only for a cluster of its own (GOMABARN_BB_DIR and GOMABARN_BB_PORT_OFFSET,
# see cluster.sh), or the shared one from a test that runs alone (ctest
# RUN_SERIAL: integration.pool_health restarts a worker it killed), never
# while other tests are using it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster.sh"
WAIT_SECONDS=${GOMABARN_BB_WAIT:-90}
[ $# -gt 0 ] || { echo "usage: restart.sh NAME... (storage, scheduler, runner-POOL, worker-POOL)" >&2; exit 2; }
[ -d "$BB/pids" ] || { echo "buildbarn: no cluster in $BB" >&2; exit 1; }
BIN=$("$HERE/build.sh" 2>/dev/null | tail -n 1)
bb_export_credentials

for name in "$@"; do
    if [ -f "$BB/pids/$name.pid" ]; then
        pid=$(cat "$BB/pids/$name.pid")
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0); i++)); do sleep 0.1; done
    fi
    case $name in
    worker-fuse)
        if grep -qs " $BB/fuse/build " /proc/mounts; then
            fusermount3 -u -z "$BB/fuse/build" 2>/dev/null || umount -l "$BB/fuse/build" 2>/dev/null || true
        fi
        ;;
    runner-*) rm -f "$BB/${name#runner-}/runner.sock" ;;
    esac
    bb_start "$BIN" "$name"
done

# A worker registers on its first Synchronize, at once; a process that
# cannot start exits within a second.
sleep 1
for ((i = 0; i < WAIT_SECONDS; i++)); do
    all_alive || break
    if pools_registered; then
        echo "buildbarn: restarted $* in $BB"
        exit 0
    fi
    sleep 1
done
echo "buildbarn: $* did not come back; the logs say:" >&2
for name in "$@"; do tail -n 20 "$BB/logs/$name.log" >&2; done
exit 1
