#!/usr/bin/env bash
# gomabarn-cc -> gomabarn serve -> Buildbarn, on both instance names:
# `make CC="gomabarn-cc gcc"` builds the sample with objects equal to local
# compiles; dependency files; a missing-input round trip; a source over
# 2 MiB sent as chunks; a compile error; toolchain_included compiles
# (GOMABARN_TOOLCHAIN_INCLUDED=1: the compiler, cc1 and as shipped, run
# from .gomabarn-toolchain/ in the input root, seen through the mount);
# routing rules; 32 concurrent readers of one blob through the mount cause
# one fetch (from /metrics); local fallback when the gateway is down, and the refusal
# when fallback is off. Racing and deadlines: cc_race_test.sh.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$1
CC_BIN=$2
REPO=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-cc-XXXXXX)
. "$REPO/tests/lib/mount.sh"
trap 'gmb_stop_all; gmb_unmount "$WORK/mnt"; rm -rf "$WORK"' EXIT
cd "$WORK"
. "$HERE/check.sh"
# Requests from compiler "cc" go to fuse by a routing rule.
gmb_conf serve.conf 'http = { port = 0; };' "cache = { dir = \"$WORK/cache\"; };" \
    "mount = { enabled = true; path = \"$WORK/mnt\"; };" 'routing = { rules = ["compiler=cc -> fuse"]; };'
gmb_serve serve.log "$GOMABARN" serve --config serve.conf || exit 1
SERVE=$GMB_PID PORT=$GMB_PORT
export GOMABARN_SERVER=127.0.0.1:$PORT
export XDG_CACHE_HOME="$WORK/xdg"   # learned local compile times: this run's only
CC="$CC_BIN gcc"

for instance in hardlinking fuse; do
    mkdir "$instance" "$instance-local"
    cp "$REPO"/tests/data/sample/* "$instance/"
    cp "$REPO"/tests/data/sample/* "$instance-local/"
    GOMABARN_INSTANCE=$instance make -s -C "$instance" CC="$CC" CFLAGS="-O2 -MMD" >/dev/null 2>make.err
    check "$instance: make CC=\"gomabarn-cc gcc\" builds" test $? -eq 0
    make -s -C "$instance-local" >/dev/null
    for o in main greet sum; do
        check "$instance: $o.o equals the local compile" cmp -s "$instance/$o.o" "$instance-local/$o.o"
    done
    check "$instance: the program runs" sh -c "'$instance/prog' | grep -q 5050"
    check "$instance: main.d lists greet.h" grep -q "main.o: main.c greet.h" "$instance/main.d"
done

# toolchain_included: the client ships gcc, its cc1 and as.
for instance in hardlinking fuse; do
    mkdir "tc-$instance" && cd "tc-$instance"
    # A fresh source each run: an action cache hit would not show the upload.
    printf '#include <stddef.h>\nsize_t shipped_%s(void) { return sizeof(ptrdiff_t); } /* %s */\n' "$instance" "$WORK" >tc.c
    GOMABARN_INSTANCE=$instance GOMABARN_FALLBACK=0 GOMABARN_VERBOSE=1 GOMABARN_TOOLCHAIN_INCLUDED=1 \
        $CC -O2 -c tc.c -o tc.o 2>cc.err
    check "$instance: a toolchain_included compile succeeds" test $? -eq 0
    check "... the client sent toolchain specs" grep -q "toolchain_included: .* the first /usr/bin/gcc" cc.err
    gcc -O2 -c tc.c -o tc.local.o
    check "... the object equals a local compile" cmp -s tc.o tc.local.o
    digest=$(sed -n "s|.*action \([0-9a-f]*\)/\([0-9]*\) on \"$instance\".*|\1-\2|p" ../serve.log | tail -1)
    action="$WORK/mnt/by-instance/$instance/$digest"
    check "... argv[0] is the shipped gcc in the input root" \
        grep -q '"arguments": \[".gomabarn-toolchain/usr/bin/gcc"' "$action/command.json"
    check "... gcc's symlinks are kept" test "$(readlink "$action/input/.gomabarn-toolchain/usr/bin/gcc")" = gcc-12
    check "... cc1 is staged executable where the driver looks" \
        test -x "$action/input/.gomabarn-toolchain/usr/lib/gcc/x86_64-linux-gnu/12/cc1"
    check "... its own headers too (stddef.h)" \
        test -f "$action/input/.gomabarn-toolchain/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h"
    # requests/<goma request id> leads to the action; the listing is never
    # cached (the second pass sees the newer request).
    request=$(cd "$WORK/mnt/requests" && for n in *:tc.o; do
        [ "$(readlink "$n")" = "../by-instance/$instance/$digest" ] && echo "$n"; done)
    check "... requests/ lists it as a link to by-instance/$instance/<action>" test -n "$request"
    check "... the request's link opens the action" \
        cmp -s "$WORK/mnt/requests/$request/command.json" "$action/command.json"
    cd ..
done

# Routing: "compiler=cc -> fuse" sends `cc` compiles to fuse.
echo "int routed(void) { return 8; } /* $WORK */" >routed.c
GOMABARN_FALLBACK=0 "$CC_BIN" cc -c routed.c -o routed.o 2>cc.err
check "a compile routed by a rule succeeds" test $? -eq 0
check "... on the rule's instance name" grep -q 'on "fuse"' <(grep "routed\|action" serve.log | tail -1)

# 32 concurrent readers of one blob the gateway has never held, through
# its mount: exactly one fetch from Buildbarn, read from /metrics.
head -c $((8 * 1024 * 1024)) /dev/urandom >shared.bin
gmb_conf uploader.conf "cache = { dir = \"$WORK/cache-uploader\"; };"
"$GOMABARN" remote-run -q --config uploader.conf --no-cache -i shared.bin -- /bin/true
check "a blob uploaded by another client" test $? -eq 0
fetches() { curl -fsS "http://127.0.0.1:$PORT/metrics" | sed -n 's/^gomabarn_cache_fetches_total \([0-9]*\)$/\1/p'; }
before=$(fetches)
SHARED="$WORK/mnt/cas/hardlinking/blobs/sha256/file/$(gmb_digest shared.bin)"
for i in $(seq 32); do (cmp -s "$SHARED" shared.bin && echo ok >"reader$i") & done
wait $(jobs -p | grep -v "^$SERVE$") 2>/dev/null
check "32 concurrent readers through the mount got the bytes" test "$(cat reader* 2>/dev/null | grep -c ok)" -eq 32
check "... with exactly one fetch (gomabarn_cache_fetches_total $before -> $(fetches))" test "$(($(fetches) - before))" -eq 1

# A file bigger than goma's embedding threshold goes by key first.
mkdir big && cd big
{ echo "/* $(head -c 3000 /dev/urandom | base64 -w0) */"; echo "int medium(void) { return 3; }"; } >medium.c
GOMABARN_VERBOSE=1 $CC -c medium.c -o medium.o 2>cc.err
check "missing-input round trip compiles" test $? -eq 0
check "... after the gateway asked for the file" grep -q "inputs missing on the gateway; sending them" cc.err
gcc -c medium.c -o medium.local.o
check "... and the object equals a local compile" cmp -s medium.o medium.local.o

{ echo "/*"; head -c $((3 * 1024 * 1024)) /dev/urandom | base64 -w 100; echo "*/"; echo "int huge(void) { return 4; }"; } >huge.c
$CC -c huge.c -o huge.o 2>cc.err
check "a source over 2 MiB compiles (chunks via StoreFile)" test $? -eq 0
gcc -c huge.c -o huge.local.o
check "... equal to a local compile" cmp -s huge.o huge.local.o

echo "int broken(void) { return nope; }" >broken.c
$CC -c broken.c -o broken.o 2>cc.err
check "a compile error exits non-zero" test $? -ne 0
check "... with the compiler's message" grep -q "nope" cc.err
check "... and no fallback" sh -c "! grep -q 'locally' cc.err"
cd ..

gmb_stop "$SERVE"
echo "int fb(void) { return 5; }" >fb.c
$CC -c fb.c -o fb.o 2>cc.err
check "gateway down: falls back to a local compile" test $? -eq 0 -a -f fb.o
check "... and says why" grep -q "compiling fb.c locally: cannot connect to the gateway at 127.0.0.1:$PORT" cc.err
rm -f fb.o
GOMABARN_FALLBACK=0 $CC -c fb.c -o fb.o 2>cc.err
check "gateway down, fallback off: fails" test $? -ne 0 -a ! -f fb.o

check_report
