#!/usr/bin/env bash
# Benchmarks of the lazy CAS view against the local Buildbarn (issue
# targets in brackets). All figures come from this one run; the machine
# is noisy, so compare within a run.
#   1. cold read of a 256 MiB blob through the mount (fetched from
#      Buildbarn as it is read) vs a direct ByteStream read   [ratio >= 0.9]
#   2. warm read of it through the mount (in the store and the kernel's
#      page cache) vs the store's file read directly          [ratio >= 0.9]
#   3. stat and readdir rates on a 10,000-file input tree, cold and warm
# Beside 1, for scale: the same ByteStream read hashed and written to a
# file as it arrives by one thread (what any cache that checks what it
# keeps must do), and from it the CPU bound on the cold read's ratio.
# 1 and 2 are measured in BENCH_ROUNDS rounds (default 3), each on a fresh
# mount with an empty cache; a round's ratios compare reads made seconds
# apart, and the targets are the medians of the rounds' ratios.
# usage: bench_mount.sh BUILD_DIR [INSTANCE]
set -euo pipefail
BUILD=$(cd "$1" && pwd)
INSTANCE=${2:-hardlinking}
ROUNDS=${BENCH_ROUNDS:-3}
BLOB_MIB=${BENCH_BLOB_MIB:-256}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
GOMABARN="$BUILD/bin/gomabarn"
TOOL="$BUILD/tests/bench/bench_mount_tool"
PROBE="$BUILD/tests/tools/rev2_probe"
WORK=$(mktemp -d /tmp/gomabarn-bench-XXXXXX)
. "$REPO/tests/lib/mount.sh"
MNT=
trap 'gmb_stop_all; [ -z "$MNT" ] || gmb_unmount "$MNT"; rm -rf "$WORK"' EXIT
cd "$WORK"
field() { awk -v k="$1" '$1 == k { print $2 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'; }
verdict() { awk -v r="$1" 'BEGIN { print (r >= 0.9) ? "PASS" : "FAIL" }'; }

echo "preparing: a $BLOB_MIB MiB blob and a 10,000-file tree in Buildbarn's CAS"
head -c $((BLOB_MIB * 1024 * 1024)) /dev/urandom >big.bin
mkdir tree
for d in $(seq -w 0 99); do
    mkdir "tree/d$d"
    for f in $(seq -w 0 99); do echo "$d/$f $RANDOM" >"tree/d$d/f$f.h"; done
done
gmb_conf prep.conf "buildbarn = { instance_name = \"$INSTANCE\"; call_timeout_ms = 300000; };" \
    "cache = { dir = \"$WORK/cache-prep\"; };" 'log = { level = "warn"; };'
"$GOMABARN" remote-run -q --config prep.conf --no-cache -i big.bin -i tree -- /bin/true
rm -rf cache-prep
BIG=$(gmb_digest big.bin)
ROOT=$("$PROBE" tree tree | awk '/^root/{print $2}' | tr / -)

# start_mount N: a fresh mount point and an empty cache (waits for the
# mount point itself, whatever the log level).
start_mount() {
    MNT="$WORK/mnt$1"
    CACHE="$WORK/cache$1"
    gmb_conf "mount$1.conf" "buildbarn = { instance_name = \"$INSTANCE\"; call_timeout_ms = 300000; };" \
        "cache = { dir = \"$CACHE\"; max_bytes = 2147483648L; };" \
        "mount = { path = \"$MNT\"; };" 'log = { level = "info"; };'
    gmb_start "mount$1.log" "$GOMABARN" mount --config "mount$1.conf"
    MOUNT_PID=$GMB_PID
    gmb_wait_mounted "$MNT" "mount$1.log"
}

# "<MiB/s> <the reader's CPU seconds> <MiB per CPU second>"
read_figs() {
    "$TOOL" read "$1" | awk '$1 == "mib_per_s" { w = $2 } $1 == "cpu_seconds" { c = $2 }
        $1 == "mib_per_cpu_s" { m = $2 } END { print w, c, m }'
}
# "<MiB/s> <CPU seconds>"
direct_figs() {
    GMB_INSTANCE=$INSTANCE "$TOOL" bytestream "${BIG/-//}" 2>/dev/null |
        awk '$1 == "mib_per_s" { w = $2 } $1 == "cpu_seconds" { c = $2 } END { print w, c }'
}
# "<MiB/s> <CPU seconds>" of one thread that reads, hashes and writes to a file.
one_thread_figs() {
    GMB_INSTANCE=$INSTANCE "$TOOL" bytestream "${BIG/-//}" "$WORK/one-thread.bin" 2>/dev/null |
        awk '$1 == "mib_per_s" { w = $2 } $1 == "cpu_seconds" { c = $2 } END { print w, c }'
    rm -f "$WORK/one-thread.bin"
}
# CPU seconds a process has used so far (utime + stime).
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
# bb_storage's (0 when it is not found: another Buildbarn).
BB_STORAGE_PID=$(pgrep -f 'bin/bb_storage ' | head -n 1 || true)
bb_cpu() { if [ -n "$BB_STORAGE_PID" ]; then proc_cpu "$BB_STORAGE_PID"; else echo 0; fi; }
# bb_storage's CPU seconds since an earlier bb_cpu reading: on a machine
# with few cores the reads compete for the same CPU with it.
bb_since() { awk -v a="$1" -v b="$(bb_cpu)" 'BEGIN { printf "%.2f", b - a }'; }

one_threads=() one_thread_cpus=() directs=() colds=() warms=() locals=() cold_ratios=() warm_ratios=() warm_cpu_ratios=()
direct_cpus=() reader_cpus=() daemon_cpus=() bb_direct_cpus=() bb_cold_cpus=()
for r in $(seq "$ROUNDS"); do
    start_mount "$r"
    FILE="$MNT/cas/$INSTANCE/blobs/sha256/file/$BIG"
    daemon_cpu0=$(proc_cpu "$MOUNT_PID")
    # The three reads take turns at going first, so none always meets a
    # quieter machine (or Buildbarn's warmer caches); each starts with no
    # earlier write still to flush, since writeback would land in it.
    order=(direct cold one_thread)
    for i in 0 1 2; do
        case ${order[$(((i + r) % 3))]} in
        direct) sync; b0=$(bb_cpu); read -r direct direct_cpu <<<"$(direct_figs)"; bb_direct=$(bb_since "$b0") ;;
        cold) sync; b0=$(bb_cpu); read -r cold reader_cpu _ <<<"$(read_figs "$FILE")"; bb_cold=$(bb_since "$b0") ;;
        one_thread) sync; read -r one_thread one_thread_cpu <<<"$(one_thread_figs)" ;;
        esac
    done
    one_threads+=("$one_thread") one_thread_cpus+=("$one_thread_cpu")
    bb_direct_cpus+=("$bb_direct") bb_cold_cpus+=("$bb_cold")
    # The blob enters the store once the verifier has checked it.
    STORED="$CACHE/blobs/${BIG:0:2}/$BIG"
    gmb_wait "the fetched blob in the store" "mount$r.log" 60 test -f "$STORED"
    daemon_cpu=$(awk -v a="$daemon_cpu0" -v b="$(proc_cpu "$MOUNT_PID")" 'BEGIN { printf "%.2f", b - a }')
    direct_cpus+=("$direct_cpu") reader_cpus+=("$reader_cpu") daemon_cpus+=("$daemon_cpu")
    w=() l=() wc=() lc=()
    for _ in 1 2 3; do
        read -r a _ b <<<"$(read_figs "$FILE")"
        w+=("$a") wc+=("$b")
        read -r a _ b <<<"$(read_figs "$STORED")"
        l+=("$a") lc+=("$b")
    done
    warm=$(median "${w[@]}")
    localdisk=$(median "${l[@]}")
    warm_cpu_ratios+=("$(ratio "$(median "${wc[@]}")" "$(median "${lc[@]}")")")
    printf '  round %d: direct %7.1f  cold %7.1f  (%.2f)  1 thread %7.1f (%.2f)   warm %7.1f  local %7.1f  (%.2f)  MiB/s\n' \
        "$r" "$direct" "$cold" "$(ratio "$cold" "$direct")" "$one_thread" "$(ratio "$one_thread" "$direct")" "$warm" "$localdisk" \
        "$(ratio "$warm" "$localdisk")"
    directs+=("$direct") colds+=("$cold") warms+=("$warm") locals+=("$localdisk")
    cold_ratios+=("$(ratio "$cold" "$direct")") warm_ratios+=("$(ratio "$warm" "$localdisk")")
    if [ "$r" -lt "$ROUNDS" ]; then
        gmb_stop "$MOUNT_PID" || true
        gmb_unmount "$MNT"
        rm -rf "$CACHE"
    fi
done

# The tree walks use the last round's mount (the tree is not cached yet).
walk_cold=$("$TOOL" walk "$MNT/cas/$INSTANCE/blobs/sha256/directory/$ROOT")
walk_warm=$("$TOOL" walk "$MNT/cas/$INSTANCE/blobs/sha256/directory/$ROOT")
walk_local=$("$TOOL" walk tree)

cold_ratio=$(median "${cold_ratios[@]}")
warm_ratio=$(median "${warm_ratios[@]}")
echo
echo "== $BLOB_MIB MiB blob, instance \"$INSTANCE\" (MiB/s, medians of $ROUNDS rounds)"
printf '  direct ByteStream read      %8.1f\n' "$(median "${directs[@]}")"
printf '  cold read through the mount %8.1f\n' "$(median "${colds[@]}")"
one_thread_median=$(median "${one_threads[@]}")
printf '  read, hashed and written to a file by one thread %8.1f   (%.2f of direct, %.2f CPU s: what a cache that checks what it keeps must do)\n' \
    "$one_thread_median" "$(ratio "$one_thread_median" "$(median "${directs[@]}")")" "$(median "${one_thread_cpus[@]}")"
printf '  warm read through the mount %8.1f   (each round: median of 3)\n' "$(median "${warms[@]}")"
printf '  the store file read locally %8.1f   (each round: median of 3)\n' "$(median "${locals[@]}")"
# CPU time is what a 2-core machine runs out of: a direct read already
# keeps both cores busy (client and Buildbarn), so whatever the mount's
# daemon and reader spend beyond the direct client comes off the ratio.
printf '  CPU seconds for the cold blob: direct client %.2f; mount daemon %.2f (fetch, hash, replies) + reader %.2f\n' \
    "$(median "${direct_cpus[@]}")" "$(median "${daemon_cpus[@]}")" "$(median "${reader_cpus[@]}")"
bbd=$(median "${bb_direct_cpus[@]}") bbc=$(median "${bb_cold_cpus[@]}")
printf '  bb_storage CPU seconds: %.2f serving the direct read, %.2f the cold one\n' "$bbd" "$bbc"
# All the CPU each read cost, over the time it took: near the core count,
# the read is CPU-bound, and its ratio is at most the ratio of the totals.
awk -v cores="$(nproc)" -v dc="$(median "${direct_cpus[@]}")" -v bbd="$bbd" -v d="$(median "${directs[@]}")" \
    -v mc="$(median "${daemon_cpus[@]}")" -v rc="$(median "${reader_cpus[@]}")" -v bbc="$bbc" -v c="$(median "${colds[@]}")" \
    -v mib="$BLOB_MIB" -v fc="$(median "${one_thread_cpus[@]}")" 'BEGIN {
    td = dc + bbd; tc = mc + rc + bbc
    printf "  all CPU per read: direct %.2f s in %.2f s (%.1f of %d cores busy); cold %.2f s in %.2f s (%.1f busy); CPU ratio %.2f\n",
        td, mib / d, td / (mib / d), cores, tc, mib / c, tc / (mib / c), (tc > 0) ? td / tc : 0
    # The least CPU a cache that checks and keeps the blob spends on a cold
    # read: all the direct read costs, plus hashing and writing the blob
    # (the one-thread client less the direct one), plus the reader: even
    # spread over every core, that takes at least least/cores seconds.
    least = td + (fc - dc) + rc
    printf "  the CPU bound: a verifying cache needs about %.2f CPU s (direct %.2f + hash and write %.2f + reader %.2f), %.2f s on %d cores: cold/direct at most %.2f here\n",
        least, td, fc - dc, rc, least / cores, cores, (mib / d) / (least / cores) }'
printf '  warm/local per CPU second of the reader: %.2f (the kernel'"'"'s cost, whatever the load)\n' \
    "$(median "${warm_cpu_ratios[@]}")"
# Warm reads of a blob on disk are the kernel's own when the view could
# use FUSE passthrough (Linux >= 6.9, root): say which it was.
printf '  warm reads: %s\n' "$(grep -ho 'kernel passthrough is [^:(]*' mount*.log | sort -u | head -n 1 || true)"
printf '  cold read through the mount / that one thread: %.2f\n' "$(ratio "$(median "${colds[@]}")" "$one_thread_median")"
printf 'target fuse_cold_read_ratio: %.2f (goal >= 0.9) %s\n' "$cold_ratio" "$(verdict "$cold_ratio")"
printf 'target fuse_warm_read_ratio: %.2f (goal >= 0.9) %s\n' "$warm_ratio" "$(verdict "$warm_ratio")"
echo "== 10,000-file input tree (100 directories)"
printf '  cold walk   %6.0f stats/s  %5.0f readdirs/s  (%s s)\n' "$(echo "$walk_cold" | field stats_per_s)" \
    "$(echo "$walk_cold" | field readdirs_per_s)" "$(echo "$walk_cold" | field seconds)"
printf '  warm walk   %6.0f stats/s  %5.0f readdirs/s  (%s s)\n' "$(echo "$walk_warm" | field stats_per_s)" \
    "$(echo "$walk_warm" | field readdirs_per_s)" "$(echo "$walk_warm" | field seconds)"
printf '  local disk  %6.0f stats/s  %5.0f readdirs/s  (%s s)\n' "$(echo "$walk_local" | field stats_per_s)" \
    "$(echo "$walk_local" | field readdirs_per_s)" "$(echo "$walk_local" | field seconds)"
echo "  files seen through the mount: $(echo "$walk_warm" | field files)"
