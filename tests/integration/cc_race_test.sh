#!/usr/bin/env bash
# gomabarn-cc never waits minutes on a stalled gateway: the whole-request
# deadline (GOMABARN_DEADLINE), racing a local compile (GOMABARN_RACE), the
# learned race delay, the words for a closed connection, and that a loser
# never leaves or corrupts files.
#
# A stalled gateway and one that dies mid-request are played by
# fake_gateway.py: a real gateway cannot be made to stall or to drop a
# request at a given moment. Everything else runs against the real gateway
# and Buildbarn.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$1
CC_BIN=$2
WORK=$(mktemp -d /tmp/gomabarn-cc-race-XXXXXX)
. "$HERE/../lib/gateway.sh"
trap 'gmb_stop_all; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK"
. "$HERE/check.sh"
export XDG_CACHE_HOME="$WORK/xdg" # learned local compile times: this test's only
unset GOMABARN_RACE GOMABARN_DEADLINE GOMABARN_FALLBACK GOMABARN_VERBOSE
export GOMABARN_BUILD_ID=race-test # one set of learned times across the directories below

fake() { # MODE: start fake_gateway.py, set FAKE to its host:port
    rm -f "$1.port"
    gmb_start "fake-$1.log" python3 "$HERE/fake_gateway.py" "$1" "$WORK/$1.port"
    gmb_wait "the fake gateway's port" "fake-$1.log" 5 test -s "$1.port" || exit 1
    FAKE=127.0.0.1:$(cat "$1.port")
}
elapsed() { echo "$EPOCHREALTIME - $T0" | bc; }
lt() { [ "$(echo "$1 < $2" | bc)" = 1 ]; }
no_leftovers() { ! ls "$1" | grep -q 'gomabarn-race\|gomabarn-cc-tmp'; }
one_line() { [ "$(grep -c "^gomabarn-cc: " "$1")" -eq 1 ]; }
# The local compiler's own object and dependency file, to compare with.
reference() { # DIR SOURCE
    (cd "$1" && gcc -O2 -MMD -c "$2.c" -o "$2.ref.o" && sed "s/$2.ref.o/$2.o/" "$2.ref.d" >"$2.expected.d")
}
source_in() { # DIR NAME: a small source with a header
    mkdir -p "$1"
    printf '#define K %s\n' "${#2}" >"$1/$2.h"
    printf '#include "%s.h"\nint %s(void) { return K; } /* %s */\n' "$2" "$2" "$WORK" >"$1/$2.c"
}

fake stall
STALL=$FAKE
fake close
CLOSE=$FAKE
fake reset
RESET=$FAKE

# 1. A stalled gateway, racing after 0.5 s: done by the local compile.
source_in s1 stalled && reference s1 stalled
T0=$EPOCHREALTIME
(cd s1 && GOMABARN_SERVER=$STALL GOMABARN_RACE=0.5 "$CC_BIN" gcc -O2 -MMD -c stalled.c -o stalled.o 2>../s1.err)
rc=$? took=$(elapsed)
check "stalled gateway, GOMABARN_RACE=0.5: the compile succeeds (in $took s)" test $rc -eq 0
check "... within about the race delay" lt "$took" 5
check "... not before it" lt 0.5 "$took"
check "... the object equals a local compile" cmp -s s1/stalled.o s1/stalled.ref.o
check "... the dependency file names the real object" cmp -s s1/stalled.d s1/stalled.expected.d
check "... one line says why" one_line s1.err
check "... in plain words" grep -q "compiled stalled.c locally: the gateway had not answered after 0.50 s" s1.err
check "... no temporary files left" no_leftovers s1
check "... the local time was learned" test "$(cat xdg/gomabarn-cc/cpu-times-* 2>/dev/null | wc -l)" -eq 1

# 2. The deadline alone (racing off): a fallback after 1 s.
source_in s2 deadline && reference s2 deadline
T0=$EPOCHREALTIME
(cd s2 && GOMABARN_SERVER=$STALL GOMABARN_RACE=0 GOMABARN_DEADLINE=1 "$CC_BIN" gcc -O2 -MMD -c deadline.c \
    -o deadline.o 2>../s2.err)
rc=$? took=$(elapsed)
check "deadline 1 s, no racing: the compile succeeds (in $took s)" test $rc -eq 0
check "... after the deadline" lt 1 "$took"
check "... and soon after it" lt "$took" 5
check "... the object equals a local compile" cmp -s s2/deadline.o s2/deadline.ref.o
check "... the dependency file is the compiler's" cmp -s s2/deadline.d s2/deadline.expected.d
check "... one line names the deadline" one_line s2.err
check "... in plain words" grep -q "compiling deadline.c locally: no answer from the gateway within the 1 s deadline (GOMABARN_DEADLINE)" s2.err
rm -f s2/deadline.o
(cd s2 && GOMABARN_SERVER=$STALL GOMABARN_FALLBACK=0 GOMABARN_DEADLINE=0.5 "$CC_BIN" gcc -c deadline.c -o deadline.o 2>../s2.err)
check "deadline, fallback off: the compile fails" test $? -ne 0 -a ! -e s2/deadline.o
check "... and says why" grep -q "did not go through the gateway (no answer from the gateway within the 0.5 s deadline" s2.err

# 3. Nothing learned yet: the default delay is 10 s; a deadline before it falls back.
rm -rf xdg-empty
T0=$EPOCHREALTIME
(cd s2 && XDG_CACHE_HOME="$WORK/xdg-empty" GOMABARN_VERBOSE=1 GOMABARN_SERVER=$STALL GOMABARN_DEADLINE=0.5 \
    "$CC_BIN" gcc -c deadline.c -o deadline.o 2>../s3.err)
check "no local time known: the race would start after 10 s" grep -q "races deadline.c after 10.00 s (no local compile time known yet)" s3.err
check "... the deadline came first" grep -q "locally: no answer from the gateway within the 0.5 s deadline" s3.err

# 4. The learned delay: the times of this build's local compiles (two so far).
source_in s4 learned && reference s4 learned
T0=$EPOCHREALTIME
(cd s4 && GOMABARN_VERBOSE=1 GOMABARN_SERVER=$STALL "$CC_BIN" gcc -O2 -MMD -c learned.c -o learned.o 2>../s4.err)
rc=$? took=$(elapsed)
check "learned delay: the compile succeeds (in $took s)" test $rc -eq 0
check "... the delay came from the local compiles before" grep -q "races learned.c after 1.00 s (learned from 2 local compiles" s4.err
check "... and it raced after it" lt "$took" 5
check "... the object equals a local compile" cmp -s s4/learned.o s4/learned.ref.o
check "... no temporary files left" no_leftovers s4
# GOMABARN_BUILD_ID picks another set of times.
(cd s4 && GOMABARN_BUILD_ID=other GOMABARN_VERBOSE=1 GOMABARN_SERVER=$STALL GOMABARN_DEADLINE=0.3 \
    "$CC_BIN" gcc -c learned.c -o learned.o 2>../s4.err)
check "GOMABARN_BUILD_ID keys its own times" grep -q "after 10.00 s (no local compile time known yet)" s4.err

# 5. Concurrent gomabarn-cc processes add their times without mixing lines.
mkdir s5 && cp s1/stalled.[ch] s5/
before=$(cat xdg/gomabarn-cc/cpu-times-* | wc -l)
(cd s5 && for i in $(seq 8); do
    GOMABARN_SERVER=$CLOSE "$CC_BIN" gcc -c stalled.c -o "p$i.o" 2>/dev/null &
done; wait)
lines=$(cat xdg/gomabarn-cc/cpu-times-*)
check "8 concurrent local compiles: 8 more times ($before -> $(echo "$lines" | wc -l))" \
    test "$(echo "$lines" | wc -l)" -eq $((before + 8))
check "... each a whole line" sh -c "! echo '$lines' | grep -vq '^[0-9]\+$'"

# 5b. What is learned is CPU time, not time on the clock: a compile that
# spends 1.5 s waiting (as one does behind seven others on two cores)
# teaches its few milliseconds of CPU, so later races are not held back.
mkdir -p s5b/bin && cp s1/stalled.[ch] s5b/
printf '#!/bin/sh\nsleep 1.5\nexec %s "$@"\n' "$(command -v gcc)" >s5b/bin/gcc && chmod +x s5b/bin/gcc
T0=$EPOCHREALTIME
(cd s5b && XDG_CACHE_HOME="$WORK/xdg-cpu" PATH="$WORK/s5b/bin:$PATH" GOMABARN_SERVER=$CLOSE \
    "$CC_BIN" gcc -c stalled.c -o slow.o 2>/dev/null)
rc=$? took=$(elapsed)
learned=$(cat xdg-cpu/gomabarn-cc/cpu-times-* 2>/dev/null)
check "a compile 1.5 s on the clock (took $took s): it succeeds" test $rc -eq 0 -a -s s5b/slow.o
check "... one time learned: its CPU time, $learned ms, well under the 1500 ms it waited" \
    test "$(echo "$learned" | wc -l)" -eq 1 -a "${learned:-99999}" -lt 1000

# 6. A gateway that closes the connection mid-request.
source_in s6 closed && reference s6 closed
T0=$EPOCHREALTIME
(cd s6 && GOMABARN_SERVER=$CLOSE "$CC_BIN" gcc -O2 -MMD -c closed.c -o closed.o 2>../s6.err)
rc=$? took=$(elapsed)
check "gateway closes the connection: the compile succeeds at once (in $took s)" test $rc -eq 0
check "... quickly" lt "$took" 3
check "... the message names the closed connection" \
    grep -q "compiling closed.c locally: the gateway closed the connection before answering" s6.err
check "... one line" one_line s6.err
check "... the object equals a local compile" cmp -s s6/closed.o s6/closed.ref.o
(cd s6 && GOMABARN_SERVER=$RESET "$CC_BIN" gcc -c closed.c -o closed.o 2>../s6.err)
check "gateway resets the connection: the compile succeeds" test $? -eq 0
check "... the message names the closed connection" \
    grep -q "compiling closed.c locally: the gateway closed the connection before answering" s6.err

# 7. A command line whose outputs cannot all be redirected does not race.
(cd s6 && GOMABARN_VERBOSE=1 GOMABARN_SERVER=$STALL GOMABARN_RACE=0.01 GOMABARN_DEADLINE=0.5 \
    "$CC_BIN" gcc -save-temps -c closed.c -o closed.o 2>../s7.err)
check "-save-temps: the compile succeeds" test $? -eq 0
check "... not raced, and the log says why" \
    grep -q "no local compile races closed.c (only the deadline applies): an option on the command line writes files" s7.err
check "... it fell back at the deadline" grep -q "within the 0.5 s deadline" s7.err

# 8. Killing gomabarn-cc while its racer runs kills the racer too and removes its files.
mkdir s8
{ for i in $(seq 6000); do echo "int f$i(int x) { return x * $i + (x >> 3) - $i % 7; }"; done; } >s8/slow.c
(cd s8 && exec env GOMABARN_SERVER=$STALL GOMABARN_RACE=0.01 "$CC_BIN" gcc -O2 -c slow.c -o slow.o 2>/dev/null) &
cc=$!
sleep 0.7
check "a slow compile is racing (temporary object being written)" sh -c "pgrep -f 'slow[.]o[.]gomabarn-race' >/dev/null"
kill -TERM $cc
wait $cc 2>/dev/null
sleep 0.3
check "SIGTERM to gomabarn-cc: the racing compiler is gone" sh -c "! pgrep -f 'slow[.]o[.]gomabarn-race' >/dev/null"
check "... and so are its temporary files" no_leftovers s8
check "... and no object was written" test ! -e s8/slow.o

# 9. The real gateway and Buildbarn: racing from the start, whoever wins, the files are right.
gmb_conf serve.conf 'http = { port = 0; };' "cache = { dir = \"$WORK/cache\"; };"
gmb_serve serve.log "$GOMABARN" serve --config serve.conf || exit 1
REAL=127.0.0.1:$GMB_PORT
for i in 1 2 3 4; do
    source_in s9 "real$i" && reference s9 "real$i"
    (cd s9 && GOMABARN_VERBOSE=1 GOMABARN_SERVER=$REAL GOMABARN_RACE=0.01 \
        "$CC_BIN" gcc -O2 -MMD -c "real$i.c" -o "real$i.o" 2>"../s9-$i.err")
    rc=$?
    won=$(grep -o "compiled on the gateway\|compiled real$i.c locally" "s9-$i.err" | tr '\n' ' ')
    check "real gateway, racing at 0.01 s, compile $i: succeeds (${won:-no outcome})" test $rc -eq 0
    check "... one outcome" test "$(grep -c "compiled on the gateway\|compiled real$i.c locally" "s9-$i.err")" -eq 1
    check "... the object equals a local compile" cmp -s "s9/real$i.o" "s9/real$i.ref.o"
    check "... the dependency file is right" cmp -s "s9/real$i.d" "s9/real$i.expected.d"
    check "... no temporary files left" no_leftovers s9
done
# Nothing learned yet: the 10 s default delay leaves the gateway the time to answer.
source_in s10 normal && reference s10 normal
(cd s10 && XDG_CACHE_HOME="$WORK/xdg-fresh" GOMABARN_VERBOSE=1 GOMABARN_SERVER=$REAL "$CC_BIN" gcc -O2 -MMD -c normal.c -o normal.o 2>../s10.err)
check "real gateway, default delay: compiled on the gateway" grep -q "normal.c compiled on the gateway (exit 0)$" s10.err
check "... no local compile started" sh -c "! grep -q 'racing a local compile\|locally' s10.err"
check "... the object equals a local compile" cmp -s s10/normal.o s10/normal.ref.o

check_report
