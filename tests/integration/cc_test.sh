#!/usr/bin/env bash
# gomabarn-cc -> gomabarn serve -> Buildbarn, on both instance names:
# `make CC="gomabarn-cc gcc"` builds the sample with objects equal to local
# compiles; dependency files; a missing-input round trip; a source over
# 2 MiB sent as chunks; a compile error; local fallback when the gateway is
# down, and the refusal when fallback is off.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$1
CC_BIN=$2
REPO=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-cc-XXXXXX)
SERVE=
trap '[ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
. "$HERE/check.sh"
IMAGE=$(sed -n 's/^ *container_image = "\(.*\)";/\1/p' "$REPO/config/gomabarn.conf.example")
printf 'http = { port = 0; };\ncache = { dir = "%s/cache"; };\nplatform = { container_image = "%s"; };\n' "$WORK" "$IMAGE" >serve.conf
"$GOMABARN" serve --config serve.conf 2>serve.log &
SERVE=$!
for _ in $(seq 50); do grep -q "listening on" serve.log && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' serve.log | head -1)
export GOMABARN_SERVER=127.0.0.1:$PORT
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
check "... and no fallback" sh -c "! grep -q 'locally instead' cc.err"
cd ..

kill "$SERVE"; wait "$SERVE" 2>/dev/null; SERVE=
echo "int fb(void) { return 5; }" >fb.c
$CC -c fb.c -o fb.o 2>cc.err
check "gateway down: falls back to a local compile" test $? -eq 0 -a -f fb.o
check "... and says so" grep -q "compiling fb.c locally instead" cc.err
rm -f fb.o
GOMABARN_FALLBACK=0 $CC -c fb.c -o fb.o 2>cc.err
check "gateway down, fallback off: fails" test $? -ne 0 -a ! -f fb.o

check_report
