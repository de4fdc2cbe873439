#!/usr/bin/env bash
# `gomabarn replay` against the real Buildbarn, on both pools: 50 recorded
# compiles replayed on hardlinking and fuse match (table and JSON, exit 0);
# a non-hermetic action is a mismatch with both digests (exit 1); the
# do_not_cache twins leave the action cache untouched; a long run reports
# progress; an unknown digest and an instance name without workers are
# failures in plain words (exit 1); bad usage exits 2.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$1
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CONFIG="$REPO/config/gomabarn.conf.example"
WORK=$(mktemp -d /tmp/gomabarn-replay-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cp "$REPO"/tests/data/sample/*.c "$REPO"/tests/data/sample/*.h .
. "$HERE/check.sh"

# Runs a command with remote-run on hardlinking; prints its action digest.
record() {
    "$GOMABARN" remote-run --config "$CONFIG" --instance hardlinking "$@" 2>&1 >/dev/null |
        sed -n 's/^gomabarn: action \([0-9a-f]*\/[0-9]*\): .*/\1/p'
}
replay() { "$GOMABARN" replay --config "$CONFIG" "$@"; }

# 50 compiles, written the way the gateway's exec.action_log writes them,
# with a comment, a blank line, a bare digest and a repeated line.
{
    echo "# recorded by replay_test.sh"
    for k in $(seq 1 48); do
        d=$(record -i greet.c -i greet.h -o greet.o -- /usr/bin/cc -O2 -DVARIANT=$k -c greet.c -o greet.o)
        echo "$(date +%s) hardlinking $d done"
    done
    echo
    record -i main.c -i greet.h -o main.o -- /usr/bin/cc -O2 -c main.c -o main.o
    d=$(record -i sum.c -i greet.h -o sum.o -- /usr/bin/cc -O0 -c sum.c -o sum.o)
    echo "$(date +%s) hardlinking $d done"
    echo "$(date +%s) hardlinking $d done"
} >actions.log
check "50 actions recorded" test "$(grep -cE '^([0-9]+ hardlinking )?[0-9a-f]{64}/[0-9]+' actions.log)" -eq 51

replay --instance hardlinking --instance fuse --actions actions.log >table.txt 2>err.txt
rc=$?
cat table.txt
check "hermetic replay exits 0" test $rc -eq 0
check "all 50 matched" grep -q "^50 actions on hardlinking, fuse: 50 matched, 0 mismatched, 0 failed" table.txt
check "repeated line run once" grep -q "1 repeated lines run once" err.txt
for phase in queued input_fetch execution output_upload total; do
    check "phase $phase in the table" grep -qE "^$phase +hardlinking +50 +[0-9.]+ +[0-9.]+ +[0-9.]+ +1.00$" table.txt
done
check "fuse row with a ratio" grep -qE "^ +fuse +50 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$" table.txt
check "nothing came from the cache, every compile exited 0" grep -qE "^fuse +50 +0 +0 +0$" table.txt

replay --instance hardlinking --instance fuse --in-flight 3 --json --actions actions.log >report.json 2>/dev/null
rc=$?
check "--json exits 0" test $rc -eq 0
check "--json parses" python3 -m json.tool report.json
check "--json counts" python3 -c '
import json, sys
r = json.load(open("report.json"))
assert r["actions"] == 50 and r["matched"] == 50, r
for p in r["per_instance"]:
    assert p["runs"] == 50 and p["cached"] == 0 and p["failed"] == 0, p
    assert p["phases_s"]["execution"]["n"] == 50 and p["phases_s"]["total"]["p50"] > 0, p
assert r["per_instance"][0]["ratio_to_first"]["total"]["p50"] == 1.0
'

# A non-hermetic action: a mismatch, with both outputs' digests.
nh=$(record -o out -- /bin/sh -c 'date +%s%N > out')
check "non-hermetic action recorded" test -n "$nh"
replay --instance hardlinking --instance fuse "$nh" >mm.txt 2>/dev/null
rc=$?
cat mm.txt
check "mismatch exits 1" test $rc -eq 1
check "mismatch counted" grep -q "1 mismatched" mm.txt
check "mismatch names the output" grep -q "output out differs:" mm.txt
h=$(sed -n 's/^ *hardlinking \([0-9a-f]\{64\}\/[0-9]*\)$/\1/p' mm.txt)
f=$(sed -n 's/^ *fuse \{1,\}\([0-9a-f]\{64\}\/[0-9]*\)$/\1/p' mm.txt)
check "both digests printed, and they differ" test -n "$h" -a -n "$f" -a "$h" != "$f"

# The twin that ran (do_not_cache) left no action-cache entry: run as it
# is, with the cache asked first, it is not a hit on either pool. The
# recorded action itself (cacheable, run by remote-run) is one.
twin=$(sed -n 's/.*(ran as \([0-9a-f]*\/[0-9]*\)).*/\1/p' mm.txt | head -1)
check "twin digest printed" test -n "$twin" -a "$twin" != "$nh"
replay --no-cache-bypass --json --instance hardlinking --instance fuse "$twin" >twin.json 2>/dev/null
check "twin not in the action cache" python3 -c '
import json
r = json.load(open("twin.json"))
assert all(p["cached"] == 0 and p["runs"] == 1 and p["failed"] == 0 for p in r["per_instance"]), r
'
replay --no-cache-bypass --json --instance hardlinking "$nh" >orig.json 2>/dev/null
check "the cacheable original is a hit (the check can see one)" python3 -c '
import json
r = json.load(open("orig.json"))
assert r["per_instance"][0]["cached"] == 1, r
'

# A long run says how far it got on stderr every few seconds.
slow=$(record --no-cache -o out -- /bin/sh -c 'sleep 6; echo slow > out')
replay --instance hardlinking --instance fuse "$slow" >/dev/null 2>progress.txt
rc=$?
check "slow action matches" test $rc -eq 0
check "progress on stderr" grep -q "^gomabarn replay: 0/1 actions done (0 mismatched, 0 failed)$" progress.txt

# Failures in plain words.
replay --instance hardlinking --instance fuse 0000000000000000000000000000000000000000000000000000000000000000/12 \
    >unknown.txt 2>&1
rc=$?
check "unknown digest exits 1" test $rc -eq 1
check "unknown digest explained" grep -q 'the action is in the CAS of none of the instance names "hardlinking", "fuse"' unknown.txt
d=$(sed -n '2p' actions.log | awk '{print $3}')
replay --instance hardlinking --instance no-such-pool "$d" >nopool.txt 2>&1
rc=$?
check "instance without workers exits 1" test $rc -eq 1
check "instance without workers explained" grep -q 'on no-such-pool: no worker serves this instance name with this platform' nopool.txt
check "Buildbarn's words passed on" grep -q 'Buildbarn said: .*No workers exist for instance name prefix "no-such-pool"' nopool.txt

# Usage errors: exit 2.
usage() {
    replay "$@" >/dev/null 2>usage.txt
    test $? -eq 2
}
check "no --instance: 2" usage "$d"
check "no actions: 2" usage --instance fuse
check "both --actions and digests: 2" usage --instance fuse --actions actions.log "$d"
check "bad digest: 2" usage --instance fuse not-a-digest
check "bad --in-flight: 2" usage --instance fuse --in-flight 0 "$d"
check "missing actions file: 2" usage --instance fuse --actions "$WORK/none.log"
printf '%s\n' "$d" "1 2 3" >bad.log
check "malformed line: 2" usage --instance fuse --actions bad.log
check "malformed line names file:line" grep -q "bad.log:2: expected" usage.txt
check "same --instance twice: 2" usage --instance fuse --instance fuse "$d"
"$GOMABARN" replay --help | grep -q "^usage: gomabarn replay"
check "--help exits 0 with the usage" test $? -eq 0

check_report
