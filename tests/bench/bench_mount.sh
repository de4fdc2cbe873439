#!/usr/bin/env bash
# Benchmarks of the lazy CAS view against the local Buildbarn (issue
# targets in brackets). All figures come from this one run; the machine
# is noisy, so compare within a run.
#   1. warm sequential read of a 256 MiB blob through the mount vs the same
#      bytes from local disk                                  [ratio >= 0.7]
#   2. cold read through the mount vs a direct ByteStream read [ratio >= 0.8]
#   3. stat and readdir rates on a 10,000-file input tree, cold and warm
# usage: bench_mount.sh BUILD_DIR [INSTANCE]
set -euo pipefail
BUILD=$(cd "$1" && pwd)
INSTANCE=${2:-hardlinking}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
GOMABARN="$BUILD/bin/gomabarn"
TOOL="$BUILD/tests/bench/bench_mount_tool"
PROBE="$BUILD/tests/tools/rev2_probe"
WORK=$(mktemp -d /tmp/gomabarn-bench-XXXXXX)
MNT="$WORK/mnt"
. "$REPO/tests/lib/mount.sh"
trap 'gmb_stop_all; gmb_unmount "$MNT"; rm -rf "$WORK"' EXIT
cd "$WORK"
gmb_conf gomabarn.conf "buildbarn = { instance_name = \"$INSTANCE\"; call_timeout_ms = 300000; };" \
    "cache = { dir = \"$WORK/cache\"; max_bytes = 2147483648L; };" \
    "mount = { path = \"$MNT\"; };" 'log = { level = "warn"; };'
field() { awk -v k="$1" '$1 == k { print $2 }'; }

echo "preparing: a 256 MiB blob and a 10,000-file tree in Buildbarn's CAS"
head -c $((256 * 1024 * 1024)) /dev/urandom >big.bin
mkdir tree
for d in $(seq -w 0 99); do
    mkdir "tree/d$d"
    for f in $(seq -w 0 99); do echo "$d/$f $RANDOM" >"tree/d$d/f$f.h"; done
done
"$GOMABARN" remote-run -q --config gomabarn.conf --no-cache -i big.bin -i tree -- /bin/true
BIG=$(gmb_digest big.bin)
ROOT=$("$PROBE" tree tree | awk '/^root/{print $2}' | tr / -)

# The warn level hides the "mounted" line: wait for the (fresh) mount point.
gmb_start mount.log "$GOMABARN" mount --config gomabarn.conf
gmb_wait_mounted "$MNT" mount.log
FILE="$MNT/cas/$INSTANCE/blobs/sha256/file/$BIG"

direct=$(GMB_INSTANCE=$INSTANCE "$TOOL" bytestream "${BIG/-//}" | field mib_per_s)
cold=$("$TOOL" read "$FILE" | field mib_per_s)
warm_runs=()
for _ in 1 2 3; do warm_runs+=("$("$TOOL" read "$FILE" | field mib_per_s)"); done
CACHED="$WORK/cache/blobs/${BIG:0:2}/$BIG"
local_runs=()
for _ in 1 2 3; do local_runs+=("$("$TOOL" read "$CACHED" | field mib_per_s)"); done
median() { printf '%s\n' "$@" | sort -g | sed -n '2p'; }
warm=$(median "${warm_runs[@]}")
localdisk=$(median "${local_runs[@]}")

walk_cold=$("$TOOL" walk "$MNT/cas/$INSTANCE/blobs/sha256/directory/$ROOT")
walk_warm=$("$TOOL" walk "$MNT/cas/$INSTANCE/blobs/sha256/directory/$ROOT")
walk_local=$("$TOOL" walk tree)

echo
echo "== 256 MiB blob, instance \"$INSTANCE\" (MiB/s; warm and local are medians of 3)"
printf '  direct ByteStream read      %8.1f\n' "$direct"
printf '  cold read through the mount %8.1f   ratio to direct %.2f  [>= 0.8]\n' "$cold" "$(echo "$cold / $direct" | bc -l)"
printf '  warm read through the mount %8.1f   ratio to local  %.2f  [>= 0.7]\n' "$warm" "$(echo "$warm / $localdisk" | bc -l)"
printf '  local disk (page cache)     %8.1f\n' "$localdisk"
echo "== 10,000-file input tree (100 directories)"
printf '  cold walk   %6.0f stats/s  %5.0f readdirs/s  (%s s)\n' "$(echo "$walk_cold" | field stats_per_s)" \
    "$(echo "$walk_cold" | field readdirs_per_s)" "$(echo "$walk_cold" | field seconds)"
printf '  warm walk   %6.0f stats/s  %5.0f readdirs/s  (%s s)\n' "$(echo "$walk_warm" | field stats_per_s)" \
    "$(echo "$walk_warm" | field readdirs_per_s)" "$(echo "$walk_warm" | field seconds)"
printf '  local disk  %6.0f stats/s  %5.0f readdirs/s  (%s s)\n' "$(echo "$walk_local" | field stats_per_s)" \
    "$(echo "$walk_local" | field readdirs_per_s)" "$(echo "$walk_local" | field seconds)"
echo "  files seen through the mount: $(echo "$walk_warm" | field files)"
