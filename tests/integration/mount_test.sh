#!/usr/bin/env bash
# `gomabarn mount` for real (FUSE) against the real Buildbarn, on instance
# name $2 (usage: mount_test.sh GOMABARN INSTANCE REV2_PROBE): bytes through cas/ equal what was uploaded; directory/ and tree/
# browse as the original trees; 32 concurrent readers of one uncached blob
# cause one fetch; a missing blob fails fast; the mount is read-only;
# SIGTERM unmounts; a SIGKILLed daemon's dead mount is repaired by the next
# start; the cache survives restarts; a corrupted cache file is detected
# and fetched again; a blob on disk is read by the kernel itself (FUSE
# passthrough), which a frozen daemon shows, and an inode opened while its
# blob was arriving keeps working when opened again once it is on disk.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$1
INSTANCE=$2
PROBE=$3  # rev2_probe: the Merkle root of a local tree
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-mount-XXXXXX)
MNT="$WORK/mnt"
. "$REPO/tests/lib/mount.sh"
trap 'gmb_stop_all; gmb_unmount "$MNT"; rm -rf "$WORK"' EXIT
cd "$WORK"
. "$HERE/check.sh"
gmb_conf gomabarn.conf "buildbarn = { instance_name = \"$INSTANCE\"; };" \
    "cache = { dir = \"$WORK/cache\"; max_bytes = 1073741824; fetch_timeout_ms = 10000; };" \
    "mount = { path = \"$MNT\"; };" 'log = { level = "debug"; };'

# One log across the daemon's restarts (the checks read all of it).
start() { gmb_mount mount.log "$GOMABARN" mount --config gomabarn.conf; pid=$GMB_PID; }
CAS="$MNT/cas/$INSTANCE/blobs/sha256"

# Inputs: small, executable, symlink, nested, and a 3 MiB file (ByteStream).
mkdir -p src/sub/deeper
echo "hello through the mount $$ $RANDOM" >src/hello.txt
printf '#!/bin/sh\necho tool-ran\n' >src/sub/tool && chmod +x src/sub/tool
ln -s ../hello.txt src/sub/link
head -c $((3 * 1024 * 1024)) /dev/urandom >src/sub/deeper/big.bin
head -c $((8 * 1024 * 1024)) /dev/urandom >shared.bin
head -c $((4 * 1024 * 1024)) /dev/urandom >mixed.bin
"$GOMABARN" remote-run -q --config gomabarn.conf --no-cache -i src -i shared.bin -i mixed.bin -- /bin/true
check "inputs uploaded" test $? -eq 0
"$GOMABARN" remote-run --config gomabarn.conf --no-cache -o gen -- \
    /bin/sh -c 'mkdir -p gen/sub && echo one >gen/a && echo two >gen/sub/b && ln -s a gen/l && printf "#!/bin/sh\n" >gen/x && chmod +x gen/x' 2>run.err
TREE=$(sed -n 's|.*output directory gen: tree \([0-9a-f]*\)/\([0-9]*\)|\1-\2|p' run.err)
check "output tree digest reported" test -n "$TREE"
# A compile whose action we browse under actions/: outputs, streams, JSON.
# (Cacheable, so the action cache holds its result; src/ is new each run.)
cp "$REPO"/tests/data/sample/main.c "$REPO"/tests/data/sample/greet.h src/
"$GOMABARN" remote-run --config gomabarn.conf -i src -o src/main.o -- \
    /bin/sh -c 'echo compiling >&2; echo stdout-line; /usr/bin/cc -c src/main.c -o src/main.o' >cc.out 2>cc.err
check "compile through remote-run" test $? -eq 0
ACTION=$(sed -n 's|^gomabarn: action \([0-9a-f]*\)/\([0-9]*\):.*|\1-\2|p' cc.err)
check "action digest reported" test -n "$ACTION"
# An action that was uploaded but never run (no cached result).
"$GOMABARN" remote-run --config gomabarn.conf --instance no-such-pool -i src -- /bin/true 2>never.err
NEVER=$(sed -n 's|^gomabarn: action \([0-9a-f]*\)/\([0-9]*\):.*|\1-\2|p' never.err)
ROOT=$("$PROBE" tree src 2>/dev/null | awk '/^root/{print $2}' | tr / -)

start
check "mounted" grep -qs " $MNT " /proc/mounts
check "file/ bytes equal" cmp -s "$CAS/file/$(gmb_digest src/hello.txt)" src/hello.txt
check "large file/ bytes equal" cmp -s "$CAS/file/$(gmb_digest src/sub/deeper/big.bin)" src/sub/deeper/big.bin
check "executable/ is executable" test -x "$CAS/executable/$(gmb_digest src/sub/tool)"
check "file/ is not executable" test ! -x "$CAS/file/$(gmb_digest src/sub/tool)"
check "directory/ equals the source tree" diff -r --no-dereference "$CAS/directory/$ROOT" src
check "directory/ keeps symlinks" test "$(readlink "$CAS/directory/$ROOT/sub/link")" = ../hello.txt
check "directory/ runs its tool" test "$("$CAS/directory/$ROOT/sub/tool")" = tool-ran
check "tree/ equals the action's output directory" diff -r --no-dereference "$CAS/tree/$TREE" gen
check "same inode for the same blob by two paths" \
    test "$(stat -c %i "$CAS/directory/$ROOT/hello.txt")" = "$(stat -c %i "$CAS/file/$(gmb_digest src/hello.txt)")"
check "cas/ is not listable" test -z "$(ls "$MNT/cas")"

# actions/: any action, resolved on demand from Buildbarn.
A="$MNT/actions/$ACTION"
check "actions/ lists the action's files" test "$(ls "$A" | tr '\n' ' ')" = \
    "action.json command.json input output result.json stderr stdout timings.txt "
check "actions/ input/ equals the input root" diff -r --no-dereference -x main.o "$A/input/src" src
check "actions/ output/ equals what remote-run wrote" cmp -s "$A/output/src/main.o" src/main.o
check "actions/ stdout" test "$(cat "$A/stdout")" = stdout-line
check "actions/ stderr" test "$(cat "$A/stderr")" = compiling
check "action.json names the platform" grep -q '"OSFamily"' "$A/action.json"
check "command.json has the arguments" grep -q '"arguments": \["/bin/sh", "-c"' "$A/command.json"
check "result.json has the worker" grep -q '"worker": ' "$A/result.json"
check "timings.txt has the phases" grep -q "^execution *[0-9.]* ms" "$A/timings.txt"
check "by-instance/ shows the same action" cmp -s "$MNT/by-instance/$INSTANCE/$ACTION/output/src/main.o" src/main.o
check "an action without a result shows its inputs only" test "$(ls "$MNT/by-instance/no-such-pool/$NEVER" | tr '\n' ' ')" = \
    "action.json command.json input "
check "a digest that is no action: I/O error" sh -c "! ls '$MNT/actions/$(gmb_digest src/hello.txt)' 2>/dev/null"

# 32 readers of one blob nobody has read yet: one fetch.
SHARED=$(gmb_digest shared.bin)
for i in $(seq 32); do cmp -s "$CAS/file/$SHARED" shared.bin && echo ok >"r$i" & done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null
check "32 concurrent readers all got the bytes" test "$(cat r* 2>/dev/null | grep -c ok)" -eq 32
check "32 concurrent readers caused one fetch" test "$(grep -c "fetched ${SHARED%-*}/" mount.log)" -eq 1

# Opened while arriving (page-cache mode), then opened again once on disk
# while the first is still open: the kernel refuses passthrough on an inode
# with a page-cache open, so the second open must stay in that mode.
MIXED="$CAS/file/$(gmb_digest mixed.bin)"
exec 4<"$MIXED"
cmp -s "$MIXED" mixed.bin
check "a blob opened while arriving reads" test $? -eq 0
check "... opened again on disk while the first is open: reads" cmp -s "$MIXED" mixed.bin
check "... and the first open reads too" cmp -s - mixed.bin <&4
exec 4<&-

MISSING=$(head -c 64 /dev/urandom | sha256sum | cut -d' ' -f1)-64
t0=$(date +%s%N)
cat "$CAS/file/$MISSING" >/dev/null 2>cat.err
rc=$?
t1=$(date +%s%N)
check "a blob Buildbarn lacks: read fails" test $rc -ne 0
check "... with an I/O error" grep -q "Input/output error" cat.err
check "... quickly" test $(((t1 - t0) / 1000000)) -lt 5000
check "... and the cause is logged" grep -q "fetching ${MISSING%-*}/64 .* failed: NOT_FOUND" mount.log
check "read-only" sh -c "! touch '$CAS/file/$(gmb_digest src/hello.txt)' 2>/dev/null"

gmb_stop "$pid" TERM; rc=$?
# Under the sanitizer build a leak or memory error makes this non-zero.
check "SIGTERM: the daemon exits 0" test $rc -eq 0
check "SIGTERM unmounts" sh -c "! grep -qs ' $MNT ' /proc/mounts"

# Restart: the cache is still there (no new fetch for hello.txt).
start
before=$(grep -c "fetched " mount.log)
check "restart keeps the cache" cmp -s "$CAS/file/$(gmb_digest src/hello.txt)" src/hello.txt
check "... without fetching" test "$(grep -c "fetched " mount.log)" -eq "$before"

# frozen_read: opens shared.bin (on disk since the 32 readers; a new
# daemon, so its inode has no cached pages), freezes the daemon and reads
# for up to 3 s. Only the kernel reading the store's file itself
# (passthrough) gets the bytes; through the daemon the read waits. Sets
# FROZEN to "read" or "waited".
# While the daemon is frozen, this shell starts no process but the reader:
# any child inherits the open file, and its exit would close it, which
# can wait on the frozen daemon (FLUSH) too; so the waits are `read -t` on
# a FIFO nobody writes, not sleep. A close before the freeze (of another
# file) lets the kernel learn that the view has no flush.
frozen_read() {
    rm -f frozen.rc frozen.fifo
    mkfifo frozen.fifo
    exec 5<>frozen.fifo
    cat "$CAS/file/$(gmb_digest src/hello.txt)" >/dev/null
    exec 3<"$CAS/file/$SHARED"
    kill -STOP "$pid"
    (cmp -s - shared.bin <&3; echo $? >frozen.rc) >/dev/null 2>&1 &
    local reader=$! tenths=0 rc=
    while [ ! -s frozen.rc ] && [ $tenths -lt 30 ]; do
        read -r -t 0.1 -u 5 _
        tenths=$((tenths + 1))
    done
    [ -s frozen.rc ] && read -r rc <frozen.rc
    if [ "$rc" = 0 ]; then FROZEN=read; else FROZEN=waited; fi
    kill -CONT "$pid"
    wait "$reader"
    exec 3<&- 5<&-
}
frozen_read
check "passthrough: a blob on disk reads while the daemon is frozen" test "$FROZEN" = read
gmb_stop "$pid" TERM
check "... and the daemon counted it" grep -Eq "file opens: [1-9][0-9]* read by the kernel itself \(passthrough\)" mount.log
sed 's/^mount = {/mount = { passthrough = false;/' gomabarn.conf >no-passthrough.conf
gmb_mount mount.log "$GOMABARN" mount --config no-passthrough.conf
pid=$GMB_PID
frozen_read
check "mount.passthrough = false: the read waits for the frozen daemon (the check above can fail)" \
    test "$FROZEN" = waited
gmb_stop "$pid" TERM
check "... and no open was passthrough" grep -q "file opens: 0 read by the kernel itself (passthrough off)" mount.log
start

gmb_stop "$pid" KILL
check "SIGKILL leaves a dead mount" sh -c "! ls '$MNT' >/dev/null 2>&1"
# While down, damage a cached blob.
H=$(gmb_digest src/sub/deeper/big.bin)
F="$WORK/cache/blobs/${H:0:2}/$H"
check "big.bin is cached" test -f "$F"
printf 'X' | dd of="$F" bs=1 seek=1000 conv=notrunc status=none
start
check "the next start repairs the dead mount" grep -q "dead FUSE mount" mount.log
check "a corrupted cache file is fetched again" cmp -s "$CAS/file/$H" src/sub/deeper/big.bin
check "... and the corruption is logged" grep -q "does not match its digest" mount.log

[ "$failed" -eq 0 ] || tail -20 mount.log
check_report
