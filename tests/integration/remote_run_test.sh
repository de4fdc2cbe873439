#!/usr/bin/env bash
# `gomabarn remote-run` against the real Buildbarn, on instance name $2:
# objects equal to local compiles, exit codes and stderr passed through,
# an output directory brought back whole, and clear failures (exit 125)
# for a path escape and an instance name no worker serves.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$1
INSTANCE=$2
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CONFIG="$REPO/config/gomabarn.conf.example"
WORK=$(mktemp -d /tmp/gomabarn-rr-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cp "$REPO"/tests/data/sample/*.c "$REPO"/tests/data/sample/*.h .
. "$HERE/check.sh"
rr() { "$GOMABARN" remote-run -q --config "$CONFIG" --instance "$INSTANCE" "$@"; }

rr -i main.c -i greet.h -o out/main.o -- /usr/bin/cc -O2 -c main.c -o out/main.o
rc=$?
/usr/bin/cc -O2 -c main.c -o main.local.o
check "compile exits 0" test $rc -eq 0
check "object equals local compile" cmp -s out/main.o main.local.o

rr --no-cache -- /bin/sh -c 'echo to-stderr >&2; echo to-stdout; exit 3' >stdout.txt 2>stderr.txt
rc=$?
check "exit code passed through" test $rc -eq 3
check "stdout passed through" grep -qx to-stdout stdout.txt
check "stderr passed through" grep -qx to-stderr stderr.txt

rr --no-cache -o gen -- /bin/sh -c 'mkdir -p gen/sub && echo one >gen/a.txt && echo two >gen/sub/b.txt && printf "#!/bin/sh\n" >gen/tool && chmod +x gen/tool && ln -s a.txt gen/link'
rc=$?
check "output directory exits 0" test $rc -eq 0
check "output directory files" test "$(cat gen/a.txt gen/sub/b.txt 2>/dev/null)" = "$(printf 'one\ntwo')"
check "output directory keeps the executable bit" test -x gen/tool
check "output directory keeps symlinks" test "$(readlink gen/link)" = a.txt

rr -i ../etc/passwd -- /bin/true 2>err.txt
rc=$?
check "path escape refused with 125" test $rc -eq 125
check "path escape explained" grep -q 'climbs out with ".."' err.txt

"$GOMABARN" remote-run -q --config "$CONFIG" --instance no-such-pool -i main.c -- /bin/true 2>err.txt
rc=$?
check "unknown instance fails with 125" test $rc -eq 125
check "unknown instance explained" grep -q "No workers exist for instance name prefix" err.txt

rr -p OSFamily=Linux -i main.c -- /bin/true 2>err.txt
rc=$?
check "capitalised OSFamily reaches no worker" test $rc -eq 125
check "platform mismatch explained" grep -q "check the instance name and the platform properties" err.txt

check_report
