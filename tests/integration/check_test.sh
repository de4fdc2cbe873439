#!/usr/bin/env bash
# `gomabarn check` against the real Buildbarn: a good configuration passes
# on both instance names; a wrong platform, an unreachable Buildbarn, a
# typo in the file and a port in use each fail with a plain explanation.
# A cache.dir in use by a running gateway stops a second `gomabarn serve`
# (and `gomabarn mount`) at once, naming the holder; check reports it.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$1
REPO=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-check-XXXXXX)
. "$REPO/tests/lib/gateway.sh"
trap 'gmb_stop_all; rm -rf "$WORK"' EXIT
cd "$WORK"
. "$HERE/check.sh"
base="cache = { dir = \"$WORK/cache\"; };\nhttp = { port = 0; };\n"

gmb_conf good.conf "cache = { dir = \"$WORK/cache\"; };" 'http = { port = 0; };'
"$GOMABARN" check -c good.conf -n fuse >out.txt 2>&1
check "a good configuration passes" test $? -eq 0
check "... on hardlinking" grep -q 'ok    instance "hardlinking": a trivial action ran on worker' out.txt
check "... and on fuse" grep -q 'ok    instance "fuse": a trivial action ran on worker' out.txt

printf "$base"'platform = { os_family = "Linux"; container_image = "%s"; };\n' "$GMB_IMAGE" >linux.conf
"$GOMABARN" check -c linux.conf >out.txt 2>&1
check "capital Linux fails" test $? -eq 1
check "... explained" grep -q 'OSFamily must be lowercase "linux"' out.txt

printf "$base"'buildbarn = { target = "127.0.0.1:1"; retry = { max_attempts = 1; }; };\n' >down.conf
"$GOMABARN" check -c down.conf >out.txt 2>&1
check "unreachable Buildbarn fails" test $? -eq 1
check "... explained" grep -q "cannot reach Buildbarn at 127.0.0.1:1" out.txt

printf 'buildbarn = {\n  tagret = "x";\n};\n' >typo.conf
"$GOMABARN" check -c typo.conf >out.txt 2>&1
check "a typo fails" test $? -eq 1
check "... with file and line" grep -q 'typo.conf:2: unknown key "buildbarn.tagret"' out.txt

gmb_hold_port port.txt
gmb_conf busy.conf "cache = { dir = \"$WORK/cache\"; };" "http = { port = $(cat port.txt); };"
"$GOMABARN" check -c busy.conf >out.txt 2>&1
check "a port in use fails" test $? -eq 1
check "... explained" grep -q "cannot be used: Address already in use" out.txt

# One cache.dir, two gateways: the second stops at once and says who holds it.
gmb_conf shared.conf "cache = { dir = \"$WORK/shared-cache\"; };" 'http = { port = 0; };'
gmb_serve first.log "$GOMABARN" serve -c shared.conf || exit 1
FIRST=$GMB_PID
want="cache.dir $WORK/shared-cache is in use by another gomabarn (pid $FIRST); give each gateway its own cache.dir"
timeout 20 "$GOMABARN" serve -c shared.conf >second.log 2>&1
check "a second serve on the same cache.dir exits 1" test $? -eq 1
check "... naming the directory and the holder's pid" grep -qF "gomabarn serve: $want" second.log
gmb_conf shared-mount.conf "cache = { dir = \"$WORK/shared-cache\"; };" "mount = { path = \"$WORK/mnt\"; };"
timeout 20 "$GOMABARN" mount -c shared-mount.conf >mount.log 2>&1
check "gomabarn mount on it exits non-zero" test $? -ne 0
check "... with the same words" grep -qF "$want" mount.log
"$GOMABARN" check -c shared.conf >out.txt 2>&1
check "check fails on it" test $? -eq 1
check "... explained" grep -qF "FAIL  $want" out.txt
check "the first gateway still serves" curl -sf "http://127.0.0.1:$GMB_PORT/healthz" -o /dev/null
gmb_stop "$FIRST"
check "... and stops cleanly (exit 0)" test $? -eq 0
timeout 20 "$GOMABARN" check -c shared.conf >out.txt 2>&1
check "once it stopped, check does not complain" eval '! grep -q "in use by another gomabarn" out.txt'

check_report
