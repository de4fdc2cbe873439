#!/usr/bin/env bash
# Stops the cluster started by start.sh (SIGTERM, then SIGKILL after 2 s:
# bb_worker drains rather than exits on SIGTERM, and nothing here is
# worth waiting for)
# and unmounts the fuse worker's build directory. Exits 0 even when
# nothing was running. Only the cluster of $GOMABARN_BB_DIR: its pids and
# its mount are all under that data root.
set -uo pipefail
BB=${GOMABARN_BB_DIR:-/tmp/gomabarn-bb}

# ctest's buildbarn.stop (GOMABARN_BB_FIXTURE=1) leaves a cluster alone
# that its buildbarn.start found running: `ctest -R one_test` must not
# stop the cluster someone started by hand (and lose its CAS).
if [ -n "${GOMABARN_BB_FIXTURE:-}" ] && [ -d "$BB/pids" ] && [ ! -e "$BB/.started-for-ctest" ]; then
    echo "buildbarn: left running (it was running before ctest; tests/buildbarn/stop.sh stops it)"
    exit 0
fi
rm -f "$BB/.started-for-ctest"

pids=()
for f in "$BB"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
        pids+=("$pid")
    fi
    rm -f "$f"
done

for ((i = 0; i < 20 && ${#pids[@]} > 0; i++)); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    pids=("${alive[@]+"${alive[@]}"}")
    [ ${#pids[@]} -eq 0 ] || sleep 0.1
done
for pid in "${pids[@]+"${pids[@]}"}"; do
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
done

# A worker that died leaves its FUSE mount behind ("transport endpoint is
# not connected"); lazy unmount removes it either way.
mnt="$BB/fuse/build"
if grep -qs " $mnt " /proc/mounts; then
    fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
fi
echo "buildbarn: stopped (data root $BB)"
exit 0
