# Sourced by fault_suite.sh: one build of the Lua tree through gomabarn-cc,
# the fault's moment, the figures of a build and the table.
#
#   build NAME [VAR=VALUE...]  start `make -j8` on a fresh copy of $LUA in the
#                              background, gomabarn-cc as CC; each build gets
#                              its own -D, so no action-cache hit from another
#   inject CMD...              the fault, once 6 compiles came back from the
#                              gateway (mid-build); sets AT (seconds into it)
#   finish_build               wait for make; sets WALL_S, REMOTE_N, LOCAL_N,
#                              RACES_N, IDENT_N, BUILD_RC
#   metric REGEX               the sum of the gateway's /metrics series matching
#   row FAULT BASE_S CRITERION CMD...   one table line; PASS when the build
#                              succeeded with every object identical to the
#                              local one, each local compile said why, and CMD
#   table                      prints the table; false when a row failed
BUILD_N=0
ROWS=()
FAILED_ROWS=0

secs_since() { echo "scale=2; ($EPOCHREALTIME - $1) / 1" | bc; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

build() {
    local name=$1
    shift
    BUILD_N=$((BUILD_N + 1))
    BUILD_DIR=$WORK/b/$name
    BUILD_LOG=$WORK/b/$name.log
    rm -rf "$BUILD_DIR" && mkdir -p "$WORK/b" && cp -r "$LUA" "$BUILD_DIR" || exit 1
    BUILD_T0=$EPOCHREALTIME
    # setsid: the build is a process group of its own, to end it whole if
    # it overruns its deadline.
    (cd "$BUILD_DIR/src" && exec setsid env "$@" make -j8 generic CC="$CC_BIN gcc -std=gnu99" \
        MYCFLAGS=-DGOMABARN_FAULT_RUN=$BUILD_N) >"$BUILD_LOG" 2>&1 </dev/null &
    BUILD_PID=$!
}

remote_lines() { grep -c "compiled on the gateway" "$BUILD_LOG" 2>/dev/null; }

wait_remote() {
    local deadline=$((SECONDS + 120))
    until [ "$(remote_lines)" -ge "$1" ]; do
        if ! kill -0 "$BUILD_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: the build did not reach $1 remote compiles before the fault (it ended, or 120 s passed)" >&2
            return 1
        fi
        sleep 0.05
    done
}

inject() {
    if wait_remote 6 && "$@"; then
        AT=$(secs_since "$BUILD_T0")
    else
        NO_FAULT=1 AT=never
    fi
}

finish_build() {
    local deadline=$((SECONDS + 900))
    while kill -0 "$BUILD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    if kill -0 "$BUILD_PID" 2>/dev/null; then
        echo "error: the build ran 900 s; killed" >&2
        kill -KILL -- "-$BUILD_PID" 2>/dev/null
    fi
    BUILD_RC=0
    wait "$BUILD_PID" || BUILD_RC=$?
    WALL_S=$(secs_since "$BUILD_T0")
    REMOTE_N=$(remote_lines)
    LOCAL_N=$(grep -cE "^gomabarn-cc: (compiled|compiling) [^ ]+ locally" "$BUILD_LOG")
    RACES_N=$(grep -c "finished first" "$BUILD_LOG")
    IDENT_N=0
    local o
    for o in "$WORK"/ref/src/*.o; do
        cmp -s "$o" "$BUILD_DIR/src/${o##*/}" && IDENT_N=$((IDENT_N + 1))
    done
    echo "build $BUILD_N: exit $BUILD_RC in $WALL_S s, $REMOTE_N remote, $LOCAL_N local ($RACES_N races won locally)," \
        "$IDENT_N/$N_OBJ objects identical"
}

metric() {
    curl -fsS --max-time 5 "http://127.0.0.1:$GW_PORT/metrics" 2>/dev/null |
        awk -v re="$1" '$1 ~ "^(" re ")$" { s += $2 } END { printf "%d\n", s }'
}

row() {
    local fault=$1 base=$2 criterion=$3 ok=1 ratio ident
    shift 3
    ratio=$(echo "scale=2; $WALL_S / $base" | bc)
    ident="yes $IDENT_N/$N_OBJ"
    [ "$IDENT_N" -eq "$N_OBJ" ] || { ident="NO $IDENT_N/$N_OBJ"; ok=0; }
    [ "$BUILD_RC" -eq 0 ] || ok=0
    # Every compile ends one way or the other, and a local one says why.
    [ $((REMOTE_N + LOCAL_N)) -eq "$N_OBJ" ] || ok=0
    "$@" || ok=0
    if [ -n "${NO_FAULT:-}" ]; then
        ok=0
        NOTES="the fault was not injected mid-build; ${NOTES:-}"
    fi
    local verdict=PASS
    [ "$ok" = 1 ] || { verdict=FAIL; FAILED_ROWS=$((FAILED_ROWS + 1)); }
    ROWS+=("$(printf '%-40s %7s %7s %6s  %-9s %6s  %-4s  %s' "$fault" "$WALL_S" "$base" "$ratio" "$ident" \
        "$REMOTE_N/$LOCAL_N" "$verdict" "$criterion${NOTES:+; $NOTES}")")
    echo "row: ${ROWS[-1]}"
    NOTES= NO_FAULT=
}

table() {
    echo
    printf '%-40s %7s %7s %6s  %-9s %6s  %-4s  %s\n' "fault" "wall s" "free s" "ratio" "identical" "rem/lo" \
        "" "criterion; notes"
    printf '%s\n' "${ROWS[@]}"
    echo "$((${#ROWS[@]} - FAILED_ROWS)) rows passed, $FAILED_ROWS failed"
    [ "$FAILED_ROWS" -eq 0 ]
}
